//! The `rollcall` command line.

use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Duration;

use clap::{Parser, Subcommand};
use rollcall_core::Password;

use crate::client::{run_master, run_worker, MasterOptions, WorkerOptions};
use crate::config::Config;

#[derive(Debug, Parser)]
#[command(name = "rollcall", version, about = "Coordination core for clusters of build masters")]
struct Cli {
    #[command(subcommand)]
    command: CliCommand,
}

#[derive(Debug, Subcommand)]
enum CliCommand {
    /// Run the daemon (on the embedded default when no --config is given).
    Serve {
        #[arg(long, value_name = "FILE")]
        config: Option<PathBuf>,
        /// Record every core input, with its moment, as JSON lines (see the README).
        #[arg(long, value_name = "FILE")]
        record: Option<PathBuf>,
    },
    /// Feed a recorded trace to a fresh core and print the state it reaches, in REST shape.
    Replay {
        #[arg(value_name = "FILE")]
        trace: PathBuf,
    },
    /// Check a configuration file without starting anything.
    CheckConfig {
        #[arg(value_name = "FILE")]
        file: PathBuf,
    },
    /// Attach to a daemon as a worker; print the builder lists it pushes.
    Worker {
        #[arg(long, value_name = "ADDR", default_value = "127.0.0.1:9989")]
        connect: String,
        #[arg(long)]
        name: String,
        /// The worker's password (or set ROLLCALL_WORKER_PASSWORD, which `ps` cannot see).
        #[arg(long, env = "ROLLCALL_WORKER_PASSWORD", hide_env_values = true)]
        password: String,
        #[arg(long, value_name = "SECONDS", default_value_t = 30)]
        keepalive_interval_s: u64,
        /// Exit when the connection is lost instead of reconnecting.
        #[arg(long)]
        once: bool,
    },
    /// Register a remote master, heartbeat until SIGTERM, then stop it.
    Master {
        #[arg(long, value_name = "ADDR", default_value = "127.0.0.1:9989")]
        connect: String,
        #[arg(long)]
        name: String,
        /// Builders this master serves, comma-separated.
        #[arg(long, value_delimiter = ',')]
        builders: Vec<String>,
        #[arg(long, value_name = "SECONDS", default_value_t = 60)]
        heartbeat_interval_s: u64,
    },
}

/// Runs the command line and returns the process's exit code.
pub fn main() -> ExitCode {
    crate::logging::init();
    let cli = Cli::parse();
    let outcome: Result<(), Box<dyn std::error::Error>> = match cli.command {
        CliCommand::Serve { config, record } => serve(config, record),
        CliCommand::Replay { trace } => replay(&trace),
        CliCommand::CheckConfig { file } => match Config::load(&file) {
            Ok(config) => {
                println!(
                    "{}: OK ({} workers, {} builders)",
                    file.display(),
                    config.workers.len(),
                    config.builders.len()
                );
                Ok(())
            }
            Err(error) => Err(error.into()),
        },
        CliCommand::Worker { connect, name, password, keepalive_interval_s, once } => {
            smol::block_on(run_worker(WorkerOptions {
                address: connect,
                name,
                password: Password::new(password),
                keepalive_interval: Duration::from_secs(keepalive_interval_s.max(1)),
                once,
            }))
        }
        CliCommand::Master { connect, name, builders, heartbeat_interval_s } => {
            smol::block_on(run_master(MasterOptions {
                address: connect,
                name,
                builders,
                heartbeat_interval: Duration::from_secs(heartbeat_interval_s.max(1)),
            }))
        }
    };
    match outcome {
        Ok(()) => ExitCode::SUCCESS,
        Err(error) => {
            eprintln!("rollcall: {error}");
            ExitCode::FAILURE
        }
    }
}

fn serve(
    config: Option<PathBuf>,
    record: Option<PathBuf>,
) -> Result<(), Box<dyn std::error::Error>> {
    let config = match config {
        Some(path) => Config::load(&path)?,
        None => Config::embedded_default()?,
    };
    crate::daemon::serve(config, record.as_deref())?;
    Ok(())
}

fn replay(trace: &std::path::Path) -> Result<(), Box<dyn std::error::Error>> {
    let file =
        std::fs::File::open(trace).map_err(|error| format!("{}: {error}", trace.display()))?;
    let registry = crate::trace::replay(std::io::BufReader::new(file))?;
    println!("{}", serde_json::to_string_pretty(&crate::http::state_json(&registry))?);
    Ok(())
}
