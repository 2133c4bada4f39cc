//! A model of the cluster's shared store: one linearizable lease row judged by the store's
//! own clock and an append-only log, with the fence the PostgreSQL schema implements (the
//! lease row locked and checked in the append's own transaction), and the newest snapshot,
//! which hides the log it covers from readers. Its faults: the store
//! down, a node cut off from it, and a reply lost after the store acted on the request.

use std::cell::RefCell;
use std::rc::Rc;

use rollcall_core::replication::{AppendRefused, LogPage, SharedStore, Take};
use rollcall_core::{LoggedInput, RegistrySnapshot};

/// The most entries one read returns, as in the daemon's store.
const PAGE: usize = 4_096;

#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct Lease {
    pub(crate) holder: Option<usize>,
    pub(crate) epoch: u64,
    pub(crate) valid_until_ms: u64,
}

/// One accepted append, with the lease as it stood when the store accepted it.
#[derive(Clone, Debug)]
pub(crate) struct Accepted {
    pub(crate) at_ms: u64,
    pub(crate) node: usize,
    pub(crate) epoch: u64,
    pub(crate) first_seq: u64,
    pub(crate) last_seq: u64,
    pub(crate) lease: Lease,
}

#[derive(Debug)]
pub(crate) struct StoreState {
    /// The store's clock: the simulation's global time.
    pub(crate) now_ms: u64,
    pub(crate) down: bool,
    pub(crate) lease: Lease,
    pub(crate) log: Vec<(u64, usize, LoggedInput)>,
    pub(crate) accepted: Vec<Accepted>,
    /// Per node: cut off from the store.
    pub(crate) cut_off: Vec<bool>,
    /// Set by the world for the next call: the store acts, and the reply is lost.
    pub(crate) lose_next_reply: bool,
    /// The newest snapshot and the entry it includes; the log up to there is pruned for
    /// readers (`log` keeps it all, for the oracles).
    pub(crate) snapshot: Option<(u64, RegistrySnapshot)>,
    /// Every snapshot stored, for the oracle to check against the log.
    pub(crate) snapshots_written: Vec<(u64, RegistrySnapshot)>,
}

impl StoreState {
    pub(crate) fn new(nodes: usize) -> StoreState {
        StoreState {
            now_ms: 0,
            down: false,
            lease: Lease { holder: None, epoch: 0, valid_until_ms: 0 },
            log: Vec::new(),
            accepted: Vec::new(),
            cut_off: vec![false; nodes],
            lose_next_reply: false,
            snapshot: None,
            snapshots_written: Vec::new(),
        }
    }
}

#[derive(Debug)]
pub(crate) struct Unavailable;

impl std::fmt::Display for Unavailable {
    fn fmt(&self, formatter: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        formatter.write_str("the store did not answer")
    }
}

impl std::error::Error for Unavailable {}

/// One node's connection to the shared store.
#[derive(Debug)]
pub(crate) struct SimStore {
    pub(crate) node: usize,
    pub(crate) ttl_ms: u64,
    pub(crate) state: Rc<RefCell<StoreState>>,
}

impl SimStore {
    /// Runs `act` on the store if this node reaches it; a lost reply is a failure to the
    /// caller after the store acted.
    fn call<T>(
        &mut self,
        act: impl FnOnce(&mut StoreState, usize, u64) -> T,
    ) -> Result<T, Unavailable> {
        let mut state = self.state.borrow_mut();
        if state.down || state.cut_off[self.node] {
            return Err(Unavailable);
        }
        let result = act(&mut state, self.node, self.ttl_ms);
        if std::mem::take(&mut state.lose_next_reply) {
            return Err(Unavailable);
        }
        Ok(result)
    }
}

impl SharedStore for SimStore {
    type Error = Unavailable;

    fn try_take(&mut self) -> Result<Take, Unavailable> {
        self.call(|state, node, ttl| {
            if state.lease.valid_until_ms >= state.now_ms {
                return Take::Held { remaining_ms: state.lease.valid_until_ms - state.now_ms };
            }
            state.lease = Lease {
                holder: Some(node),
                epoch: state.lease.epoch + 1,
                valid_until_ms: state.now_ms + ttl,
            };
            Take::Taken { epoch: state.lease.epoch }
        })
    }

    fn renew(&mut self, epoch: u64) -> Result<bool, Unavailable> {
        self.call(|state, node, ttl| {
            let lease = &mut state.lease;
            let ours = lease.holder == Some(node) && lease.epoch == epoch;
            if ours && lease.valid_until_ms >= state.now_ms {
                lease.valid_until_ms = state.now_ms + ttl;
                true
            } else {
                false
            }
        })
    }

    fn release(&mut self, epoch: u64) -> Result<bool, Unavailable> {
        self.call(|state, node, _| {
            let ours = state.lease.holder == Some(node) && state.lease.epoch == epoch;
            if ours {
                state.lease.holder = None;
                state.lease.valid_until_ms = 0;
            }
            ours
        })
    }

    fn append_fenced(
        &mut self,
        epoch: u64,
        after_seq: u64,
        inputs: &[LoggedInput],
    ) -> Result<u64, AppendRefused<Unavailable>> {
        let outcome = self.call(|state, node, _| {
            let lease = state.lease.clone();
            let fenced = lease.holder != Some(node)
                || lease.epoch != epoch
                || lease.valid_until_ms < state.now_ms;
            if fenced {
                return Err(AppendRefused::Fenced {
                    current_epoch: lease.epoch,
                    holder: lease.holder.map(|holder| format!("node-{holder}")),
                });
            }
            let last = state.log.len() as u64;
            if last != after_seq {
                return Err(AppendRefused::LogMoved { found_last: last });
            }
            for input in inputs {
                state.log.push((epoch, node, input.clone()));
            }
            let last_seq = state.log.len() as u64;
            let at_ms = state.now_ms;
            state.accepted.push(Accepted {
                at_ms,
                node,
                epoch,
                first_seq: after_seq + 1,
                last_seq,
                lease,
            });
            Ok(last_seq)
        });
        match outcome {
            Ok(result) => result,
            Err(unavailable) => Err(AppendRefused::Failed(unavailable)),
        }
    }

    fn read_after(&mut self, after_seq: u64) -> Result<LogPage, Unavailable> {
        self.call(|state, _, _| {
            // Readers never see what the newest snapshot covers.
            let pruned = state.snapshot.as_ref().map_or(0, |(seq, _)| *seq);
            let pruned = u64::min(pruned, state.log.len() as u64);
            let start =
                usize::try_from(after_seq.max(pruned)).unwrap_or(usize::MAX).min(state.log.len());
            let end = (start + PAGE).min(state.log.len());
            let entries = state.log[start..end]
                .iter()
                .enumerate()
                .map(|(offset, (_, _, input))| ((start + offset + 1) as u64, input.clone()))
                .collect();
            LogPage { entries, more: end - start == PAGE, snapshot_seq: pruned }
        })
    }

    fn read_snapshot(&mut self) -> Result<Option<(u64, RegistrySnapshot)>, Unavailable> {
        self.call(|state, _, _| state.snapshot.clone())
    }

    fn write_snapshot(
        &mut self,
        seq: u64,
        snapshot: &RegistrySnapshot,
    ) -> Result<bool, Unavailable> {
        self.call(|state, _, _| {
            let newest = state.snapshot.as_ref().map_or(0, |(newest, _)| *newest);
            if seq <= newest || seq > state.log.len() as u64 {
                return false;
            }
            state.snapshot = Some((seq, snapshot.clone()));
            state.snapshots_written.push((seq, snapshot.clone()));
            true
        })
    }
}
