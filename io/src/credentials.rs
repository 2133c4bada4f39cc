//! Secrets as the daemon keeps them: master tokens only as their SHA-256, compared in
//! constant time after the same work whatever the outcome, and new tokens from the OS's
//! random source.

use ring::rand::SecureRandom;

/// What every master token starts with, so a leaked one is recognisable (secret scanners,
/// logs) and never mistaken for a worker password.
pub const TOKEN_PREFIX: &str = "rcm_";

/// Random bytes in a new token: 256 bits.
const TOKEN_RANDOM_BYTES: usize = 32;

/// The most token digests one master may have configured at once (the Node's limit).
pub use rollcall_core::node::MAX_TOKENS_PER_MASTER;

/// A master token as it travels in a Hello: kept out of `Debug` output and logs.
#[derive(Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct Token(String);

impl Token {
    pub fn new(text: impl Into<String>) -> Token {
        Token(text.into())
    }

    pub(crate) fn text(&self) -> &str {
        &self.0
    }
}

impl std::fmt::Debug for Token {
    fn fmt(&self, formatter: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        formatter.write_str("Token(<redacted>)")
    }
}

/// A SHA-256 digest.
pub type Digest = [u8; 32];

pub fn sha256(bytes: &[u8]) -> Digest {
    let digest = ring::digest::digest(&ring::digest::SHA256, bytes);
    let mut out = [0_u8; 32];
    out.copy_from_slice(digest.as_ref());
    out
}

/// Lower-case hex.
pub fn hex(bytes: &[u8]) -> String {
    const DIGITS: &[u8; 16] = b"0123456789abcdef";
    let mut text = String::with_capacity(bytes.len() * 2);
    for byte in bytes {
        text.push(char::from(DIGITS[usize::from(byte >> 4)]));
        text.push(char::from(DIGITS[usize::from(byte & 0x0f)]));
    }
    text
}

/// The value of one hex digit (either case); also what percent-decoding reads.
pub(crate) fn hex_digit(byte: u8) -> Option<u8> {
    match byte {
        b'0'..=b'9' => Some(byte - b'0'),
        b'a'..=b'f' => Some(byte - b'a' + 10),
        b'A'..=b'F' => Some(byte - b'A' + 10),
        _ => None,
    }
}

/// A digest from 64 hex digits (either case); `None` for anything else.
pub fn digest_from_hex(text: &str) -> Option<Digest> {
    let bytes = text.as_bytes();
    if bytes.len() != 64 {
        return None;
    }
    let mut digest = [0_u8; 32];
    for (index, pair) in bytes.chunks_exact(2).enumerate() {
        digest[index] = hex_digit(pair[0])? << 4 | hex_digit(pair[1])?;
    }
    Some(digest)
}

/// What the Gateway compares for a worker password: the hex of its SHA-256, the same form
/// whether the configuration gave the password in clear or hashed. Every offered password
/// is turned into this before the Gateway sees it, so the plaintext never reaches the core,
/// a recorded trace or the replay, and every comparison is of two 64-byte strings.
pub fn password_key(offered: &str) -> rollcall_core::Password {
    password_key_from_digest(&sha256(offered.as_bytes()))
}

pub fn password_key_from_digest(digest: &Digest) -> rollcall_core::Password {
    rollcall_core::Password::new(hex(digest))
}

/// A fresh master token: the prefix and 32 random bytes in hex.
///
/// # Errors
///
/// When the OS's random source fails.
pub fn new_master_token() -> Result<String, String> {
    let mut random = [0_u8; TOKEN_RANDOM_BYTES];
    ring::rand::SystemRandom::new()
        .fill(&mut random)
        .map_err(|_| "the system's random source failed".to_string())?;
    Ok(format!("{TOKEN_PREFIX}{}", hex(&random)))
}

/// A master token from the first line of `path` (what `rollcall token new` prints first).
///
/// # Errors
///
/// When the file cannot be read or its first line is empty.
pub fn read_token_file(path: &std::path::Path) -> Result<Token, String> {
    let text = std::fs::read_to_string(path)
        .map_err(|error| format!("cannot read the token file {}: {error}", path.display()))?;
    token_from_text(&text)
}

/// A master token from the first line of `text`.
///
/// # Errors
///
/// When that line is empty.
pub fn token_from_text(text: &str) -> Result<Token, String> {
    let token = text.lines().next().unwrap_or_default().trim();
    if token.is_empty() {
        return Err("the master token is empty".into());
    }
    Ok(Token::new(token))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sha256_and_hex_agree_with_the_standard_vector() {
        assert_eq!(
            hex(&sha256(b"abc")),
            "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"
        );
        let digest = sha256(b"abc");
        assert_eq!(digest_from_hex(&hex(&digest)), Some(digest));
        assert_eq!(digest_from_hex(&hex(&digest).to_uppercase()), Some(digest));
        assert_eq!(digest_from_hex("abc"), None);
        assert_eq!(digest_from_hex(&"g".repeat(64)), None);
    }

    #[test]
    fn new_tokens_are_prefixed_random_and_long() {
        let (first, second) =
            (new_master_token().expect("random"), new_master_token().expect("random"));
        assert!(first.starts_with(TOKEN_PREFIX));
        assert_eq!(first.len(), TOKEN_PREFIX.len() + 64);
        assert_ne!(first, second);
    }

    /// The digest the daemon makes of an offered token is what the Node's rule compares:
    /// only a configured token, under its own master's name, gets in.
    #[test]
    fn a_token_matches_only_a_configured_digest() {
        use rollcall_core::node::{token_matches, MasterTokens, TokenDigest};
        let offered = |text: &str| TokenDigest(sha256(text.as_bytes()));
        let digests = vec![offered("rcm_old"), offered("rcm_new")];
        let tokens: MasterTokens = [("m".to_string(), digests)].into_iter().collect();
        assert!(token_matches(&tokens, "m", &offered("rcm_old")));
        assert!(token_matches(&tokens, "m", &offered("rcm_new")));
        assert!(!token_matches(&tokens, "m", &offered("rcm_other")));
        assert!(!token_matches(&tokens, "other", &offered("rcm_old")));
        assert!(!token_matches(&MasterTokens::new(), "m", &offered("")));
    }
}
