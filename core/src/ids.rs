use serde::{Deserialize, Serialize};

macro_rules! id_type {
    ($(#[$doc:meta])* $name:ident) => {
        $(#[$doc])*
        #[derive(
            Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize,
        )]
        #[serde(transparent)]
        pub struct $name(pub u64);

        impl $name {
            /// The raw number, as Buildbot's REST API shows it.
            pub const fn get(self) -> u64 {
                self.0
            }
        }

        impl std::fmt::Display for $name {
            fn fmt(&self, formatter: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                write!(formatter, "{}", self.0)
            }
        }
    };
}

id_type!(
    /// A master's id: assigned by the Registry from 1 upwards, never reused.
    MasterId
);
id_type!(
    /// A builder's id: assigned on the builder's first mention, never reused.
    BuilderId
);
id_type!(
    /// A worker's id in the Registry: assigned on the worker's first mention, never reused.
    WorkerId
);
id_type!(
    /// A scheduler's or change source's id: assigned on first claim, never reused.
    ServiceId
);
id_type!(
    /// A build request's id: assigned on submission, never reused.
    BuildRequestId
);
id_type!(
    /// A build's id: assigned when the build starts, never reused.
    BuildId
);
id_type!(
    /// One transport connection, named by whoever owns the socket (the daemon or the
    /// simulator). The Gateway only requires that a connection id is not reused while the
    /// connection is open.
    ConnectionId
);

/// Hands out ids from 1 upwards; the next id only ever grows.
#[derive(Clone, Copy, Debug)]
pub(crate) struct IdAllocator {
    next: u64,
}

impl IdAllocator {
    pub(crate) fn new() -> Self {
        IdAllocator { next: 1 }
    }

    pub(crate) fn allocate(&mut self) -> u64 {
        let id = self.next;
        self.next = self.next.checked_add(1).expect("u64 ids cannot run out in practice");
        id
    }

    /// The id `allocate` would hand out next: every id handed out so far is below it.
    pub(crate) fn next_unassigned(&self) -> u64 {
        self.next
    }

    /// Makes sure the allocator never hands out `used` or anything below it again.
    pub(crate) fn observe(&mut self, used: u64) {
        if used >= self.next {
            self.next = used.saturating_add(1);
        }
    }
}
