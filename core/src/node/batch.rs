//! The batching contract: a batch's outputs are held until its changes are durable.

use std::collections::VecDeque;

use crate::registry::LoggedInput;
use crate::{Change, RegistryOutput};

use super::NodeOutput;

/// One batch's changes, to be written atomically and durably.
#[derive(Debug)]
pub struct Batch {
    /// Report this number to [`Node::batch_durable`](super::Node::batch_durable).
    pub number: u64,
    pub changes: Vec<Change>,
    /// The Registry's inputs that made the changes, in order, when its input log was
    /// started (a cluster's leader logs them for its standbys); empty otherwise.
    pub registry_inputs: Vec<LoggedInput>,
}

#[derive(Debug, Default)]
pub(super) struct Batches {
    /// The open batch: changes and outputs of the inputs fed since the last `end`.
    changes: Vec<Change>,
    held: Vec<NodeOutput>,
    /// Inputs were fed since the last batch became durable.
    open: bool,
    /// The ended batch awaiting durability, with the outputs it will release.
    awaiting: Option<(u64, Vec<NodeOutput>)>,
    released: VecDeque<NodeOutput>,
    last_number: u64,
}

impl Batches {
    pub(super) fn begin_input(&mut self) {
        assert!(
            self.awaiting.is_none(),
            "an input was fed while batch {} awaits durability",
            self.last_number
        );
        self.open = true;
    }

    pub(super) fn persist(&mut self, change: Change) {
        self.changes.push(change);
    }

    /// A Registry output that is no reply: a change to persist or an event to hold.
    pub(super) fn registry_output(&mut self, output: RegistryOutput) {
        match output {
            RegistryOutput::Persist(change) => self.persist(change),
            RegistryOutput::Event(event) => {
                self.hold(NodeOutput::Event(super::NodeEvent::Registry(event)));
            }
            RegistryOutput::Reply { .. } => {
                unreachable!("replies are taken where the command is sent")
            }
        }
    }

    pub(super) fn hold(&mut self, output: NodeOutput) {
        self.held.push(output);
    }

    pub(super) fn end(&mut self, registry_inputs: Vec<LoggedInput>) -> super::Batch {
        assert!(
            self.awaiting.is_none(),
            "batch {} was ended before batch {} became durable",
            self.last_number + 1,
            self.last_number
        );
        self.last_number += 1;
        self.awaiting = Some((self.last_number, std::mem::take(&mut self.held)));
        super::Batch {
            number: self.last_number,
            changes: std::mem::take(&mut self.changes),
            registry_inputs,
        }
    }

    pub(super) fn durable(&mut self, number: u64) {
        match self.awaiting.take() {
            Some((awaiting, outputs)) if awaiting == number => {
                self.released.extend(outputs);
                self.open = false;
            }
            other => panic!(
                "batch {number} was reported durable, but the batch awaiting durability is {:?}",
                other.map(|(awaiting, _)| awaiting)
            ),
        }
    }

    /// The batch that will never be durable (its leader was deposed): the outputs it and
    /// the open batch held, for the caller to sort; their changes are dropped.
    pub(super) fn abandon(&mut self) -> Vec<NodeOutput> {
        let mut outputs = self.awaiting.take().map(|(_, outputs)| outputs).unwrap_or_default();
        outputs.append(&mut self.held);
        self.changes.clear();
        self.open = false;
        outputs
    }

    /// An output that depends on no change: out at once.
    pub(super) fn release(&mut self, output: NodeOutput) {
        self.released.push_back(output);
    }

    pub(super) fn poll_released(&mut self) -> Option<NodeOutput> {
        self.released.pop_front()
    }

    pub(super) fn is_committed(&self) -> bool {
        !self.open && self.awaiting.is_none()
    }

    /// Counts for the invariant checks.
    pub(super) fn pending(&self) -> (usize, usize, bool) {
        (self.changes.len(), self.held.len(), self.awaiting.is_some())
    }
}
