//! A throw-away PostgreSQL 15 for one test or benchmark: its own data directory in a temp
//! dir, listening on a Unix socket there only (no TCP port to collide on; a server made
//! for TLS tests also listens on 127.0.0.1, TLS only), stopped and deleted on drop. Tests run it without fsync (nothing survives the test anyway);
//! benchmarks run it durable, as production does.
//!
//! `initdb` refuses to run as root, so as root every server command runs as the `postgres`
//! user (`runuser`), which owns the directory. The binaries are Debian's
//! (`/usr/lib/postgresql/15/bin`, or `ROLLCALL_PG_BIN`); without them the test fails and
//! says how to install them: it never skips. `.ci/run` installs them.

mod ports;
mod proxy;

pub use ports::free_port;
pub use proxy::Proxy;

use std::path::{Path, PathBuf};
use std::process::{Command, Output};
use std::time::{Duration, Instant};

/// The role the tests connect as (made by `initdb --username`, trusted on the socket).
pub const ROLE: &str = "rollcall";

#[derive(Debug)]
pub struct Postgres {
    /// The temp dir: `data/` is the cluster, the socket lives in the dir itself.
    root: tempfile::TempDir,
    bin: PathBuf,
    as_postgres_user: bool,
    durable: bool,
    /// When the server also listens on `127.0.0.1:port` with TLS only.
    tls_port: Option<u16>,
}

impl Postgres {
    /// Makes a new cluster and starts it, without fsync: for tests.
    pub fn start() -> Postgres {
        Postgres::start_with(false)
    }

    /// Makes a new cluster and starts it with fsync and synchronous commits, as a
    /// production server runs: for benchmarks of durable commits.
    pub fn start_durable() -> Postgres {
        Postgres::start_with(true)
    }

    /// Makes a new cluster that also listens on `127.0.0.1` (a free port), with TLS only
    /// there: `certificate` and `key` (PEM) are the server's; a session in the clear over
    /// TCP is rejected, the Unix socket stays open to the test itself.
    pub fn start_with_tls(certificate: &Path, key: &Path) -> Postgres {
        Postgres::start_with_options(false, Some((certificate, key)))
    }

    fn start_with(durable: bool) -> Postgres {
        Postgres::start_with_options(durable, None)
    }

    fn start_with_options(durable: bool, tls: Option<(&Path, &Path)>) -> Postgres {
        let bin = std::env::var_os("ROLLCALL_PG_BIN")
            .map_or_else(|| PathBuf::from("/usr/lib/postgresql/15/bin"), PathBuf::from);
        assert!(
            bin.join("initdb").is_file(),
            "PostgreSQL 15's server binaries are not in {} (install Debian's postgresql-15, \
             or set ROLLCALL_PG_BIN): the cluster tests need a real PostgreSQL",
            bin.display()
        );
        let root = tempfile::Builder::new().prefix("rollcall-pg-").tempdir().expect("temp dir");
        let as_postgres_user = is_root();
        if as_postgres_user {
            run(Command::new("chown").arg("postgres:postgres").arg(root.path()));
        }
        let tls_port = tls.map(|_| free_port());
        let postgres = Postgres { root, bin, as_postgres_user, durable, tls_port };
        let data = postgres.data_dir();
        postgres.server_command("initdb", |command| {
            command
                .arg("--pgdata")
                .arg(&data)
                .args(["--username", ROLE, "--auth", "trust", "--no-sync", "--encoding", "UTF8"])
                .args(["--locale", "C"]);
        });
        if let Some((certificate, key)) = tls {
            postgres.install_tls(certificate, key);
        }
        postgres.start_again();
        postgres
    }

    fn data_dir(&self) -> PathBuf {
        self.root.path().join("data")
    }

    /// The server's Unix socket itself.
    pub fn socket_path(&self) -> PathBuf {
        let port = self.tls_port.unwrap_or(5432);
        self.socket_dir().join(format!(".s.PGSQL.{port}"))
    }

    /// The socket's directory: what `host=` names.
    pub fn socket_dir(&self) -> &Path {
        self.root.path()
    }

    /// A libpq connection string for the `postgres` database as [`ROLE`], on the socket.
    pub fn url(&self) -> String {
        let port = self.tls_port.map_or_else(String::new, |port| format!(" port={port}"));
        format!("host={} user={ROLE} dbname=postgres{port}", self.socket_dir().display())
    }

    /// A connection string to the TLS listener (`127.0.0.1`), TLS required.
    ///
    /// # Panics
    ///
    /// When the server was not started with TLS.
    pub fn tls_url(&self) -> String {
        let port = self.tls_port.expect("a server started with TLS");
        format!("host=127.0.0.1 port={port} user={ROLE} dbname=postgres sslmode=require")
    }

    /// The server's certificate and key where it reads them (owned by the server's user,
    /// private), and a `pg_hba.conf` that trusts the socket and TLS on 127.0.0.1 only.
    fn install_tls(&self, certificate: &Path, key: &Path) {
        let data = self.data_dir();
        for (from, name) in [(certificate, "server.crt"), (key, "server.key")] {
            let to = data.join(name);
            std::fs::copy(from, &to).unwrap_or_else(|error| panic!("copy {name}: {error}"));
            if self.as_postgres_user {
                run(Command::new("chown").arg("postgres:postgres").arg(&to));
            }
            run(Command::new("chmod").arg("600").arg(&to));
        }
        let rules = "local all all trust\n\
                     hostssl all all 127.0.0.1/32 trust\n\
                     hostnossl all all 0.0.0.0/0 reject\n";
        std::fs::write(data.join("pg_hba.conf"), rules).expect("write pg_hba.conf");
    }

    /// A direct session, for what a test checks or changes behind rollcall's back.
    pub fn client(&self) -> postgres::Client {
        postgres::Client::connect(&self.url(), postgres::NoTls)
            .expect("connect to the test PostgreSQL")
    }

    /// Starts the server (again), waiting until it accepts sessions.
    pub fn start_again(&self) {
        let data = self.data_dir();
        let log = self.root.path().join("server.log");
        let fsync = if self.durable { "on" } else { "off" };
        let listen = match self.tls_port {
            Some(port) => format!(
                "-c listen_addresses='127.0.0.1' -c port={port} -c ssl=on \
                 -c ssl_cert_file=server.crt -c ssl_key_file=server.key"
            ),
            None => "-c listen_addresses=''".to_string(),
        };
        let options = format!(
            "{listen} -c unix_socket_directories='{}' -c fsync={fsync} -c max_connections=50",
            self.socket_dir().display()
        );
        self.server_command("pg_ctl", |command| {
            command.arg("start").arg("--pgdata").arg(&data).arg("--log").arg(&log);
            command.args(["--wait", "--timeout", "60", "-o", &options]);
        });
        let deadline = Instant::now() + Duration::from_secs(30);
        while postgres::Client::connect(&self.url(), postgres::NoTls).is_err() {
            assert!(Instant::now() < deadline, "the test PostgreSQL does not accept sessions");
            std::thread::sleep(Duration::from_millis(50));
        }
    }

    /// Stops the server at once (`pg_ctl stop -m immediate`): a crash, as far as clients see.
    pub fn stop_immediate(&self) {
        let data = self.data_dir();
        self.server_command("pg_ctl", |command| {
            command.arg("stop").arg("--pgdata").arg(&data).args(["-m", "immediate", "--wait"]);
        });
    }

    fn server_command(&self, program: &str, arguments: impl FnOnce(&mut Command)) -> Output {
        let mut command = self.command(program);
        arguments(&mut command);
        run(&mut command)
    }

    /// One of the server's programs, run as the `postgres` user when this process is root.
    fn command(&self, program: &str) -> Command {
        let path = self.bin.join(program);
        if self.as_postgres_user {
            let mut command = Command::new("runuser");
            command.args(["-u", "postgres", "--"]).arg(path);
            command
        } else {
            Command::new(path)
        }
    }
}

impl Drop for Postgres {
    fn drop(&mut self) {
        let data = self.data_dir();
        let mut command = self.command("pg_ctl");
        // Already stopped is fine: the temp dir goes either way.
        let _ = command.arg("stop").arg("--pgdata").arg(&data).args(["-m", "immediate"]).output();
    }
}

fn is_root() -> bool {
    let output = Command::new("id").arg("-u").output().expect("run id -u");
    String::from_utf8_lossy(&output.stdout).trim() == "0"
}

fn run(command: &mut Command) -> Output {
    let output = command.output().unwrap_or_else(|error| panic!("cannot run {command:?}: {error}"));
    assert!(
        output.status.success(),
        "{command:?} failed ({}):\n{}\n{}",
        output.status,
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    );
    output
}
