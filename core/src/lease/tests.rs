use super::*;

const TIMINGS: LeaseTimings = LeaseTimings { ttl_ms: 10_000, renew_interval_ms: 3_000 };

fn at(millis: u64) -> Timestamp {
    Timestamp::from_millis(1_000_000 + millis)
}

fn leader_at_epoch_7() -> LeaseHolder {
    let mut holder = LeaseHolder::new(at(0), TIMINGS).expect("valid timings");
    assert_eq!(holder.poll_action(at(0)), Some(LeaseAction::Take));
    holder.request_sent(at(0));
    holder.handle(at(5), LeaseInput::Taken { epoch: 7, sent_at: at(0) });
    assert_eq!(holder.poll_event(), Some(LeaseEvent::Taken { epoch: 7 }));
    holder
}

/// The defaults of issue #13 (10 s TTL, 3 s renewals) are valid; a renewal slower than a
/// third of the TTL, or a zero, is refused with the reason.
#[test]
fn timings_need_two_renewals_inside_the_acting_window() {
    assert_eq!(TIMINGS.validate(), Ok(TIMINGS));
    let slow = LeaseTimings { ttl_ms: 10_000, renew_interval_ms: 3_334 };
    assert_eq!(
        slow.validate(),
        Err(LeaseTimingsError::RenewTooSlow { ttl_ms: 10_000, renew_interval_ms: 3_334 })
    );
    assert_eq!(
        LeaseTimings { ttl_ms: 0, renew_interval_ms: 0 }.validate(),
        Err(LeaseTimingsError::Zero)
    );
    assert_eq!(TIMINGS.acting_window_ms(), 6_666);
}

/// A leader acts for two thirds of the TTL from the moment it sent the take, not from when
/// the answer came, and steps down by itself when no renewal is confirmed in time.
#[test]
fn a_leader_that_cannot_renew_steps_down_at_two_thirds_of_the_ttl_after_sending() {
    let mut holder = leader_at_epoch_7();
    assert_eq!(holder.leading_epoch(at(6_665)), Some(7));
    assert_eq!(holder.leading_epoch(at(6_666)), None);
    assert_eq!(holder.poll_timeout(), at(3_000));
    assert_eq!(holder.poll_action(at(3_000)), Some(LeaseAction::Renew { epoch: 7 }));
    holder.request_sent(at(3_000));
    holder.handle(at(3_100), LeaseInput::Unanswered);
    assert_eq!(holder.leading_epoch(at(3_100)), Some(7));
    holder.handle_timeout(at(6_666));
    assert_eq!(holder.poll_event(), Some(LeaseEvent::SteppedDown { epoch: 7 }));
    assert_eq!(holder.leading_epoch(at(6_666)), None);
    // Standing by, it asks to take the lease again (the store decides whether it expired).
    assert_eq!(holder.poll_action(at(6_666)), Some(LeaseAction::Take));
}

/// A confirmed renewal extends the window from the renewal's sending moment.
#[test]
fn a_renewal_extends_the_acting_window_from_when_it_was_sent() {
    let mut holder = leader_at_epoch_7();
    holder.request_sent(at(3_000));
    holder.handle(at(4_000), LeaseInput::Renewed { epoch: 7, sent_at: at(3_000) });
    assert_eq!(holder.leading_epoch(at(9_665)), Some(7));
    assert_eq!(holder.leading_epoch(at(9_666)), None);
}

/// The store refusing a renewal, or fencing a commit, deposes the leader at once; a late
/// answer for an epoch it no longer holds changes nothing, and a deposed leader never
/// resumes its old epoch.
#[test]
fn a_refused_renewal_or_a_fenced_commit_deposes_and_old_answers_do_not_revive() {
    let mut holder = leader_at_epoch_7();
    holder.handle(at(1_000), LeaseInput::Fenced { epoch: 7 });
    assert_eq!(holder.poll_event(), Some(LeaseEvent::Lost { epoch: 7 }));
    assert_eq!(holder.leading_epoch(at(1_000)), None);
    holder.handle(at(1_100), LeaseInput::Renewed { epoch: 7, sent_at: at(1_000) });
    assert_eq!(holder.leading_epoch(at(1_100)), None);

    let mut holder = leader_at_epoch_7();
    holder.handle(at(3_500), LeaseInput::Lost { epoch: 6 });
    assert_eq!(holder.leading_epoch(at(3_500)), Some(7), "a loss of an older epoch is stale");
    holder.handle(at(3_600), LeaseInput::Lost { epoch: 7 });
    assert_eq!(holder.poll_event(), Some(LeaseEvent::Lost { epoch: 7 }));
    assert_eq!(holder.leading_epoch(at(3_600)), None);
}

/// A take whose answer arrives after the window it would have opened (a stalled request)
/// does not make the node a leader.
#[test]
fn a_take_answered_after_its_window_is_not_leadership() {
    let mut holder = LeaseHolder::new(at(0), TIMINGS).expect("valid timings");
    holder.request_sent(at(0));
    holder.handle(at(7_000), LeaseInput::Taken { epoch: 3, sent_at: at(0) });
    assert_eq!(holder.leading_epoch(at(7_000)), None);
    assert_eq!(holder.poll_event(), None);
}

/// A refused take is tried again just after the holder's lease ends by the store's
/// reckoning, not a whole renew interval later; never sooner than a few milliseconds.
#[test]
fn a_refused_take_is_retried_when_the_lease_it_met_ends() {
    let mut holder = LeaseHolder::new(at(0), TIMINGS).expect("valid timings");
    holder.request_sent(at(0));
    holder.handle(at(5), LeaseInput::Held { remaining_ms: 1_200 });
    assert_eq!(holder.poll_timeout(), at(5 + 1_200 + 1));
    assert_eq!(holder.poll_action(at(1_206)), Some(LeaseAction::Take));
    holder.request_sent(at(1_206));
    holder.handle(at(1_207), LeaseInput::Held { remaining_ms: 0 });
    assert_eq!(holder.poll_timeout(), at(1_207 + 20 + 1));
    holder.request_sent(at(1_228));
    holder.handle(at(1_229), LeaseInput::Held { remaining_ms: 60_000 });
    assert_eq!(holder.poll_timeout(), at(1_228 + 3_000), "never later than a renew interval");
}
