//! What `check_invariants` reports when a machine's state contradicts itself.
//!
//! The machines keep the same facts in several places (a row and its index, a counter and
//! the set it counts, both ends of a relation) so that every input costs what it touches.
//! A bug that updates one place and not the other goes unnoticed until much later, far from
//! its cause; checking the whole state after every step, as TigerBeetle does, catches it at
//! the step that caused it. The checks read and never change anything.

/// A machine's state is inconsistent: a bug in the machine (or state corrupted from
/// outside), never a bad input. The state can no longer be trusted; stop the run.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct InvariantViolation {
    /// Which machine: `"registry"` or `"gateway"`.
    pub machine: &'static str,
    /// What is inconsistent, naming the ids involved. The same state always gives the same
    /// text, so a failing simulation seed reproduces the same report.
    pub what: String,
}

impl std::fmt::Display for InvariantViolation {
    fn fmt(&self, formatter: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(formatter, "{} invariant broken: {}", self.machine, self.what)
    }
}

impl std::error::Error for InvariantViolation {}

/// Returns an [`InvariantViolation`] from the enclosing function unless `condition` holds.
/// The message is formatted only on failure, so passing checks allocate nothing.
macro_rules! ensure {
    ($machine:expr, $condition:expr, $($message:tt)+) => {
        if !$condition {
            return Err($crate::InvariantViolation {
                machine: $machine,
                what: format!($($message)+),
            });
        }
    };
}

pub(crate) use ensure;

/// The violation with the smallest key among those found while walking a hash map, so that
/// the report does not depend on the map's iteration order.
#[derive(Debug)]
pub(crate) struct Smallest<K> {
    machine: &'static str,
    found: Option<(K, String)>,
}

impl<K: Ord> Smallest<K> {
    pub(crate) fn new(machine: &'static str) -> Self {
        Smallest { machine, found: None }
    }

    /// Records a violation at `key`; `what` is formatted only if `key` is the smallest yet.
    pub(crate) fn offer(&mut self, key: K, what: impl FnOnce() -> String) {
        if self.found.as_ref().is_none_or(|(smallest, _)| key < *smallest) {
            self.found = Some((key, what()));
        }
    }

    pub(crate) fn into_result(self) -> Result<(), InvariantViolation> {
        match self.found {
            None => Ok(()),
            Some((_, what)) => Err(InvariantViolation { machine: self.machine, what }),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The display form names the machine first, as logs and panics show it.
    #[test]
    fn display_names_the_machine_and_the_problem() {
        let violation = InvariantViolation { machine: "registry", what: "x is 2, not 1".into() };
        assert_eq!(violation.to_string(), "registry invariant broken: x is 2, not 1");
    }

    /// Whatever order violations are offered in, the one with the smallest key is reported.
    #[test]
    fn the_smallest_key_wins_whatever_the_order() {
        let mut forward = Smallest::new("gateway");
        let mut backward = Smallest::new("gateway");
        for key in [3, 1, 2] {
            forward.offer(key, || format!("bad {key}"));
        }
        for key in [2, 1, 3] {
            backward.offer(key, || format!("bad {key}"));
        }
        assert_eq!(forward.into_result(), backward.into_result());
        let mut once = Smallest::new("gateway");
        once.offer(7, || "bad 7".into());
        assert_eq!(once.into_result().map_err(|v| v.what), Err("bad 7".to_string()));
        assert_eq!(Smallest::<u8>::new("gateway").into_result(), Ok(()));
    }
}
