//! The `[[workers]]` and `[[builders]]` entries: checked here against every rule that
//! `rollcall_core::Roster::new` enforces, so that `Config::roster()` cannot fail, plus the
//! cross-references between the two lists.

use std::collections::{HashMap, HashSet};

use toml::Spanned;

use super::error::Origin;
use super::file::{BuilderEntry, WorkerEntry};
use rollcall_core::MAX_NAME_BYTES;

use super::position::Position;
use super::problem::{ConfigProblem, EntryKind};
use super::{BuilderSection, ConfigError, WorkerSection};
use crate::credentials::{digest_from_hex, sha256};

// rollcall-core keeps its limits crate-private; these are copied from its limits.rs.

/// The most worker names, and the most builder names, that a master may configure: the
/// daemon declares each list to the Registry in one command, which takes at most this many
/// names (the core's MAX_NAMES_PER_COMMAND). It also keeps the roster within the Gateway's
/// limits of 1,000,000 workers and of MAX_BUILDERS_PER_WORKER builders for one worker.
pub(crate) const MAX_NAMES_CONFIGURED: usize = 10_000;
/// The most builders one worker may serve, in the Gateway.
pub(crate) const MAX_BUILDERS_PER_WORKER: usize = 10_000;
/// The longest password the Gateway accepts, in bytes.
pub(crate) const MAX_PASSWORD_BYTES: usize = 1024;

// A worker is served by at most every builder once (a builder naming it twice is refused),
// so capping the builders caps each worker's list.
const _: () = assert!(MAX_NAMES_CONFIGURED <= MAX_BUILDERS_PER_WORKER);

pub(crate) fn workers_and_builders(
    worker_entries: &[WorkerEntry],
    builder_entries: &[BuilderEntry],
    origin: &Origin<'_>,
) -> Result<(Vec<WorkerSection>, Vec<BuilderSection>), ConfigError> {
    let workers = workers(worker_entries, origin)?;
    let builders = builders(builder_entries, &workers, origin)?;
    Ok((workers, builders))
}

fn workers(
    entries: &[WorkerEntry],
    origin: &Origin<'_>,
) -> Result<Vec<WorkerSection>, ConfigError> {
    check_entry_count(
        EntryKind::Worker,
        entries.get(MAX_NAMES_CONFIGURED).map(|entry| &entry.name),
        origin,
    )?;
    let mut first_seen: HashMap<&str, &Spanned<String>> = HashMap::new();
    let mut workers = Vec::with_capacity(entries.len());
    for entry in entries {
        let name = &entry.name;
        check_entry_name(EntryKind::Worker, name, &first_seen, origin)?;
        // Buildbot usernames cannot contain ':', so such a worker could never attach
        // through listen.buildbot_workers.
        if name.get_ref().contains(':') {
            let problem = ConfigProblem::WorkerNameWithColon { worker: name.get_ref().clone() };
            return Err(origin.error_at(&name.span(), problem));
        }
        let password_sha256 = match (&entry.password, &entry.password_sha256) {
            (Some(password), None) => {
                if password.get_ref().0.len() > MAX_PASSWORD_BYTES {
                    let problem = ConfigProblem::PasswordTooLong {
                        worker: name.get_ref().clone(),
                        limit: MAX_PASSWORD_BYTES,
                    };
                    return Err(origin.error_at(&password.span(), problem));
                }
                sha256(password.get_ref().0.as_bytes())
            }
            (None, Some(digest)) => digest_from_hex(digest.get_ref())
                .ok_or_else(|| origin.error_at(&digest.span(), ConfigProblem::BadPasswordDigest))?,
            (Some(password), Some(_)) => {
                let problem = ConfigProblem::BothPasswordForms { worker: name.get_ref().clone() };
                return Err(origin.error_at(&password.span(), problem));
            }
            (None, None) => {
                let problem = ConfigProblem::NoPassword { worker: name.get_ref().clone() };
                return Err(origin.error_at(&name.span(), problem));
            }
        };
        first_seen.insert(name.get_ref(), name);
        workers.push(WorkerSection { name: name.get_ref().clone(), password_sha256 });
    }
    Ok(workers)
}

fn builders(
    entries: &[BuilderEntry],
    workers: &[WorkerSection],
    origin: &Origin<'_>,
) -> Result<Vec<BuilderSection>, ConfigError> {
    let configured: HashSet<&str> = workers.iter().map(|worker| worker.name.as_str()).collect();
    check_entry_count(
        EntryKind::Builder,
        entries.get(MAX_NAMES_CONFIGURED).map(|entry| &entry.name),
        origin,
    )?;
    let mut first_seen: HashMap<&str, &Spanned<String>> = HashMap::new();
    let mut builders = Vec::with_capacity(entries.len());
    for entry in entries {
        let name = &entry.name;
        check_entry_name(EntryKind::Builder, name, &first_seen, origin)?;
        first_seen.insert(name.get_ref(), name);
        let mut listed: HashMap<&str, &Spanned<String>> = HashMap::new();
        for worker in &entry.workernames {
            if !configured.contains(worker.get_ref().as_str()) {
                let problem = ConfigProblem::UnknownWorker {
                    builder: name.get_ref().clone(),
                    worker: worker.get_ref().clone(),
                };
                return Err(origin.error_at(&worker.span(), problem));
            }
            if let Some(first) = listed.insert(worker.get_ref(), worker) {
                let problem = ConfigProblem::WorkerListedTwice {
                    builder: name.get_ref().clone(),
                    worker: worker.get_ref().clone(),
                    first_line: line_of(first, origin),
                };
                return Err(origin.error_at(&worker.span(), problem));
            }
        }
        builders.push(BuilderSection {
            name: name.get_ref().clone(),
            workernames: entry.workernames.iter().map(|worker| worker.get_ref().clone()).collect(),
        });
    }
    Ok(builders)
}

/// Non-empty, within the name limit, and not already used by an earlier entry of its kind.
/// Names that reach the Registry or the Gateway are bounded there; refusing them here says
/// where.
pub(super) fn check_entry_name(
    kind: EntryKind,
    name: &Spanned<String>,
    first_seen: &HashMap<&str, &Spanned<String>>,
    origin: &Origin<'_>,
) -> Result<(), ConfigError> {
    let bytes = name.get_ref().len();
    let problem = if bytes == 0 {
        ConfigProblem::EmptyEntryName { kind }
    } else if bytes > MAX_NAME_BYTES {
        ConfigProblem::EntryNameTooLong { kind, bytes }
    } else if let Some(first) = first_seen.get(name.get_ref().as_str()) {
        ConfigProblem::DuplicateEntry {
            kind,
            name: name.get_ref().clone(),
            first_line: line_of(first, origin),
        }
    } else {
        return Ok(());
    };
    Err(origin.error_at(&name.span(), problem))
}

/// Refuses the list at its first entry past the limit, when there is one.
fn check_entry_count(
    kind: EntryKind,
    first_over_limit: Option<&Spanned<String>>,
    origin: &Origin<'_>,
) -> Result<(), ConfigError> {
    match first_over_limit {
        Some(name) => Err(origin.error_at(
            &name.span(),
            ConfigProblem::TooManyEntries { kind, limit: MAX_NAMES_CONFIGURED },
        )),
        None => Ok(()),
    }
}

fn line_of(value: &Spanned<String>, origin: &Origin<'_>) -> usize {
    Position::of_offset(origin.text, value.span().start).line
}
