use super::*;
use crate::registry::{RegistryConfig, ReplyToken};
use crate::{BuildRequestId, MasterId};

fn at(millis: u64) -> Timestamp {
    Timestamp::from_millis(1_700_000_000_000 + millis)
}

/// Feeds a request from master `remote` under `request_id` and returns its answer.
fn ask(
    registry: &mut Registry,
    millis: u64,
    request_id: u64,
    command: Command,
) -> Result<Reply, CommandError> {
    let key = RequestKey { master: "remote".into(), request_id };
    registry.handle_request(
        at(millis),
        RegistryInput { token: ReplyToken(request_id), command },
        key,
    );
    let mut answer = None;
    while let Some(output) = registry.poll_output() {
        if let RegistryOutput::Reply { token, result } = output {
            assert_eq!(token, ReplyToken(request_id));
            answer = Some(result);
        }
    }
    answer.expect("every request is answered")
}

fn registered(registry: &mut Registry) -> MasterId {
    match ask(registry, 0, 1, Command::MasterActive { name: "remote".into() }) {
        Ok(Reply::Master(id)) => id,
        other => panic!("masterActive: {other:?}"),
    }
}

fn submit(master: MasterId) -> Command {
    Command::SubmitBuildRequest { master, builder_name: "linux".into() }
}

/// A retried submit gets the first one's build request and makes no second one; a
/// retried claim is answered as the first was, not refused as already claimed.
#[test]
fn a_retry_gets_the_first_answer_and_changes_nothing() {
    let mut registry = Registry::new(RegistryConfig::default());
    let master = registered(&mut registry);
    let first = ask(&mut registry, 10, 2, submit(master));
    assert_eq!(first, Ok(Reply::BuildRequest(BuildRequestId(1))));
    assert_eq!(ask(&mut registry, 20, 2, submit(master)), first);
    assert_eq!(registry.build_requests().count(), 1);

    let claim = Command::ClaimBuildRequests { master, requests: vec![BuildRequestId(1)] };
    assert_eq!(ask(&mut registry, 30, 3, claim.clone()), Ok(Reply::Done));
    assert_eq!(ask(&mut registry, 40, 3, claim.clone()), Ok(Reply::Done));
    // The same claim under a new id is a new request, and is refused.
    assert!(ask(&mut registry, 50, 4, claim).is_err());
    registry.check_invariants().expect("invariants");
}

/// An id used again with another command is no retry: it runs. `MasterActive` always
/// runs, so a heartbeat under a reused id still moves `last_active`.
#[test]
fn a_reused_id_with_another_command_and_every_heartbeat_run() {
    let mut registry = Registry::new(RegistryConfig::default());
    let master = registered(&mut registry);
    assert_eq!(
        ask(&mut registry, 10, 7, submit(master)),
        Ok(Reply::BuildRequest(BuildRequestId(1)))
    );
    let other = Command::SubmitBuildRequest { master, builder_name: "mac".into() };
    assert_eq!(ask(&mut registry, 20, 7, other), Ok(Reply::BuildRequest(BuildRequestId(2))));

    let heartbeat = Command::MasterActive { name: "remote".into() };
    assert_eq!(ask(&mut registry, 5_000, 1, heartbeat), Ok(Reply::Master(master)));
    let row = registry.master_by_name("remote").expect("the master");
    assert_eq!(row.last_active, at(5_000), "the heartbeat under a reused id ran");
}

/// Only the last [`MAX_REMEMBERED_REPLIES_PER_MASTER`] answers are kept per master: the
/// memory is bounded, and a retry older than that runs again.
#[test]
fn answers_are_kept_per_master_up_to_the_bound() {
    let mut registry = Registry::new(RegistryConfig::default());
    let master = registered(&mut registry);
    let kept = MAX_REMEMBERED_REPLIES_PER_MASTER as u64;
    for request_id in 100..100 + kept + 1 {
        assert!(ask(&mut registry, request_id, request_id, submit(master)).is_ok());
    }
    registry.check_invariants().expect("invariants");
    let newest = 100 + kept;
    let before = registry.build_requests().count();
    assert!(ask(&mut registry, 1_000, newest, submit(master)).is_ok());
    assert_eq!(registry.build_requests().count(), before, "the newest is remembered");
    assert!(ask(&mut registry, 1_001, 100, submit(master)).is_ok());
    assert_eq!(registry.build_requests().count(), before + 1, "the oldest was forgotten");
}

/// A replica that replayed the leader's log answers a retry of the leader's request with
/// the leader's answer: what lets a new cluster leader answer its predecessor's retries.
#[test]
fn a_replica_answers_a_retry_of_the_leaders_request() {
    let mut leader = Registry::new(RegistryConfig::default());
    leader.start_input_log();
    let master = registered(&mut leader);
    let answer = ask(&mut leader, 10, 2, submit(master));
    let mut replica = Registry::new(RegistryConfig::default());
    for input in leader.take_logged_inputs() {
        replica.replay(input);
    }
    assert_eq!(ask(&mut replica, 20, 2, submit(master)), answer);
    assert_eq!(replica.build_requests().count(), 1);
}
