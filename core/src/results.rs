use serde::{Deserialize, Serialize};

/// A build's or build request's result code, with Buildbot's numbering.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(transparent)]
pub struct Results(pub u8);

impl Results {
    pub const SUCCESS: Results = Results(0);
    pub const WARNINGS: Results = Results(1);
    pub const FAILURE: Results = Results(2);
    pub const SKIPPED: Results = Results(3);
    pub const EXCEPTION: Results = Results(4);
    /// Given to the builds of a master that stops or expires: they are to be run again.
    pub const RETRY: Results = Results(5);
    pub const CANCELLED: Results = Results(6);
}
