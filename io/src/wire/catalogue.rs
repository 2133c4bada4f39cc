//! One example of every message, carrying every variant of every enum inside one, for the
//! tests that check both encodings and the specification against the codec.
//!
//! The `*_name` functions match without a wildcard: a new variant does not compile until
//! it has a name here, and the tests then ask for an example of it.

use rollcall_core::{
    BuildId, BuildRequestId, BuilderId, Command, CommandError, ConnectionId, MasterId, Password,
    RejectReason, Reply, Results, ServiceId, ServiceKind, ToWorker, WorkerId,
};

use super::{ClientMessage, RequestError, Role, ServerMessage};
use crate::credentials::Token;

pub(super) fn commands() -> Vec<Command> {
    let master = MasterId(1);
    vec![
        Command::MasterActive { name: "m1".into() },
        Command::MasterStopped { master },
        Command::ExpireMasters { force_housekeeping: true },
        Command::SetBuilderList { master, builder_names: vec!["linux".into(), "mac".into()] },
        Command::SetConfiguredWorkers { master, worker_names: vec!["w1".into()] },
        Command::ClaimService { master, kind: ServiceKind::Scheduler, name: "nightly".into() },
        Command::ClaimService { master, kind: ServiceKind::ChangeSource, name: "git".into() },
        Command::ReleaseService { master, service: ServiceId(3) },
        Command::SubmitBuildRequest { master, builder_name: "linux".into() },
        Command::ClaimBuildRequests { master, requests: vec![BuildRequestId(7)] },
        Command::UnclaimBuildRequests { master, requests: vec![BuildRequestId(7)] },
        Command::CompleteBuildRequests {
            master,
            requests: vec![BuildRequestId(7), BuildRequestId(8)],
            results: Results(0),
        },
        Command::StartBuild { master, request: BuildRequestId(7), worker_name: "w1".into() },
        Command::FinishBuild { master, build: BuildId(9), results: Results(2) },
        Command::WorkerConnected {
            master,
            worker_name: "w1".into(),
            connection: ConnectionId(u64::MAX),
        },
        Command::WorkerDisconnected {
            master,
            worker_name: "w1".into(),
            connection: ConnectionId(5),
        },
        Command::RegisterMaster { name: "m1".into() },
        Command::RecoverCrashedMaster { master },
    ]
}

pub(super) fn command_name(command: &Command) -> &'static str {
    match command {
        Command::MasterActive { .. } => "master_active",
        Command::MasterStopped { .. } => "master_stopped",
        Command::ExpireMasters { .. } => "expire_masters",
        Command::SetBuilderList { .. } => "set_builder_list",
        Command::SetConfiguredWorkers { .. } => "set_configured_workers",
        Command::ClaimService { .. } => "claim_service",
        Command::ReleaseService { .. } => "release_service",
        Command::SubmitBuildRequest { .. } => "submit_build_request",
        Command::ClaimBuildRequests { .. } => "claim_build_requests",
        Command::UnclaimBuildRequests { .. } => "unclaim_build_requests",
        Command::CompleteBuildRequests { .. } => "complete_build_requests",
        Command::StartBuild { .. } => "start_build",
        Command::FinishBuild { .. } => "finish_build",
        Command::WorkerConnected { .. } => "worker_connected",
        Command::WorkerDisconnected { .. } => "worker_disconnected",
        Command::RegisterMaster { .. } => "register_master",
        Command::RecoverCrashedMaster { .. } => "recover_crashed_master",
    }
}

pub(super) const COMMAND_VARIANTS: usize = 17;

pub(super) fn replies() -> Vec<Reply> {
    vec![
        Reply::Done,
        Reply::Master(MasterId(1)),
        Reply::Expired(vec![MasterId(2), MasterId(3)]),
        Reply::Builders(vec![BuilderId(1), BuilderId(2)]),
        Reply::Service(ServiceId(3)),
        Reply::BuildRequest(BuildRequestId(7)),
        Reply::Unclaimed(vec![]),
        Reply::Build(BuildId(9)),
        Reply::Worker(WorkerId(4)),
    ]
}

pub(super) fn reply_name(reply: &Reply) -> &'static str {
    match reply {
        Reply::Done => "done",
        Reply::Master(_) => "master",
        Reply::Expired(_) => "expired",
        Reply::Builders(_) => "builders",
        Reply::Service(_) => "service",
        Reply::BuildRequest(_) => "build_request",
        Reply::Unclaimed(_) => "unclaimed",
        Reply::Build(_) => "build",
        Reply::Worker(_) => "worker",
    }
}

pub(super) const REPLY_VARIANTS: usize = 9;

pub(super) fn command_errors() -> Vec<CommandError> {
    vec![
        CommandError::UnknownMaster(MasterId(9)),
        CommandError::MasterInactive(MasterId(1)),
        CommandError::EmptyName,
        CommandError::NameTooLong { bytes: 2000, limit: 1024 },
        CommandError::TooManyItems { count: 20_000, limit: 10_000 },
        CommandError::DuplicateName("linux".into()),
        CommandError::ServiceOwnedByAnother { service: ServiceId(3), owner: MasterId(2) },
        CommandError::UnknownService(ServiceId(4)),
        CommandError::ServiceNotOwned(ServiceId(3)),
        CommandError::UnknownBuildRequest(BuildRequestId(70)),
        CommandError::DuplicateBuildRequest(BuildRequestId(7)),
        CommandError::BuildRequestAlreadyClaimed { request: BuildRequestId(7), by: MasterId(2) },
        CommandError::BuildRequestNotClaimedByMaster(BuildRequestId(7)),
        CommandError::BuildRequestComplete(BuildRequestId(7)),
        CommandError::UnknownBuild(BuildId(90)),
        CommandError::BuildNotOwnedByMaster(BuildId(9)),
        CommandError::BuildAlreadyFinished(BuildId(9)),
    ]
}

pub(super) fn command_error_name(error: &CommandError) -> &'static str {
    match error {
        CommandError::UnknownMaster(_) => "unknown_master",
        CommandError::MasterInactive(_) => "master_inactive",
        CommandError::EmptyName => "empty_name",
        CommandError::NameTooLong { .. } => "name_too_long",
        CommandError::TooManyItems { .. } => "too_many_items",
        CommandError::DuplicateName(_) => "duplicate_name",
        CommandError::ServiceOwnedByAnother { .. } => "service_owned_by_another",
        CommandError::UnknownService(_) => "unknown_service",
        CommandError::ServiceNotOwned(_) => "service_not_owned",
        CommandError::UnknownBuildRequest(_) => "unknown_build_request",
        CommandError::DuplicateBuildRequest(_) => "duplicate_build_request",
        CommandError::BuildRequestAlreadyClaimed { .. } => "build_request_already_claimed",
        CommandError::BuildRequestNotClaimedByMaster(_) => "build_request_not_claimed_by_master",
        CommandError::BuildRequestComplete(_) => "build_request_complete",
        CommandError::UnknownBuild(_) => "unknown_build",
        CommandError::BuildNotOwnedByMaster(_) => "build_not_owned_by_master",
        CommandError::BuildAlreadyFinished(_) => "build_already_finished",
    }
}

pub(super) const COMMAND_ERROR_VARIANTS: usize = 17;

pub(super) fn request_errors() -> Vec<RequestError> {
    let mut errors: Vec<RequestError> =
        command_errors().into_iter().map(RequestError::Refused).collect();
    errors.extend([
        RequestError::NotThisSession { session: Some(MasterId(2)) },
        RequestError::NotThisSession { session: None },
        RequestError::WrongName { hello: "m1".into() },
        RequestError::LimitReached { rows: "build requests".into(), limit: 1_000_000 },
        RequestError::NotConfigured { worker: "w9".into() },
        RequestError::DaemonOnly { command: "expire_masters".into() },
    ]);
    errors
}

pub(super) fn request_error_name(error: &RequestError) -> &'static str {
    match error {
        RequestError::Refused(_) => "refused",
        RequestError::NotThisSession { .. } => "not_this_session",
        RequestError::WrongName { .. } => "wrong_name",
        RequestError::LimitReached { .. } => "limit_reached",
        RequestError::NotConfigured { .. } => "not_configured",
        RequestError::DaemonOnly { .. } => "daemon_only",
    }
}

pub(super) const REQUEST_ERROR_VARIANTS: usize = 6;

pub(super) fn to_workers() -> Vec<ToWorker> {
    vec![
        ToWorker::Welcome,
        ToWorker::BuilderList { builders: vec!["linux".to_string(), "mac".to_string()].into() },
        ToWorker::Rejected { reason: RejectReason::AuthenticationFailed },
        ToWorker::Rejected { reason: RejectReason::DuplicateConnection },
        ToWorker::Ping { nonce: 42 },
        ToWorker::KeepaliveAck,
    ]
}

pub(super) fn to_worker_name(message: &ToWorker) -> &'static str {
    match message {
        ToWorker::Welcome => "welcome",
        ToWorker::BuilderList { .. } => "builder_list",
        ToWorker::Rejected { .. } => "rejected",
        ToWorker::Ping { .. } => "ping",
        ToWorker::KeepaliveAck => "keepalive_ack",
    }
}

pub(super) const TO_WORKER_VARIANTS: usize = 5;

pub(super) fn client_messages() -> Vec<ClientMessage> {
    let mut messages = vec![
        ClientMessage::hello(Role::Master { name: "m1".into(), token: Token::new("s3cret") }),
        ClientMessage::Hello {
            protocol_version: 3,
            role: Role::Worker { name: "w1".into(), password: Password::new("pw") },
            min_protocol_version: None,
        },
        ClientMessage::Keepalive,
        ClientMessage::Pong { nonce: 42 },
        ClientMessage::BuilderListAck,
    ];
    messages.extend(
        commands()
            .into_iter()
            .zip(1..)
            .map(|(command, request_id)| ClientMessage::Request { request_id, command }),
    );
    messages
}

pub(super) fn client_message_name(message: &ClientMessage) -> &'static str {
    match message {
        ClientMessage::Hello { .. } => "hello",
        ClientMessage::Keepalive => "keepalive",
        ClientMessage::Pong { .. } => "pong",
        ClientMessage::BuilderListAck => "builder_list_ack",
        ClientMessage::Request { .. } => "request",
    }
}

pub(super) const CLIENT_MESSAGE_VARIANTS: usize = 5;

pub(super) fn server_messages() -> Vec<ServerMessage> {
    let mut messages: Vec<ServerMessage> =
        to_workers().into_iter().map(ServerMessage::Worker).collect();
    messages.extend([
        ServerMessage::MasterWelcome,
        ServerMessage::Welcome { protocol_version: 3 },
        ServerMessage::Goodbye { reason: "the master is shutting down".into() },
        ServerMessage::NotLeader { leader: Some("10.0.0.2:9989".into()) },
        ServerMessage::NotLeader { leader: None },
    ]);
    let results = replies().into_iter().map(Ok).chain(request_errors().into_iter().map(Err));
    messages.extend(
        results.zip(1..).map(|(result, request_id)| ServerMessage::Reply { request_id, result }),
    );
    messages
}

pub(super) fn server_message_name(message: &ServerMessage) -> &'static str {
    match message {
        ServerMessage::Worker(_) => "worker",
        ServerMessage::MasterWelcome => "master_welcome",
        ServerMessage::Reply { .. } => "reply",
        ServerMessage::Goodbye { .. } => "goodbye",
        ServerMessage::NotLeader { .. } => "not_leader",
        ServerMessage::Welcome { .. } => "welcome",
    }
}

pub(super) const SERVER_MESSAGE_VARIANTS: usize = 6;
