use serde::{Deserialize, Serialize};

/// A worker's password. Its `Debug` form is redacted so that it never reaches a log.
#[derive(Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(transparent)]
pub struct Password(String);

impl Password {
    pub fn new(secret: impl Into<String>) -> Self {
        Password(secret.into())
    }

    /// The secret itself, for the daemon to hash before the Gateway compares; never log it.
    pub fn expose_secret(&self) -> &str {
        &self.0
    }

    pub(crate) fn len(&self) -> usize {
        self.0.len()
    }

    /// Compares in time that depends only on the lengths, never on where the bytes differ,
    /// so that a remote peer cannot guess a password byte by byte from reply times.
    pub fn matches(&self, offered: &Password) -> bool {
        constant_time_eq(self.0.as_bytes(), offered.0.as_bytes())
    }
}

impl std::fmt::Debug for Password {
    fn fmt(&self, formatter: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        formatter.write_str("Password(<redacted>)")
    }
}

fn constant_time_eq(expected: &[u8], offered: &[u8]) -> bool {
    let mut difference = u8::from(expected.len() != offered.len());
    for (index, byte) in offered.iter().enumerate() {
        let expected_byte = expected.get(index % expected.len().max(1)).copied().unwrap_or(0);
        difference |= expected_byte ^ byte;
    }
    std::hint::black_box(difference) == 0
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn equal_passwords_match_and_any_difference_does_not() {
        let secret = Password::new("s3cret");
        assert!(secret.matches(&Password::new("s3cret")));
        assert!(!secret.matches(&Password::new("s3creT")));
        assert!(!secret.matches(&Password::new("s3cre")));
        assert!(!secret.matches(&Password::new("s3crett")));
        assert!(!secret.matches(&Password::new("")));
        assert!(Password::new("").matches(&Password::new("")));
        assert!(!Password::new("").matches(&Password::new("x")));
    }

    #[test]
    fn debug_form_never_shows_the_secret() {
        let shown = format!("{:?}", Password::new("hunter2"));
        assert!(!shown.contains("hunter2"), "{shown}");
    }
}
