//! One PostgreSQL session on a thread of its own, so that every call has a deadline that
//! the caller keeps. The synchronous `postgres` client has no deadline of its own beyond
//! connecting, and the server's timeouts only bound what reaches the server: across a
//! partition, a frozen server or a middlebox that acknowledges and forwards nothing, a
//! call would hold the core thread for as long as TCP takes to give up (minutes).
//!
//! A call that misses its deadline abandons its session: the caller treats the outcome
//! as unknown (a leader steps down), and the thread ends when the call returns, if ever.
//! What an abandoned call may still do at the server is harmless by construction: every
//! append is fenced by the epoch and by where the log ends, so a late one either lands
//! before anyone else writes (an unacknowledged commit, replayed like any other) or is
//! refused.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::mpsc::{self, RecvTimeoutError};
use std::sync::Arc;
use std::time::Duration;

use super::{connect, migrate, ClusterStoreError, Deadlines, PostgresTls};

/// Session threads alive at once, the current one and those abandoned and still stalled:
/// beyond this, no session is opened until one ends, so a network that stalls every call
/// cannot grow threads without bound.
pub const MAX_LIVE_SESSIONS: usize = 8;

/// Work for the session's thread.
type Job = Box<dyn FnOnce(&mut postgres::Client) + Send>;

/// A call for [`Session::call`]: run again on a fresh session when the last one had
/// closed before the call reached it.
pub(super) type Call<T> =
    Arc<dyn Fn(&mut postgres::Client) -> Result<T, ClusterStoreError> + Send + Sync>;

/// What a call came back with.
pub(super) enum Answer<T> {
    Done(Result<T, ClusterStoreError>),
    /// The session had closed (the server went away) before the call: nothing was sent.
    Closed,
}

/// Counts the session threads alive, across the sessions of one store.
#[derive(Debug, Default)]
pub(super) struct LiveSessions(Arc<AtomicUsize>);

impl LiveSessions {
    pub(super) fn count(&self) -> usize {
        self.0.load(Ordering::Acquire)
    }
}

/// Decrements the count when its thread ends, however it ends.
struct Alive(Arc<AtomicUsize>);

impl Drop for Alive {
    fn drop(&mut self) {
        self.0.fetch_sub(1, Ordering::AcqRel);
    }
}

/// An open session, and the thread that owns it.
pub(super) struct Session {
    jobs: mpsc::Sender<Job>,
    call_deadline: Duration,
}

impl Session {
    /// Connects to `url` and brings the schema up to date, on a new thread, within
    /// `deadlines.call`.
    ///
    /// # Errors
    ///
    /// The connection's or migration's failure, [`ClusterStoreError::Unanswered`] when it
    /// took longer, [`ClusterStoreError::StalledSessions`] while too many are alive.
    pub(super) fn open(
        url: &str,
        deadlines: Deadlines,
        tls: Option<&PostgresTls>,
        live: &LiveSessions,
    ) -> Result<Session, ClusterStoreError> {
        let alive = live.count();
        if alive >= MAX_LIVE_SESSIONS {
            return Err(ClusterStoreError::StalledSessions { alive });
        }
        live.0.fetch_add(1, Ordering::AcqRel);
        let guard = Alive(Arc::clone(&live.0));
        let (jobs, job_queue) = mpsc::channel::<Job>();
        let (opened_sender, opened) = mpsc::sync_channel::<Result<(), ClusterStoreError>>(1);
        let url = url.to_string();
        let tls = tls.cloned();
        std::thread::Builder::new()
            .name("rollcall-postgres".into())
            .spawn(move || {
                let _alive = guard;
                let session = connect(&url, deadlines, tls.as_ref())
                    .and_then(|mut client| migrate(&mut client).map(|_| client));
                let mut client = match session {
                    Ok(client) => client,
                    Err(error) => {
                        let _ = opened_sender.send(Err(error));
                        return;
                    }
                };
                if opened_sender.send(Ok(())).is_err() {
                    return;
                }
                // Ends when the session is dropped or abandoned (its sender gone).
                while let Ok(job) = job_queue.recv() {
                    job(&mut client);
                }
            })
            .map_err(ClusterStoreError::Thread)?;
        match opened.recv_timeout(deadlines.call) {
            Ok(Ok(())) => Ok(Session { jobs, call_deadline: deadlines.call }),
            Ok(Err(error)) => Err(error),
            Err(RecvTimeoutError::Timeout) => Err(ClusterStoreError::Unanswered {
                what: "opening a session",
                after_ms: millis(deadlines.call),
            }),
            Err(RecvTimeoutError::Disconnected) => Err(ClusterStoreError::SessionEnded),
        }
    }

    /// Runs `call` on the session's thread and waits for it at most the call deadline.
    ///
    /// # Errors
    ///
    /// The call's own error; [`ClusterStoreError::Unanswered`] past the deadline (the
    /// session must then be dropped: its thread may still be in the call).
    pub(super) fn call<T: Send + 'static>(
        &self,
        what: &'static str,
        call: &Call<T>,
    ) -> Result<Answer<T>, ClusterStoreError> {
        let (answer_sender, answer) = mpsc::sync_channel(1);
        let call = Arc::clone(call);
        let job: Job = Box::new(move |client| {
            let result =
                if client.is_closed() { Answer::Closed } else { Answer::Done(call(client)) };
            let _ = answer_sender.send(result);
        });
        self.jobs.send(job).map_err(|_| ClusterStoreError::SessionEnded)?;
        match answer.recv_timeout(self.call_deadline) {
            Ok(answer) => Ok(answer),
            Err(RecvTimeoutError::Timeout) => {
                Err(ClusterStoreError::Unanswered { what, after_ms: millis(self.call_deadline) })
            }
            Err(RecvTimeoutError::Disconnected) => Err(ClusterStoreError::SessionEnded),
        }
    }
}

fn millis(duration: Duration) -> u64 {
    u64::try_from(duration.as_millis()).unwrap_or(u64::MAX)
}
