//! The names a verified client certificate carries: its DNS and URI subject alternative
//! names, which is where a master's name must appear for mutual TLS.

use rustls_pki_types::CertificateDer;

/// The subject alternative names of a verified leaf certificate that can name a master.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub(crate) struct CertificateNames {
    pub(crate) dns: Vec<String>,
    pub(crate) uri: Vec<String>,
}

impl CertificateNames {
    /// The DNS and URI SANs of `certificate` (a leaf that rustls already verified). A
    /// certificate webpki cannot parse names nothing.
    pub(crate) fn of(certificate: &CertificateDer<'_>) -> CertificateNames {
        let Ok(certificate) = webpki::EndEntityCert::try_from(certificate) else {
            return CertificateNames::default();
        };
        CertificateNames {
            dns: certificate.valid_dns_names().map(str::to_owned).collect(),
            uri: certificate.valid_uri_names().map(str::to_owned).collect(),
        }
    }

    /// Whether the certificate speaks for the master `master`: a URI SAN equal to the name
    /// byte for byte, or a DNS SAN equal to it ignoring ASCII case (DNS names have no case).
    /// A wildcard DNS name matches only a master literally named so: one certificate
    /// speaks for one master.
    pub(crate) fn names_master(&self, master: &str) -> bool {
        self.uri.iter().any(|uri| uri == master)
            || self.dns.iter().any(|dns| dns.eq_ignore_ascii_case(master))
    }

    /// For refusals: what the certificate does name.
    pub(crate) fn describe(&self) -> String {
        let names: Vec<&str> = self.dns.iter().chain(&self.uri).map(String::as_str).collect();
        if names.is_empty() {
            "no DNS or URI name".into()
        } else {
            names.join(", ")
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_master_is_named_by_an_exact_uri_or_a_dns_name_in_any_case() {
        let names = CertificateNames {
            dns: vec!["build2.example".into()],
            uri: vec!["build2:/srv/rollcall".into()],
        };
        assert!(names.names_master("build2:/srv/rollcall"));
        assert!(!names.names_master("BUILD2:/srv/rollcall"));
        assert!(names.names_master("BUILD2.example"));
        assert!(!names.names_master("build2"));
        assert!(!names.names_master("build2:/srv"));
        assert!(!CertificateNames::default().names_master("build2"));
    }
}
