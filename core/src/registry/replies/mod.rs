//! Exactly-once answers to remote masters' requests (docs/cluster.md, "Exactly-once
//! replies"). A master that lost its connection before a reply came, to a daemon that
//! restarted or a cluster leader that was replaced, sends the request again with the same
//! `request_id`; the Registry answers it with what the first time committed instead of
//! running it again, so a retried submit never makes a second build request and a retried
//! claim is never refused as already claimed.
//!
//! The replies live in the Registry, so a cluster's log carries them to every standby
//! (each is fed the same [`LoggedInput::Request`]s) and a new leader answers retries of
//! its predecessor's requests. A single node keeps them in memory only: across its own
//! restart, a retry runs again.
//!
//! A retry is recognised by the master's name, the `request_id` and a digest of the
//! command: a new process of the same master that starts its ids over sends other
//! commands under old ids, and those run. rollcall's clients start their ids at a random
//! number (`io/src/client/request_ids.rs`), so even the same command is not mistaken for
//! a retry. `MasterActive` always runs: it is the heartbeat, running it again is harmless,
//! and answering it from memory would skip the heartbeat of a client that reuses ids.

use std::collections::{BTreeMap, VecDeque};

use serde::{Deserialize, Serialize};
use std::hash::{Hash, Hasher};

use super::{Command, CommandError, LoggedInput, Registry, RegistryInput, RegistryOutput, Reply};
use crate::fast_hash::FxHasher;
use crate::invariant::ensure;
use crate::{InvariantViolation, Timestamp};

/// How many answers are kept per master: the requests a master may have in flight when
/// its connection is lost, and far more than rollcall's clients pipeline.
pub const MAX_REMEMBERED_REPLIES_PER_MASTER: usize = 64;

/// Who sent a request, and its id: the key of its answer.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct RequestKey {
    /// The name the master's session proved with its token.
    pub master: String,
    pub request_id: u64,
}

#[derive(Clone, Debug, PartialEq, Eq)]
struct Remembered {
    request_id: u64,
    command_digest: u64,
    result: Result<Reply, CommandError>,
}

/// The answers kept for one master, oldest first: how a snapshot carries them.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct MasterAnswers {
    pub master: String,
    pub answers: Vec<KeptAnswer>,
}

/// One kept answer.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct KeptAnswer {
    pub request_id: u64,
    pub command_digest: u64,
    pub result: Result<Reply, CommandError>,
}

/// The last answers to each master, oldest first.
#[derive(Debug, Default)]
pub(super) struct RememberedReplies {
    by_master: BTreeMap<Box<str>, VecDeque<Remembered>>,
}

impl RememberedReplies {
    pub(super) fn to_answers(&self) -> Vec<MasterAnswers> {
        self.by_master
            .iter()
            .map(|(master, kept)| MasterAnswers {
                master: master.to_string(),
                answers: kept
                    .iter()
                    .map(|remembered| KeptAnswer {
                        request_id: remembered.request_id,
                        command_digest: remembered.command_digest,
                        result: remembered.result.clone(),
                    })
                    .collect(),
            })
            .collect()
    }

    /// # Errors
    ///
    /// The master and count of a list outside `1..=MAX_REMEMBERED_REPLIES_PER_MASTER`.
    pub(super) fn from_answers(
        answers: Vec<MasterAnswers>,
    ) -> Result<RememberedReplies, (String, usize)> {
        let mut replies = RememberedReplies::default();
        for MasterAnswers { master, answers } in answers {
            if !(1..=MAX_REMEMBERED_REPLIES_PER_MASTER).contains(&answers.len()) {
                return Err((master, answers.len()));
            }
            let kept = answers
                .into_iter()
                .map(|kept| Remembered {
                    request_id: kept.request_id,
                    command_digest: kept.command_digest,
                    result: kept.result,
                })
                .collect();
            replies.by_master.insert(master.into_boxed_str(), kept);
        }
        Ok(replies)
    }

    fn find(&self, master: &str, request_id: u64, digest: u64) -> Option<&Remembered> {
        self.by_master.get(master)?.iter().rev().find(|remembered| {
            remembered.request_id == request_id && remembered.command_digest == digest
        })
    }

    fn remember(&mut self, master: &str, remembered: Remembered) {
        let replies = match self.by_master.get_mut(master) {
            Some(replies) => replies,
            None => self.by_master.entry(master.into()).or_default(),
        };
        if replies.len() == MAX_REMEMBERED_REPLIES_PER_MASTER {
            replies.pop_front();
        }
        replies.push_back(remembered);
        debug_assert!(replies.len() <= MAX_REMEMBERED_REPLIES_PER_MASTER);
    }
}

/// A digest of `command` that is the same in every process of the same build (a fixed
/// hasher, never the standard library's seeded one).
fn digest(command: &Command) -> u64 {
    let mut hasher = FxHasher::default();
    command.hash(&mut hasher);
    hasher.finish()
}

impl Registry {
    /// Feeds a remote master's request: answered as [`Registry::handle`] answers it, unless
    /// it is a retry of one already answered (same master, id and command), which gets the
    /// first answer again and changes nothing.
    pub fn handle_request(&mut self, now: Timestamp, input: RegistryInput, key: RequestKey) {
        if matches!(input.command, Command::MasterActive { .. }) {
            self.handle(now, input);
            return;
        }
        self.log_input(|| LoggedInput::Request {
            at: now,
            master: key.master.clone(),
            request_id: key.request_id,
            command: input.command.clone(),
        });
        self.clock.advance(now);
        let command_digest = digest(&input.command);
        if let Some(remembered) = self.replies.find(&key.master, key.request_id, command_digest) {
            let result = remembered.result.clone();
            self.outputs.push_back(RegistryOutput::Reply { token: input.token, result });
            return;
        }
        let result = self.execute(input.command);
        let remembered =
            Remembered { request_id: key.request_id, command_digest, result: result.clone() };
        self.replies.remember(&key.master, remembered);
        self.outputs.push_back(RegistryOutput::Reply { token: input.token, result });
        self.tidy_liveness_index();
    }
}

impl Registry {
    /// Every master's kept answers within the bound, none kept for nobody.
    pub(super) fn check_remembered_replies(&self) -> Result<(), InvariantViolation> {
        for (master, replies) in &self.replies.by_master {
            ensure!(
                "registry",
                (1..=MAX_REMEMBERED_REPLIES_PER_MASTER).contains(&replies.len()),
                "{} answers are kept for master {master}, outside 1..={}",
                replies.len(),
                MAX_REMEMBERED_REPLIES_PER_MASTER
            );
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests;
