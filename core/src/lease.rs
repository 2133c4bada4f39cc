//! When a cluster node may act as the leader: the local half of the lease (docs/cluster.md).
//!
//! The lease itself lives in the shared store and is judged there by the store's own clock:
//! it is taken only once expired, which bumps its epoch, and renewed only by its holder
//! before it expires. This machine is the holder's side of it, on the holder's own clock:
//! a node acts as leader for two thirds of the TTL counted from the moment it *sent* the
//! request that took or renewed the lease. The request reached the store after it was sent,
//! so the store's `valid_until` is later still; the third left over absorbs a difference
//! in clock rates of up to a third over one TTL, and the store's epoch check on every
//! commit (fencing) catches anything beyond that. A node that stops acting never starts
//! again on the same epoch: it must take the lease anew.
//!
//! The shape is the core's: `handle(now, input)`, `poll_timeout()`, `handle_timeout(now)`;
//! no clock is read here.

use crate::Timestamp;

/// The soonest a refused take is tried again.
const MIN_TAKE_RETRY_MS: u64 = 20;

/// The lease's timings, in milliseconds of the store's clock (`ttl_ms`) and of the holder's
/// (`renew_interval_ms`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct LeaseTimings {
    pub ttl_ms: u64,
    pub renew_interval_ms: u64,
}

/// Why a pair of timings cannot keep a leader leading.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum LeaseTimingsError {
    /// A zero TTL or renew interval.
    Zero,
    /// Fewer than two renewals fit in the two thirds of the TTL a leader acts for, so one
    /// slow renewal would depose a healthy leader.
    RenewTooSlow { ttl_ms: u64, renew_interval_ms: u64 },
}

impl std::fmt::Display for LeaseTimingsError {
    fn fmt(&self, formatter: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            LeaseTimingsError::Zero => {
                write!(formatter, "the lease TTL and the renew interval must be above zero")
            }
            LeaseTimingsError::RenewTooSlow { ttl_ms, renew_interval_ms } => write!(
                formatter,
                "a renew interval of {renew_interval_ms} ms is more than a third of the lease \
                 TTL of {ttl_ms} ms: a leader acts for two thirds of the TTL after each renewal, \
                 and at least two renewals must fit in that"
            ),
        }
    }
}

impl std::error::Error for LeaseTimingsError {}

impl LeaseTimings {
    /// # Errors
    ///
    /// When the timings are zero, or the renewals too far apart for the TTL.
    pub fn validate(self) -> Result<LeaseTimings, LeaseTimingsError> {
        if self.ttl_ms == 0 || self.renew_interval_ms == 0 {
            return Err(LeaseTimingsError::Zero);
        }
        if self.renew_interval_ms.saturating_mul(3) > self.ttl_ms {
            return Err(LeaseTimingsError::RenewTooSlow {
                ttl_ms: self.ttl_ms,
                renew_interval_ms: self.renew_interval_ms,
            });
        }
        Ok(self)
    }

    /// How long after sending a successful take or renewal the holder may act.
    pub fn acting_window_ms(self) -> u64 {
        self.ttl_ms / 3 * 2 + self.ttl_ms % 3 * 2 / 3
    }

    /// How long a new leader defers every expiry ([`crate::Registry::take_over`]): a
    /// heartbeat interval for the masters to find it, plus the longest a takeover takes
    /// (a TTL for the old lease to run out, and a renewal interval for the standby to
    /// try). Without it, masters heartbeating to the old leader, unanswered through the
    /// takeover, or a new leader's clock ahead of the old one's, would expire them.
    pub fn takeover_grace_ms(self, heartbeat_interval_ms: u64) -> u64 {
        heartbeat_interval_ms.saturating_add(self.ttl_ms).saturating_add(self.renew_interval_ms)
    }
}

/// What the driver tells the machine about its requests to the store.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum LeaseInput {
    /// The store granted the lease at `epoch` to a take sent at `sent_at`.
    Taken { epoch: u64, sent_at: Timestamp },
    /// The store refused a take: another node holds a lease that expires in
    /// `remaining_ms` by the store's clock. The next take is tried just after that, not a
    /// whole renew interval later: the failover takes the TTL, not the TTL plus a renewal.
    Held { remaining_ms: u64 },
    /// The store renewed the lease of `epoch` for a renewal sent at `sent_at`.
    Renewed { epoch: u64, sent_at: Timestamp },
    /// The store refused a renewal of `epoch`: it expired or another node took it.
    Lost { epoch: u64 },
    /// A commit at `epoch` was refused by the store's epoch check.
    Fenced { epoch: u64 },
    /// A commit at `epoch` failed with its outcome unknown (the connection broke): the
    /// leader cannot tell what the log holds, so it steps down and learns it as a standby.
    CommitFailed { epoch: u64 },
    /// The request's outcome is unknown (the connection failed): nothing is assumed.
    Unanswered,
}

/// What the driver should do next.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum LeaseAction {
    /// Try to take the lease (valid only once the store says it expired).
    Take,
    /// Renew the lease of `epoch`.
    Renew { epoch: u64 },
}

/// A change of role, for logs and metrics.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum LeaseEvent {
    /// `lease taken epoch=N`
    Taken { epoch: u64 },
    /// `lease lost`: the store refused a renewal or fenced a commit.
    Lost { epoch: u64 },
    /// `stepping down`: the acting window ran out before a renewal was confirmed.
    SteppedDown { epoch: u64 },
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Role {
    Standby,
    Leading { epoch: u64, acting_until: Timestamp },
}

/// The holder's side of the lease. Start it as a standby; `poll_action` says what to ask
/// the store, at the moment `poll_timeout` names.
#[derive(Debug)]
pub struct LeaseHolder {
    timings: LeaseTimings,
    role: Role,
    /// When the next take or renewal is due.
    next_request_at: Timestamp,
    events: std::collections::VecDeque<LeaseEvent>,
}

impl LeaseHolder {
    /// # Errors
    ///
    /// When the timings cannot keep a leader leading (see [`LeaseTimings::validate`]).
    pub fn new(now: Timestamp, timings: LeaseTimings) -> Result<LeaseHolder, LeaseTimingsError> {
        Ok(LeaseHolder {
            timings: timings.validate()?,
            role: Role::Standby,
            next_request_at: now,
            events: std::collections::VecDeque::new(),
        })
    }

    /// The epoch this node may act as leader in at `now`, if any. Ask before every commit
    /// and every reply; the store's fencing is the backstop, not the rule.
    pub fn leading_epoch(&self, now: Timestamp) -> Option<u64> {
        match self.role {
            Role::Leading { epoch, acting_until } if now < acting_until => Some(epoch),
            _ => None,
        }
    }

    /// What to ask the store now, if anything is due.
    pub fn poll_action(&self, now: Timestamp) -> Option<LeaseAction> {
        if now < self.next_request_at {
            return None;
        }
        Some(match self.role {
            Role::Standby => LeaseAction::Take,
            Role::Leading { epoch, .. } => LeaseAction::Renew { epoch },
        })
    }

    /// The next moment something is due: a request, or the end of the acting window.
    pub fn poll_timeout(&self) -> Timestamp {
        match self.role {
            Role::Standby => self.next_request_at,
            Role::Leading { acting_until, .. } => self.next_request_at.min(acting_until),
        }
    }

    pub fn poll_event(&mut self) -> Option<LeaseEvent> {
        self.events.pop_front()
    }

    /// Steps down once the acting window has run out.
    pub fn handle_timeout(&mut self, now: Timestamp) {
        if let Role::Leading { epoch, acting_until } = self.role {
            if now >= acting_until {
                self.step_down(now, LeaseEvent::SteppedDown { epoch });
            }
        }
    }

    /// Marks the request `poll_action` asked for as sent: the next one is due a renew
    /// interval later, whatever the answer.
    pub fn request_sent(&mut self, now: Timestamp) {
        self.next_request_at = now.plus_millis(self.timings.renew_interval_ms);
    }

    pub fn handle(&mut self, now: Timestamp, input: LeaseInput) {
        self.handle_timeout(now);
        match (self.role, input) {
            (Role::Standby, LeaseInput::Taken { epoch, sent_at }) => {
                let acting_until = sent_at.plus_millis(self.timings.acting_window_ms());
                if now < acting_until {
                    self.role = Role::Leading { epoch, acting_until };
                    self.events.push_back(LeaseEvent::Taken { epoch });
                }
                // Taken so long ago that the window is already over: stay a standby and
                // take it anew when it expires.
            }
            (Role::Standby, LeaseInput::Held { remaining_ms }) => {
                // Never sooner than a few milliseconds: a lease reported as just expiring
                // must not make the node hammer the store.
                let retry = now.plus_millis(remaining_ms.max(MIN_TAKE_RETRY_MS) + 1);
                self.next_request_at = self.next_request_at.min(retry);
            }
            (
                Role::Leading { epoch: held, acting_until },
                LeaseInput::Renewed { epoch, sent_at },
            ) if held == epoch => {
                let renewed = sent_at.plus_millis(self.timings.acting_window_ms());
                self.role = Role::Leading { epoch, acting_until: acting_until.max(renewed) };
            }
            (Role::Leading { epoch: held, .. }, LeaseInput::Lost { epoch })
            | (Role::Leading { epoch: held, .. }, LeaseInput::Fenced { epoch })
            | (Role::Leading { epoch: held, .. }, LeaseInput::CommitFailed { epoch })
                if held == epoch =>
            {
                self.step_down(now, LeaseEvent::Lost { epoch });
            }
            // Answers for an epoch no longer held, takes while leading, refusals and
            // unanswered requests change nothing: the window runs out by itself.
            _ => {}
        }
    }

    fn step_down(&mut self, now: Timestamp, event: LeaseEvent) {
        self.role = Role::Standby;
        self.events.push_back(event);
        // Another node may take over; try again only after a renew interval.
        self.next_request_at = self.next_request_at.max(now);
    }
}

#[cfg(test)]
mod tests;
