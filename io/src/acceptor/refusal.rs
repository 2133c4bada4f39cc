//! Why a connection was refused before it was trusted: each reason is one labelled series
//! of `rollcall_connections_refused_total{port, reason}`.

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Refusal {
    /// The port has `max_connections` open.
    PortFull,
    /// This peer address has `max_connections_per_address` open on the port.
    AddressFull,
    /// The port has `max_handshaking_connections` still in their handshake.
    HandshakesFull,
    /// This peer address has `max_handshaking_per_address` in their handshake on the port.
    AddressHandshakesFull,
    /// No Hello, upgrade or request head within the handshake deadline.
    HandshakeTimeout,
    /// A Buildbot-port peer that sent nothing at all before the deadline: PB, most likely.
    NoUpgrade,
    /// The first bytes broke the protocol (an undecodable or oversized Hello, a bad upgrade).
    BadHandshake,
    /// An HTTP request head this API refuses; the label names which rule.
    BadRequest(&'static str),
    /// A buildbot-worker's credentials were missing, undecodable or wrong.
    Credentials(&'static str),
    /// Every HTTP request slot stayed busy for the wait allowed.
    Busy,
    /// Slow HTTP clients already hold `http_max_buffered_bytes` of responses.
    ResponseBudget,
    /// The daemon already holds `max_master_sessions` master sessions.
    MasterSessionsFull,
    /// Plaintext sent to a port that speaks TLS.
    PlaintextOnTls,
    /// The TLS handshake failed (no shared version or cipher, a bad client certificate).
    TlsHandshake,
    /// With `client_ca`, a master without a certificate, or with one naming someone else.
    MasterCertificate,
}

impl Refusal {
    pub(crate) fn label(self) -> &'static str {
        match self {
            Refusal::PortFull => "port_full",
            Refusal::AddressFull => "address_full",
            Refusal::HandshakesFull => "handshakes_full",
            Refusal::AddressHandshakesFull => "address_handshakes_full",
            Refusal::HandshakeTimeout => "handshake_timeout",
            Refusal::NoUpgrade => "no_upgrade",
            Refusal::BadHandshake => "bad_handshake",
            Refusal::BadRequest(label) | Refusal::Credentials(label) => label,
            Refusal::Busy => "busy",
            Refusal::ResponseBudget => "response_budget",
            Refusal::MasterSessionsFull => "master_sessions_full",
            Refusal::PlaintextOnTls => "plaintext_on_tls",
            Refusal::TlsHandshake => "tls_handshake",
            Refusal::MasterCertificate => "master_certificate",
        }
    }

    pub(crate) fn describe(self) -> &'static str {
        match self {
            Refusal::PortFull => "the port is at its connection limit",
            Refusal::AddressFull => "this address is at its connection limit",
            Refusal::HandshakesFull => "the port is at its limit of connections in handshake",
            Refusal::AddressHandshakesFull => {
                "this address is at its limit of connections in handshake"
            }
            Refusal::HandshakeTimeout => "no handshake before the deadline",
            Refusal::NoUpgrade => "no WebSocket upgrade before the deadline",
            Refusal::BadHandshake => "a bad handshake",
            Refusal::BadRequest(_) => "a request this port does not serve",
            Refusal::Credentials(_) => "buildbot worker refused",
            Refusal::Busy => "every request slot stayed busy",
            Refusal::ResponseBudget => "slow clients hold the limit of response bytes",
            Refusal::MasterSessionsFull => "the daemon is at its limit of master sessions",
            Refusal::PlaintextOnTls => "plaintext on a TLS port",
            Refusal::TlsHandshake => "the TLS handshake failed",
            Refusal::MasterCertificate => "the master's client certificate does not name it",
        }
    }
}
