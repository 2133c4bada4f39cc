//! `[[masters]]`: the remote masters allowed to register, each with the SHA-256 of its
//! tokens (never a token itself: the file need not hold a secret).

use std::collections::HashMap;

use toml::Spanned;

use super::error::Origin;
use super::file::MasterEntry;
use super::problem::{ConfigProblem, EntryKind};
use super::{validate_roster, ConfigError, RemoteMasterSection};
use crate::credentials::{digest_from_hex, MAX_TOKENS_PER_MASTER};

/// The most remote masters one file may configure.
const MAX_MASTERS_CONFIGURED: usize = 10_000;

pub(crate) fn masters(
    entries: &[MasterEntry],
    own_name: &str,
    origin: &Origin<'_>,
) -> Result<Vec<RemoteMasterSection>, ConfigError> {
    let mut first_seen: HashMap<&str, &Spanned<String>> = HashMap::new();
    let mut masters = Vec::with_capacity(entries.len());
    for (index, entry) in entries.iter().enumerate() {
        let name = &entry.name;
        if index >= MAX_MASTERS_CONFIGURED {
            let problem = ConfigProblem::TooManyEntries {
                kind: EntryKind::Master,
                limit: MAX_MASTERS_CONFIGURED,
            };
            return Err(origin.error_at(&name.span(), problem));
        }
        validate_roster::check_entry_name(EntryKind::Master, name, &first_seen, origin)?;
        if name.get_ref() == own_name {
            let problem = ConfigProblem::OwnMasterName { master: name.get_ref().clone() };
            return Err(origin.error_at(&name.span(), problem));
        }
        first_seen.insert(name.get_ref(), name);
        let tokens = entry.token_sha256.get_ref();
        if tokens.is_empty() || tokens.len() > MAX_TOKENS_PER_MASTER {
            let problem = ConfigProblem::TokenCount { master: name.get_ref().clone() };
            return Err(origin.error_at(&entry.token_sha256.span(), problem));
        }
        let mut token_sha256 = Vec::with_capacity(tokens.len());
        for token in tokens {
            let digest = digest_from_hex(token.get_ref())
                .ok_or_else(|| origin.error_at(&token.span(), ConfigProblem::BadTokenDigest))?;
            token_sha256.push(digest);
        }
        masters.push(RemoteMasterSection { name: name.get_ref().clone(), token_sha256 });
    }
    Ok(masters)
}
