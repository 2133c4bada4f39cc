//! Clients of rollcall's own protocol, for people (`rollcall worker`, `rollcall master`)
//! and for tests.

mod follow;
mod master;
mod request_ids;
mod session;
mod worker;

pub use follow::{connect_to_leader, Target};
pub use master::{run_master, MasterClient, MasterOptions};
pub use request_ids::next_request_id;
pub use session::{ClientError, Session};
pub use worker::{run_worker, WorkerOptions};
