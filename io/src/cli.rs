//! The `rollcall` command line.

use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Duration;

use clap::{Parser, Subcommand};
use rollcall_core::Password;

use crate::client::{run_master, run_worker, MasterOptions, Target, WorkerOptions};
use crate::config::Config;
use crate::credentials::Token;
use crate::tls::{ClientTls, ClientTlsOptions, TlsError};

#[derive(Debug, Parser)]
#[command(name = "rollcall", version, about = "Coordination core for clusters of build masters")]
struct Cli {
    #[command(subcommand)]
    command: CliCommand,
    /// How log lines are written (for `serve`, over the config's `[log] format`).
    #[arg(long, global = true, value_enum, env = "ROLLCALL_LOG_FORMAT", value_name = "FORMAT")]
    log_format: Option<crate::logging::LogFormat>,
}

#[derive(Debug, Subcommand)]
enum CliCommand {
    /// Run the daemon (on the embedded default when no --config is given).
    ///
    /// The embedded default: workers and masters on 127.0.0.1:9989, HTTP (REST, /metrics,
    /// /healthz) on 127.0.0.1:8010, the data in ./rollcall-data, no workers configured.
    /// SIGHUP reloads the configuration file; SIGTERM or SIGINT stop cleanly.
    #[command(verbatim_doc_comment)]
    Serve {
        /// The configuration file (TOML; `check-config --print FILE` shows every setting
        /// with its default). Default: the embedded default above.
        #[arg(long, value_name = "FILE")]
        config: Option<PathBuf>,
        /// Record every core input, with its moment, as JSON lines (see the README).
        #[arg(long, value_name = "FILE")]
        record: Option<PathBuf>,
        /// Write the process id to FILE once every port listens (removed at a clean stop):
        /// `kill -HUP "$(cat FILE)"` reloads the configuration.
        #[arg(long, value_name = "FILE")]
        pid_file: Option<PathBuf>,
    },
    /// Feed a recorded trace to a fresh core and print the state it reaches, in REST shape.
    Replay {
        /// A trace written by `serve --record FILE`.
        #[arg(value_name = "FILE")]
        trace: PathBuf,
    },
    /// Check a configuration file without starting anything.
    CheckConfig {
        /// The configuration file to check.
        #[arg(value_name = "FILE")]
        file: PathBuf,
        /// Print the effective configuration, every default filled in, secrets redacted.
        #[arg(long)]
        print: bool,
    },
    /// Attach to a daemon as a worker; print the builder lists it pushes.
    Worker {
        #[command(flatten)]
        connect: ConnectArgs,
        /// The worker's name, as the daemon's `[[workers]]` configures it.
        #[arg(long)]
        name: String,
        /// The worker's password (or set ROLLCALL_WORKER_PASSWORD, which `ps` cannot see).
        #[arg(long, env = "ROLLCALL_WORKER_PASSWORD", hide_env_values = true)]
        password: String,
        /// How often to send a keepalive (the daemon drops a worker silent for its
        /// keepalive timeout, 180 s by default).
        #[arg(long, value_name = "SECONDS", default_value_t = 30)]
        keepalive_interval_s: u64,
        /// Exit when the connection is lost instead of reconnecting.
        #[arg(long)]
        once: bool,
        #[command(flatten)]
        tls: TlsArgs,
    },
    /// Register a remote master, heartbeat until SIGTERM, then stop it.
    Master {
        #[command(flatten)]
        connect: ConnectArgs,
        /// The master's name, as the daemon's `[[masters]]` lists it (`host:/basedir`).
        #[arg(long)]
        name: String,
        /// A file holding this master's token (its first line), or set
        /// ROLLCALL_MASTER_TOKEN; never on the command line, where `ps` shows it.
        #[arg(long, value_name = "FILE")]
        token_file: Option<PathBuf>,
        /// Builders this master serves, comma-separated.
        #[arg(long, value_delimiter = ',')]
        builders: Vec<String>,
        /// How often to say masterActive (the daemon expires a master silent for its
        /// expiry window, 600 s by default).
        #[arg(long, value_name = "SECONDS", default_value_t = 60)]
        heartbeat_interval_s: u64,
        #[command(flatten)]
        tls: TlsArgs,
    },
    /// Write a backup of the registry as JSON lines: of a running daemon (through its
    /// control socket, one committed state) or of a stopped data dir.
    ///
    /// Run it as the daemon's user: the control socket and the data dir are that user's
    /// only. Restore with `rollcall import`.
    #[command(verbatim_doc_comment)]
    Export {
        /// The daemon's configuration file (it names the data dir). Default: the embedded
        /// default's (./rollcall-data).
        #[arg(long, value_name = "FILE")]
        config: Option<PathBuf>,
        /// Write the dump to FILE (whole or not at all: it is written beside it and renamed
        /// once complete). Default: standard output.
        #[arg(long, short, value_name = "FILE")]
        output: Option<PathBuf>,
    },
    /// Load a dump written by `rollcall export` into an empty data dir (the daemon
    /// stopped); the whole dump is checked before anything is written.
    Import {
        /// The configuration file naming the data dir to fill. Default: the embedded
        /// default's (./rollcall-data).
        #[arg(long, value_name = "FILE")]
        config: Option<PathBuf>,
        /// The dump (`-` for standard input).
        #[arg(value_name = "DUMP")]
        dump: PathBuf,
    },
    /// Master tokens.
    Token {
        #[command(subcommand)]
        command: TokenCommand,
    },
}

/// Where a client finds the daemon, or a cluster's leader.
#[derive(Debug, clap::Args)]
struct ConnectArgs {
    /// The daemon's address; for a cluster, its nodes' addresses, comma-separated (the
    /// client follows whichever leads).
    #[arg(
        long = "connect",
        value_name = "ADDR[,ADDR...]",
        value_delimiter = ',',
        default_value = "127.0.0.1:9989"
    )]
    addresses: Vec<String>,
}

/// How a client reaches a daemon with `[tls]`.
#[derive(Debug, clap::Args)]
struct TlsArgs {
    /// Connect over TLS, verifying the daemon's certificate.
    #[arg(long)]
    tls: bool,
    /// PEM file of the CA that signed the daemon's certificate (default: the system's CAs).
    #[arg(long, value_name = "FILE", requires = "tls")]
    ca: Option<PathBuf>,
    /// PEM certificate chain to present (a master, to a daemon with `[tls] client_ca`).
    #[arg(long, value_name = "FILE", requires_all = ["tls", "key"])]
    cert: Option<PathBuf>,
    /// PEM private key of --cert.
    #[arg(long, value_name = "FILE", requires = "cert")]
    key: Option<PathBuf>,
    /// The name the daemon's certificate must carry (default: the host of --connect).
    #[arg(long, value_name = "NAME", requires = "tls")]
    server_name: Option<String>,
}

impl TlsArgs {
    fn client_tls(self) -> Result<Option<ClientTls>, TlsError> {
        if !self.tls {
            return Ok(None);
        }
        let options = ClientTlsOptions {
            ca: self.ca,
            certificate: self.cert,
            private_key: self.key,
            server_name: self.server_name,
            ..ClientTlsOptions::default()
        };
        ClientTls::new(&options).map(Some)
    }
}

#[derive(Debug, Subcommand)]
enum TokenCommand {
    /// Print a new random master token, and the `token_sha256` line for `[[masters]]`.
    New,
}

/// Runs the command line and returns the process's exit code.
pub fn main() -> ExitCode {
    let cli = Cli::parse();
    // The daemon's log starts once its config is read (it may name the format).
    if !matches!(cli.command, CliCommand::Serve { .. }) {
        crate::logging::init(cli.log_format.unwrap_or_default());
    }
    let outcome: Result<(), Box<dyn std::error::Error>> = match cli.command {
        CliCommand::Serve { config, record, pid_file } => {
            serve(config, record, pid_file, cli.log_format)
        }
        CliCommand::Replay { trace } => replay(&trace),
        CliCommand::CheckConfig { file, print } => check_config(&file, print),
        CliCommand::Worker { connect, name, password, keepalive_interval_s, once, tls } => {
            match tls.client_tls() {
                Ok(tls) => smol::block_on(run_worker(WorkerOptions {
                    addresses: connect.addresses,
                    name,
                    password: Password::new(password),
                    keepalive_interval: Duration::from_secs(keepalive_interval_s.max(1)),
                    once,
                    tls,
                })),
                Err(error) => Err(error.into()),
            }
        }
        CliCommand::Master { connect, name, token_file, builders, heartbeat_interval_s, tls } => {
            let options = master_token(token_file.as_deref()).and_then(|token| {
                Ok((token, tls.client_tls().map_err(|error| error.to_string())?))
            });
            match options {
                Ok((token, tls)) => smol::block_on(run_master(MasterOptions {
                    target: Target { addresses: connect.addresses, name, token, tls },
                    builders,
                    heartbeat_interval: Duration::from_secs(heartbeat_interval_s.max(1)),
                })),
                Err(error) => Err(error.into()),
            }
        }
        CliCommand::Export { config, output } => export(config, output),
        CliCommand::Import { config, dump } => import(config, &dump),
        CliCommand::Token { command: TokenCommand::New } => new_token(),
    };
    match outcome {
        Ok(()) => ExitCode::SUCCESS,
        Err(error) => {
            eprintln!("rollcall: {error}");
            ExitCode::FAILURE
        }
    }
}

/// Loads the file and its TLS files as `serve` would, without starting anything.
fn check_config(file: &std::path::Path, print: bool) -> Result<(), Box<dyn std::error::Error>> {
    let config = Config::load(file)?;
    let tls = crate::tls::ServerTls::new()?;
    tls.prepare(config.tls.as_ref())?;
    if print {
        print!("{}", config.effective_toml());
        return Ok(());
    }
    let transport = match &config.tls {
        Some(tls) if tls.client_ca.is_some() => {
            "TLS on every port, client certificates for masters"
        }
        Some(_) => "TLS on every port",
        None => "every port in the clear",
    };
    let storage = match &config.cluster {
        Some(cluster) => format!(
            "cluster node {:?} advertised at {} on {}, lease {} s renewed every {} s",
            cluster.node,
            cluster.advertise,
            crate::config::describe_postgres(&cluster.postgres),
            cluster.lease_ttl_s,
            cluster.renew_interval_s
        ),
        None => format!("fjall in {}", config.master.data_dir.display()),
    };
    println!(
        "{}: OK ({}, {}, {}; {transport}; {storage})",
        file.display(),
        counted(config.workers.len(), "worker"),
        counted(config.builders.len(), "builder"),
        counted(config.masters.len(), "remote master"),
    );
    Ok(())
}

/// `1 worker`, `2 workers`, `0 workers`.
fn counted(count: usize, noun: &str) -> String {
    if count == 1 {
        format!("1 {noun}")
    } else {
        format!("{count} {noun}s")
    }
}

/// The master's token: the first line of `--token-file`, else `ROLLCALL_MASTER_TOKEN`.
fn master_token(file: Option<&std::path::Path>) -> Result<Token, String> {
    match file {
        Some(path) => crate::credentials::read_token_file(path),
        None => {
            let text = std::env::var("ROLLCALL_MASTER_TOKEN").map_err(|_| {
                "a master needs its token: --token-file FILE or ROLLCALL_MASTER_TOKEN".to_string()
            })?;
            crate::credentials::token_from_text(&text)
        }
    }
}

fn new_token() -> Result<(), Box<dyn std::error::Error>> {
    let token = crate::credentials::new_master_token()?;
    let digest = crate::credentials::hex(&crate::credentials::sha256(token.as_bytes()));
    println!("{token}");
    println!("# In the daemon's [[masters]] entry for this master:");
    println!("token_sha256 = [\"{digest}\"]");
    Ok(())
}

fn serve(
    config: Option<PathBuf>,
    record: Option<PathBuf>,
    pid_file: Option<PathBuf>,
    log_format: Option<crate::logging::LogFormat>,
) -> Result<(), Box<dyn std::error::Error>> {
    let config = match config {
        Some(path) => Config::load(&path),
        None => Config::embedded_default(),
    };
    let format = log_format.or(config.as_ref().ok().map(|config| config.log_format));
    crate::logging::init(format.unwrap_or_default());
    let options =
        crate::daemon::ServeOptions { record: record.as_deref(), pid_file: pid_file.as_deref() };
    crate::daemon::serve(config?, &options)?;
    Ok(())
}

fn load_config(path: Option<PathBuf>) -> Result<Config, Box<dyn std::error::Error>> {
    Ok(match path {
        Some(path) => Config::load(&path)?,
        None => Config::embedded_default()?,
    })
}

fn export(
    config: Option<PathBuf>,
    output: Option<PathBuf>,
) -> Result<(), Box<dyn std::error::Error>> {
    let config = load_config(config)?;
    let exported = match &output {
        None => {
            let stdout = std::io::stdout();
            let mut out = std::io::BufWriter::new(stdout.lock());
            crate::backup::commands::export(&config, &mut out)?
        }
        Some(path) => {
            // Written beside the target and renamed only once whole, so FILE is never a
            // dump cut short.
            let directory = path.parent().filter(|parent| !parent.as_os_str().is_empty());
            let mut partial = tempfile::Builder::new()
                .prefix(".rollcall-export-")
                .tempfile_in(directory.unwrap_or(std::path::Path::new(".")))
                .map_err(|error| format!("cannot write beside {}: {error}", path.display()))?;
            let exported = {
                let mut out = std::io::BufWriter::new(partial.as_file_mut());
                crate::backup::commands::export(&config, &mut out)?
            };
            partial.as_file().sync_all()?;
            partial
                .persist(path)
                .map_err(|error| format!("cannot write {}: {}", path.display(), error.error))?;
            exported
        }
    };
    eprintln!(
        "rollcall: exported {} from the {} on {}",
        counted(usize::try_from(exported.rows).unwrap_or(usize::MAX), "row"),
        exported.source,
        config.master.data_dir.display()
    );
    Ok(())
}

fn import(
    config: Option<PathBuf>,
    dump: &std::path::Path,
) -> Result<(), Box<dyn std::error::Error>> {
    let config = load_config(config)?;
    let imported = if dump == std::path::Path::new("-") {
        let stdin = std::io::stdin();
        crate::backup::commands::import(&config, &mut stdin.lock())?
    } else {
        let file =
            std::fs::File::open(dump).map_err(|error| format!("{}: {error}", dump.display()))?;
        crate::backup::commands::import(&config, &mut std::io::BufReader::new(file))?
    };
    println!(
        "imported {} into {} (a dump of a {}, written by {})",
        counted(usize::try_from(imported.header.rows).unwrap_or(usize::MAX), "row"),
        config.master.data_dir.display(),
        imported.header.source,
        imported.header.written_by
    );
    Ok(())
}

fn replay(trace: &std::path::Path) -> Result<(), Box<dyn std::error::Error>> {
    let file =
        std::fs::File::open(trace).map_err(|error| format!("{}: {error}", trace.display()))?;
    let node = crate::trace::replay(std::io::BufReader::new(file))?;
    let registry = node.view().registry;
    println!("{}", serde_json::to_string_pretty(&crate::http::state_json(registry))?);
    Ok(())
}
