//! Remote masters' sessions: what each may ask, and where its answers go.

use crate::registry::RequestKey;
use crate::{Command, ConnectionId, MasterId, Reply, Timestamp};

use super::{
    row_caps, token_matches, Node, NodeEvent, NodeOutput, RequestError, SessionCloseReason,
    TokenDigest,
};

/// A remote master's session.
#[derive(Debug)]
pub(super) struct Session {
    /// The name it said Hello with (and proved with its token).
    pub(super) hello_name: String,
    /// The master its `MasterActive` registered; `None` until then.
    pub(super) master: Option<MasterId>,
    /// The digest of the token it proved itself with: a reconfig that drops it closes
    /// the session.
    pub(super) token: TokenDigest,
}

impl Node {
    pub(super) fn open_session(
        &mut self,
        connection: ConnectionId,
        hello_name: String,
        token: TokenDigest,
    ) {
        // The own name is never configured for a remote master (validation refuses it), so
        // it gets the same answer as any unknown name: a refusal tells nothing about which
        // names exist.
        if !token_matches(&self.config.masters, &hello_name, &token) {
            let reason = SessionCloseReason::AuthenticationFailed;
            let event = NodeEvent::SessionRefused { connection, name: hello_name };
            self.batches.hold(NodeOutput::Event(event));
            self.batches.hold(NodeOutput::CloseSession { connection, reason });
            return;
        }
        if hello_name == self.config.master_name {
            // Unreachable through a validated configuration; a session for the Node's own
            // master could stop it or act for it.
            let reason = SessionCloseReason::OwnMasterName;
            self.batches.hold(NodeOutput::CloseSession { connection, reason });
            return;
        }
        self.sessions.insert(connection, Session { hello_name, master: None, token });
        self.batches.hold(NodeOutput::SessionWelcome { connection });
    }

    /// After a reconfig: a removed master, or a rotated-out token, is refused from now on,
    /// live sessions too.
    pub(super) fn close_deauthorized_sessions(&mut self) {
        let masters = &self.config.masters;
        let revoked: Vec<ConnectionId> = self
            .sessions
            .iter()
            .filter(|(_, session)| !token_matches(masters, &session.hello_name, &session.token))
            .map(|(connection, _)| *connection)
            .collect();
        for connection in revoked {
            self.sessions.remove(&connection);
            let reason = SessionCloseReason::Deauthorized;
            self.batches.hold(NodeOutput::CloseSession { connection, reason });
        }
    }

    /// The sessions bound to `master`, which the registry expired.
    pub(super) fn close_sessions_of(&mut self, master: MasterId) {
        let bound: Vec<ConnectionId> = self
            .sessions
            .iter()
            .filter(|(_, session)| session.master == Some(master))
            .map(|(connection, _)| *connection)
            .collect();
        for connection in bound {
            self.sessions.remove(&connection);
            let reason = SessionCloseReason::Expired;
            self.batches.hold(NodeOutput::CloseSession { connection, reason });
        }
    }

    pub(super) fn session_request(
        &mut self,
        now: Timestamp,
        connection: ConnectionId,
        request_id: u64,
        command: Command,
    ) {
        // A request on a connection with no session: one that already closed.
        let Some(session) = self.sessions.get(&connection) else { return };
        let super::Seat::Serving(registry) = &self.seat else {
            unreachable!("a standby holds no sessions: they close when it is deposed")
        };
        let refusal = session_refusal(session, &command)
            .or_else(|| row_caps::check_ownership(registry, &command).err())
            .or_else(|| row_caps::check(registry, &command, self.config.row_caps).err());
        if let Some(error) = refusal {
            self.batches.hold(NodeOutput::Reply { connection, request_id, result: Err(error) });
            return;
        }
        let binds = matches!(command, Command::MasterActive { .. });
        let key = RequestKey { master: session.hello_name.clone(), request_id };
        let result = self.answered(now, command, Some(key));
        if let (true, Ok(Reply::Master(id))) = (binds, &result) {
            if let Some(session) = self.sessions.get_mut(&connection) {
                session.master = Some(*id);
            }
        }
        let result = result.map_err(RequestError::Refused);
        self.batches.hold(NodeOutput::Reply { connection, request_id, result });
    }
}

/// A session speaks only for the master it registered under its Hello's name, and never
/// sends what only a Node sends for itself.
fn session_refusal(session: &Session, command: &Command) -> Option<RequestError> {
    let daemon_only = |command: &str| Some(RequestError::DaemonOnly { command: command.into() });
    match command {
        Command::MasterActive { name } if *name != session.hello_name => {
            Some(RequestError::WrongName { hello: session.hello_name.clone() })
        }
        Command::MasterActive { .. } => None,
        Command::ExpireMasters { .. } => daemon_only("ExpireMasters"),
        Command::RegisterMaster { .. } => daemon_only("RegisterMaster"),
        Command::RecoverCrashedMaster { .. } => daemon_only("RecoverCrashedMaster"),
        command => match command_master(command) {
            Some(target) if Some(target) == session.master => None,
            _ => Some(RequestError::NotThisSession { session: session.master }),
        },
    }
}

/// The master a command acts for, where it names one.
fn command_master(command: &Command) -> Option<MasterId> {
    match command {
        Command::MasterActive { .. }
        | Command::ExpireMasters { .. }
        | Command::RegisterMaster { .. } => None,
        Command::MasterStopped { master }
        | Command::RecoverCrashedMaster { master }
        | Command::SetBuilderList { master, .. }
        | Command::SetConfiguredWorkers { master, .. }
        | Command::ClaimService { master, .. }
        | Command::ReleaseService { master, .. }
        | Command::SubmitBuildRequest { master, .. }
        | Command::ClaimBuildRequests { master, .. }
        | Command::UnclaimBuildRequests { master, .. }
        | Command::CompleteBuildRequests { master, .. }
        | Command::StartBuild { master, .. }
        | Command::FinishBuild { master, .. }
        | Command::WorkerConnected { master, .. }
        | Command::WorkerDisconnected { master, .. } => Some(*master),
    }
}
