//! `rollcall-sim`: run one seed, sweep many, or check that seeds replay identically.
//!
//! Exit codes: 0 all passed, 1 a correctness (safety) failure, 2 a liveness failure,
//! 3 a crash (panic), 4 a determinism failure, 64 bad usage.

use std::process::ExitCode;
use std::time::Instant;

use rollcall_sim::{run_seed, FailureKind, Outcome, Overrides};

const USAGE: &str = "usage: rollcall-sim (--seed S | --seeds N [--first S]) [--check-determinism] \
[--masters M] [--workers W] [--hours H] [--jobs J]";

#[derive(Debug, Default)]
struct Options {
    first: u64,
    count: u64,
    check_determinism: bool,
    overrides: Overrides,
    /// Seeds run in parallel on this many threads; each seed's run stays single-threaded
    /// and deterministic.
    jobs: usize,
}

fn parse() -> Result<Options, String> {
    let jobs = std::thread::available_parallelism().map_or(1, std::num::NonZeroUsize::get);
    let mut options = Options { count: 1, jobs, ..Options::default() };
    let mut arguments = std::env::args().skip(1);
    let mut single = None;
    while let Some(flag) = arguments.next() {
        if flag == "--check-determinism" {
            options.check_determinism = true;
            continue;
        }
        let value = arguments.next().ok_or_else(|| format!("{flag} needs a value"))?;
        let number = |value: &str| {
            value.parse::<u64>().map_err(|_| format!("{flag}: {value:?} is not a number"))
        };
        match flag.as_str() {
            "--seed" => single = Some(number(&value)?),
            "--seeds" => options.count = number(&value)?,
            "--first" => options.first = number(&value)?,
            "--masters" => {
                options.overrides.masters =
                    Some(within(&flag, number(&value)?.max(1), MAX_MASTERS)?);
            }
            "--workers" => {
                options.overrides.workers = Some(within(&flag, number(&value)?, MAX_WORKERS)?);
            }
            "--hours" => options.overrides.hours = Some(number(&value)?.max(1)),
            "--jobs" => options.jobs = number(&value)?.max(1) as usize,
            other => return Err(format!("unknown flag {other}")),
        }
    }
    if let Some(seed) = single {
        options.first = seed;
        options.count = 1;
    }
    Ok(options)
}

/// Cluster sizes the simulator accepts: its event queue holds at most 2^23 pending events,
/// and a few per master and worker are pending at any moment, so these leave a wide margin
/// while refusing a size that would end in a panic (reported as a crash) instead.
const MAX_MASTERS: u64 = 10_000;
const MAX_WORKERS: u64 = 100_000;

fn within(flag: &str, value: u64, limit: u64) -> Result<usize, String> {
    if value > limit {
        return Err(format!("{flag} {value} is above the simulator's limit of {limit}"));
    }
    usize::try_from(value).map_err(|_| format!("{flag} {value} does not fit this machine"))
}

fn replay_command(seed: u64, options: &Options) -> String {
    let mut command = format!("cargo run --release -p rollcall-sim -- --seed {seed}");
    if let Some(masters) = options.overrides.masters {
        command.push_str(&format!(" --masters {masters}"));
    }
    if let Some(workers) = options.overrides.workers {
        command.push_str(&format!(" --workers {workers}"));
    }
    if let Some(hours) = options.overrides.hours {
        command.push_str(&format!(" --hours {hours}"));
    }
    command
}

fn main() -> ExitCode {
    let options = match parse() {
        Ok(options) => options,
        Err(error) => {
            eprintln!("rollcall-sim: {error}\n{USAGE}");
            return ExitCode::from(64);
        }
    };
    // Panics are reported as outcomes; keep their default message off the terminal.
    std::panic::set_hook(Box::new(|_| {}));
    let started = Instant::now();
    let seeds: Vec<u64> = (options.first..options.first.saturating_add(options.count)).collect();
    let results = run_all(&seeds, &options);
    let (mut events, mut simulated_ms, mut cluster_hours) = (0_u64, 0_u64, 0.0_f64);
    // Report the first failure in seed order, whatever thread found it.
    for (seed, settings, outcome, again) in results {
        let failure = match &outcome {
            Outcome::Passed { trace_hash, stats } => {
                events += stats.events;
                simulated_ms += stats.simulated_ms;
                cluster_hours += stats.simulated_ms as f64 / 3.6e6 * settings.masters as f64;
                match again {
                    Some(Outcome::Passed { trace_hash: second, .. }) if second == *trace_hash => {
                        None
                    }
                    Some(other) => {
                        Some((4, format!("determinism: trace {trace_hash:#x} then {other:?}")))
                    }
                    None => None,
                }
            }
            Outcome::Failed { violation, .. } => {
                let code = match violation.kind {
                    FailureKind::Correctness => 1,
                    FailureKind::Liveness => 2,
                };
                Some((code, format!("{:?} failure: {}", violation.kind, violation.message)))
            }
            Outcome::Crashed { message } => Some((3, format!("crash (panic): {message}"))),
        };
        if let Some((code, what)) = failure {
            eprintln!("FAILED {settings}");
            eprintln!("what broke: {what}");
            eprintln!("replay with: {}", replay_command(seed, &options));
            return ExitCode::from(code);
        }
    }
    let seconds = started.elapsed().as_secs_f64().max(1e-9);
    let hours = simulated_ms as f64 / 3.6e6;
    println!(
        "{} seeds passed{}: {:.1} simulated hours ({:.0} master-hours), {} events in {:.1} s wall: {:.0} events/s, {:.0} simulated hours per wall minute",
        options.count,
        if options.check_determinism { " twice with identical traces" } else { "" },
        hours,
        cluster_hours,
        events,
        seconds,
        events as f64 / seconds,
        hours / seconds * 60.0,
    );
    ExitCode::SUCCESS
}

type SeedResult = (u64, rollcall_sim::Settings, Outcome, Option<Outcome>);

/// Runs every seed (twice with `--check-determinism`), spread over `jobs` threads, and
/// returns the results in seed order.
fn run_all(seeds: &[u64], options: &Options) -> Vec<SeedResult> {
    let run = |seed: u64| {
        let (settings, outcome) = run_seed(seed, options.overrides);
        let again = (options.check_determinism && matches!(outcome, Outcome::Passed { .. }))
            .then(|| run_seed(seed, options.overrides).1);
        (seed, settings, outcome, again)
    };
    let chunk = seeds.len().div_ceil(options.jobs.max(1)).max(1);
    std::thread::scope(|scope| {
        let handles: Vec<_> = seeds
            .chunks(chunk)
            .map(|part| scope.spawn(move || part.iter().map(|&seed| run(seed)).collect::<Vec<_>>()))
            .collect();
        handles.into_iter().flat_map(|handle| handle.join().unwrap_or_default()).collect()
    })
}
