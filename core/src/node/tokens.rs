//! Remote masters' tokens: who may open a session, proven by a token whose SHA-256 digest
//! the configuration lists (up to four per master, for rotation). The transport hashes
//! what a peer offers; the Node compares it against four digest slots whatever the name
//! (stand-ins fill the slots of an unknown name), and each comparison takes the same time
//! wherever the digests differ, so a peer learns nothing from timing about how close its
//! guess was, and next to nothing about which names exist (the name's lookup is the one
//! step whose time depends on it).

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

/// The most token digests one master may have configured at once.
pub const MAX_TOKENS_PER_MASTER: usize = 4;

/// The SHA-256 digest of a master token. Its `Debug` form is redacted: a digest of a
/// 256-bit random token is no secret, but a log never needs it either.
#[derive(Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
pub struct TokenDigest(pub [u8; 32]);

impl std::fmt::Debug for TokenDigest {
    fn fmt(&self, formatter: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        formatter.write_str("TokenDigest(<redacted>)")
    }
}

/// The configured masters and their token digests, by name.
pub type MasterTokens = BTreeMap<String, Vec<TokenDigest>>;

/// Whether `offered` is one of the digests configured for `name`. The same work for an
/// unknown name as for a wrong token: every one of the slots is compared.
pub fn token_matches(tokens: &MasterTokens, name: &str, offered: &TokenDigest) -> bool {
    const STAND_IN: TokenDigest = TokenDigest([0x5a; 32]);
    let configured = tokens.get(name).map_or(&[][..], Vec::as_slice);
    let mut matched = 0_u8;
    for slot in 0..MAX_TOKENS_PER_MASTER {
        let (candidate, real) = match configured.get(slot) {
            Some(digest) => (digest, 1_u8),
            None => (&STAND_IN, 0_u8),
        };
        let difference = candidate.0.iter().zip(&offered.0).fold(0_u8, |acc, (a, b)| acc | (a ^ b));
        let equal = 1 ^ ((difference | difference.wrapping_neg()) >> 7);
        matched |= equal & real;
    }
    std::hint::black_box(matched) == 1
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A configured digest matches under its own name only; an unknown name, a wrong digest
    /// and a stand-in slot never do.
    #[test]
    fn only_a_configured_digest_under_its_own_name_matches() {
        let (one, two) = (TokenDigest([1; 32]), TokenDigest([2; 32]));
        let tokens: MasterTokens = [("m".to_string(), vec![one, two])].into_iter().collect();
        assert!(token_matches(&tokens, "m", &one));
        assert!(token_matches(&tokens, "m", &two));
        assert!(!token_matches(&tokens, "m", &TokenDigest([3; 32])));
        assert!(!token_matches(&tokens, "other", &one));
        assert!(!token_matches(&tokens, "m", &TokenDigest([0x5a; 32])));
        assert!(!token_matches(&MasterTokens::new(), "m", &TokenDigest([0x5a; 32])));
    }

    /// The redacted form never shows a digest byte.
    #[test]
    fn debug_form_is_redacted() {
        assert_eq!(format!("{:?}", TokenDigest([0xab; 32])), "TokenDigest(<redacted>)");
    }
}
