//! The baselines: the simplest code that does the same job, the way Buildbot does it.
//!
//! Buildbot's `expireMasters` reads every master and compares its `last_active` with the
//! window; [`NaiveRegistry`] is that loop over a `Vec`, with no database in the way, so it
//! is the fastest a full scan can be. [`NaiveGateway`] attaches a worker with one hash
//! lookup and a password comparison and nothing else: the floor for an attach.

use std::collections::HashMap;
use std::sync::Arc;

/// One master as a full-scan registry keeps it.
#[derive(Clone, Debug)]
pub struct NaiveMaster {
    pub id: u64,
    pub name: String,
    pub active: bool,
    pub last_active_ms: u64,
}

/// A registry whose expiry looks at every master: Buildbot's loop without its database.
#[derive(Debug)]
pub struct NaiveRegistry {
    pub masters: Vec<NaiveMaster>,
    ids_by_name: HashMap<String, usize>,
    expiry_window_ms: u64,
}

impl NaiveRegistry {
    pub fn new(expiry_window_ms: u64) -> Self {
        NaiveRegistry { masters: Vec::new(), ids_by_name: HashMap::new(), expiry_window_ms }
    }

    /// masterActive: find or create by name, mark active, stamp `now_ms`.
    pub fn master_active(&mut self, name: &str, now_ms: u64) -> u64 {
        if let Some(&index) = self.ids_by_name.get(name) {
            let master = &mut self.masters[index];
            master.active = true;
            master.last_active_ms = now_ms;
            return master.id;
        }
        let id = self.masters.len() as u64 + 1;
        self.ids_by_name.insert(name.to_owned(), self.masters.len());
        self.masters.push(NaiveMaster {
            id,
            name: name.to_owned(),
            active: true,
            last_active_ms: now_ms,
        });
        id
    }

    /// expireMasters: look at every master, compare, deactivate. Returns the ids expired.
    pub fn expire(&mut self, now_ms: u64) -> Vec<u64> {
        let mut expired = Vec::new();
        for master in &mut self.masters {
            if master.active && master.last_active_ms.saturating_add(self.expiry_window_ms) < now_ms
            {
                master.active = false;
                expired.push(master.id);
            }
        }
        expired
    }
}

/// One configured worker as the naive gateway keeps it.
#[derive(Debug)]
struct NaiveWorker {
    password: String,
    builders: Arc<[String]>,
    attached: Option<u64>,
}

/// What an attach answers: the welcome and the builder list.
#[derive(Debug)]
pub enum NaiveReply {
    Welcome,
    Builders(Arc<[String]>),
    Rejected,
}

/// A gateway reduced to a hash map of workers: look the name up, compare the password,
/// remember the connection, answer with the builder list.
#[derive(Debug, Default)]
pub struct NaiveGateway {
    workers: HashMap<String, NaiveWorker>,
    connections: HashMap<u64, String>,
}

impl NaiveGateway {
    pub fn add_worker(&mut self, name: &str, password: &str, builders: Arc<[String]>) {
        let worker = NaiveWorker { password: password.to_owned(), builders, attached: None };
        self.workers.insert(name.to_owned(), worker);
    }

    pub fn hello(
        &mut self,
        connection: u64,
        name: String,
        password: &str,
        out: &mut Vec<NaiveReply>,
    ) {
        let Some(worker) = self.workers.get_mut(&name) else {
            out.push(NaiveReply::Rejected);
            return;
        };
        if worker.password != password {
            out.push(NaiveReply::Rejected);
            return;
        }
        if let Some(old) = worker.attached.replace(connection) {
            self.connections.remove(&old);
        }
        out.push(NaiveReply::Welcome);
        out.push(NaiveReply::Builders(Arc::clone(&worker.builders)));
        self.connections.insert(connection, name);
    }

    pub fn closed(&mut self, connection: u64) {
        if let Some(name) = self.connections.remove(&connection) {
            if let Some(worker) = self.workers.get_mut(&name) {
                worker.attached = None;
            }
        }
    }
}
