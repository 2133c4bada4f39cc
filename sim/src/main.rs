//! `rollcall-sim`: run one seed, sweep many, or check that seeds replay identically.
//!
//! Exit codes: 0 all passed, 1 a correctness (safety) failure, 2 a liveness failure,
//! 3 a crash (panic), 4 a determinism failure, 64 bad usage.

use std::process::ExitCode;
use std::time::Instant;

use rollcall_sim::{run_seed, FailureKind, Outcome, Overrides};

/// The real rollcall core under simulated time, network and disk. Each seed decides a whole
/// run (its sizes, timings and faults) and replays exactly; a failure prints the command
/// that replays it.
#[derive(Debug, clap::Parser)]
#[command(name = "rollcall-sim", version, about, long_about = None)]
struct Cli {
    /// Run this one seed (with its settings and, on failure, its whole report).
    #[arg(long, value_name = "S", conflicts_with_all = ["seeds", "first"])]
    seed: Option<u64>,
    /// Run this many seeds, from --first on.
    #[arg(long, value_name = "N", default_value_t = 1)]
    seeds: u64,
    /// The first seed of a sweep.
    #[arg(long, value_name = "S", default_value_t = 0)]
    first: u64,
    /// Run every seed twice and compare their traces: a difference is a determinism bug.
    #[arg(long)]
    check_determinism: bool,
    /// How many masters (default: drawn from the seed, 2 to 12).
    #[arg(long, value_name = "M", value_parser = clap::value_parser!(u64).range(1..=MAX_MASTERS))]
    masters: Option<u64>,
    /// How many workers (default: drawn from the seed, the masters' count to 120).
    #[arg(long, value_name = "W", value_parser = clap::value_parser!(u64).range(0..=MAX_WORKERS))]
    workers: Option<u64>,
    /// Simulated hours per seed (default: drawn from the seed).
    #[arg(long, value_name = "H", value_parser = clap::value_parser!(u64).range(1..))]
    hours: Option<u64>,
    /// Seeds run in parallel on this many threads (each seed stays single-threaded and
    /// deterministic). Default: the machine's cores.
    #[arg(long, value_name = "J", value_parser = clap::value_parser!(u64).range(1..=1024))]
    jobs: Option<u64>,
    /// Check every machine's full-state invariants after every event, not amortized.
    #[arg(long)]
    invariants_every_step: bool,
    /// Simulate the replicated cluster on a shared store instead: its nodes, lease and log
    /// (sizes and timings are drawn from each seed; the single node's flags do not apply).
    #[arg(long, conflicts_with_all = ["masters", "workers", "hours", "invariants_every_step"])]
    cluster: bool,
}

#[derive(Debug, Default)]
struct Options {
    first: u64,
    count: u64,
    check_determinism: bool,
    overrides: Overrides,
    /// Seeds run in parallel on this many threads; each seed's run stays single-threaded
    /// and deterministic.
    jobs: usize,
    /// Simulate the replicated cluster on a shared store instead (see `cluster`).
    cluster: bool,
}

/// The options, or the exit code to leave with: 0 after `--help` or `--version`, 64 (bad
/// usage) after clap's message.
fn parse() -> Result<Options, ExitCode> {
    let cli = match <Cli as clap::Parser>::try_parse() {
        Ok(cli) => cli,
        Err(error) => {
            let _ = error.print();
            return Err(if error.use_stderr() { ExitCode::from(64) } else { ExitCode::SUCCESS });
        }
    };
    let default_jobs = std::thread::available_parallelism().map_or(1, std::num::NonZeroUsize::get);
    let to_usize = |value: u64| usize::try_from(value).unwrap_or(usize::MAX);
    Ok(Options {
        first: cli.seed.unwrap_or(cli.first),
        count: if cli.seed.is_some() { 1 } else { cli.seeds },
        check_determinism: cli.check_determinism,
        overrides: Overrides {
            masters: cli.masters.map(to_usize),
            workers: cli.workers.map(to_usize),
            hours: cli.hours,
            invariants_every_step: cli.invariants_every_step,
        },
        jobs: cli.jobs.map_or(default_jobs, to_usize),
        cluster: cli.cluster,
    })
}

/// Cluster sizes the simulator accepts: its event queue holds at most 2^23 pending events,
/// and a few per master and worker are pending at any moment, so these leave a wide margin
/// while refusing a size that would end in a panic (reported as a crash) instead.
const MAX_MASTERS: u64 = 10_000;
const MAX_WORKERS: u64 = 100_000;

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
    if options.overrides.invariants_every_step {
        command.push_str(" --invariants-every-step");
    }
    command
}

/// `1 seed`, `2 seeds`.
fn counted(count: u64, noun: &str) -> String {
    if count == 1 {
        format!("1 {noun}")
    } else {
        format!("{count} {noun}s")
    }
}

fn main() -> ExitCode {
    let options = match parse() {
        Ok(options) => options,
        Err(code) => return code,
    };
    // No panic hook here: run_seed's own keeps each seed's panic off the terminal and
    // records where it happened; a runner thread's panic outside a seed still prints, as
    // it is no seed's outcome and only the terminal would tell what killed the thread.
    let started = Instant::now();
    let seeds: Vec<u64> = (options.first..options.first.saturating_add(options.count)).collect();
    if options.cluster {
        return run_cluster(&seeds, &options, started);
    }
    let results = run_all(&seeds, &options);
    let report = report(&results, &options);
    for line in &report.lines {
        eprintln!("{line}");
    }
    if let Some(code) = report.code {
        return ExitCode::from(code);
    }
    let seconds = started.elapsed().as_secs_f64().max(1e-9);
    let hours = report.simulated_ms as f64 / 3.6e6;
    println!(
        "{} passed{}: {:.1} simulated hours ({:.0} master-hours), {} events in {:.1} s wall: {:.0} events/s, {:.0} simulated hours per wall minute",
        counted(options.count, "seed"),
        if options.check_determinism { " twice with identical traces" } else { "" },
        hours,
        report.cluster_hours,
        report.events,
        seconds,
        report.events as f64 / seconds,
        hours / seconds * 60.0,
    );
    ExitCode::SUCCESS
}

/// One seed's run, and with `--check-determinism` its second run.
type SeedRun = (rollcall_sim::Settings, Outcome, Option<Outcome>);

/// A seed whose runner thread died before sending its result; the text says why.
type Lost = String;

/// What the runner threads said, in seed order.
type SeedResults = Vec<(u64, Result<SeedRun, Lost>)>;

#[derive(Debug, Default)]
struct Report {
    /// The exit code of the first failure in seed order; None when every seed passed.
    code: Option<u8>,
    /// For stderr: the first ordinary failure, and every lost seed, since nothing else
    /// will ever name those.
    lines: Vec<String>,
    events: u64,
    simulated_ms: u64,
    cluster_hours: f64,
}

fn report(results: &SeedResults, options: &Options) -> Report {
    let mut report = Report::default();
    let mut reported_a_failure = false;
    for (seed, result) in results {
        let seed = *seed;
        let (settings, outcome, again) = match result {
            Ok(run) => run,
            Err(lost) => {
                report.code.get_or_insert(3);
                report.lines.push(format!("FAILED seed {seed} (its settings never came back)"));
                report.lines.push(format!("seed {seed}: crash ({lost})"));
                report.lines.push(format!("replay with: {}", replay_command(seed, options)));
                continue;
            }
        };
        let failure = match outcome {
            Outcome::Passed { trace_hash, stats } => {
                report.events += stats.events;
                report.simulated_ms += stats.simulated_ms;
                report.cluster_hours += stats.simulated_ms as f64 / 3.6e6 * settings.masters as f64;
                match again {
                    Some(Outcome::Passed { trace_hash: second, .. }) if second == trace_hash => {
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
                Some((code, violation.to_string()))
            }
            Outcome::Crashed { message, location: Some(location) } => {
                Some((3, format!("crash (panic) at {location}: {message}")))
            }
            Outcome::Crashed { message, location: None } => {
                Some((3, format!("crash (panic) at an unknown place: {message}")))
            }
        };
        // Only the first: a bug that fails many seeds would bury the terminal otherwise.
        if let Some((code, what)) = failure.filter(|_| !reported_a_failure) {
            reported_a_failure = true;
            report.code.get_or_insert(code);
            report.lines.push(format!("FAILED {settings}"));
            report.lines.push(format!("seed {seed}: {what}"));
            report.lines.push(format!("replay with: {}", replay_command(seed, options)));
        }
    }
    report
}

/// Runs every seed (twice with `--check-determinism`), spread over `jobs` threads, and
/// returns the results in seed order.
fn run_all(seeds: &[u64], options: &Options) -> SeedResults {
    run_spread(seeds, options.jobs, |seed| {
        let (settings, outcome) = run_seed(seed, options.overrides);
        let again = (options.check_determinism && matches!(outcome, Outcome::Passed { .. }))
            .then(|| run_seed(seed, options.overrides).1);
        (settings, outcome, again)
    })
}

/// Runs `run` for each seed on up to `jobs` threads, each taking a contiguous share, and
/// returns the results in seed order. Each result is sent as soon as its seed is done, so a
/// thread that dies (a panic outside run_seed's net) loses only the seeds it had not
/// finished, and those come back as lost instead of vanishing.
fn run_spread<R: Send>(
    seeds: &[u64],
    jobs: usize,
    run: impl Fn(u64) -> R + Sync,
) -> Vec<(u64, Result<R, Lost>)> {
    let chunk = seeds.len().div_ceil(jobs.max(1)).max(1);
    let (sender, receiver) = std::sync::mpsc::channel();
    let deaths: Vec<Option<String>> = std::thread::scope(|scope| {
        let run = &run;
        let handles: Vec<_> = seeds
            .chunks(chunk)
            .enumerate()
            .map(|(part, seeds)| {
                let sender = sender.clone();
                scope.spawn(move || {
                    for (offset, &seed) in seeds.iter().enumerate() {
                        // The receiver outlives every thread, so a send cannot fail.
                        let _ = sender.send((part * chunk + offset, run(seed)));
                    }
                })
            })
            .collect();
        // Joining each handle here keeps the scope from re-raising a thread's panic.
        handles
            .into_iter()
            .map(|handle| handle.join().err().map(|payload| panic_text(&*payload)))
            .collect()
    });
    drop(sender);
    let mut results: Vec<Option<R>> = seeds.iter().map(|_| None).collect();
    for (index, result) in receiver.iter() {
        if let Some(slot) = results.get_mut(index) {
            *slot = Some(result);
        }
    }
    seeds
        .iter()
        .zip(results)
        .enumerate()
        .map(|(index, (&seed, result))| {
            let lost = || match deaths.get(index / chunk).cloned().flatten() {
                Some(panic) => format!("runner thread died before reporting this seed: {panic}"),
                None => "runner thread died before reporting this seed".to_string(),
            };
            (seed, result.ok_or_else(lost))
        })
        .collect()
}

fn panic_text(payload: &(dyn std::any::Any + Send)) -> String {
    payload
        .downcast_ref::<String>()
        .cloned()
        .or_else(|| payload.downcast_ref::<&str>().map(|text| (*text).to_string()))
        .unwrap_or_else(|| "a panic without a message".into())
}

/// `--cluster`: each seed a replicated cluster on a model of the shared store; one line
/// per failing seed with the command that replays it, and a summary.
fn run_cluster(seeds: &[u64], options: &Options, started: Instant) -> ExitCode {
    let mut totals = rollcall_sim::cluster::ClusterStats::default();
    let mut first_failure = None;
    let mut determinism_failed = false;
    for &seed in seeds {
        let (settings, result) = rollcall_sim::cluster::run_cluster_seed(seed);
        if let (true, Ok(stats)) = (options.check_determinism, &result) {
            let (_, again) = rollcall_sim::cluster::run_cluster_seed(seed);
            match again {
                Ok(second) if second.trace_hash == stats.trace_hash => {}
                other => {
                    eprintln!(
                        "seed {seed}: determinism: trace {:#x} then {other:?}",
                        stats.trace_hash
                    );
                    determinism_failed = true;
                }
            }
        }
        match result {
            Ok(stats) => {
                totals.events += stats.events;
                totals.takeovers += stats.takeovers;
                totals.commits += stats.commits;
                totals.refused_commits += stats.refused_commits;
                totals.log_entries += stats.log_entries;
                totals.snapshots += stats.snapshots;
            }
            Err(violation) => {
                eprintln!("seed {seed}: {violation}\n  settings: {settings:?}");
                eprintln!(
                    "  replay with: cargo run --release -p rollcall-sim -- --cluster --seed {seed}"
                );
                first_failure.get_or_insert(violation.kind);
            }
        }
    }
    match first_failure {
        None if determinism_failed => ExitCode::from(4),
        None => {
            println!(
                "{} passed{}: {} events, {} takeovers, {} commits ({} refused), {} log entries, {} snapshots, in {:.1} s",
                counted(seeds.len() as u64, "cluster seed"),
                if options.check_determinism { " twice with identical traces" } else { "" },
                totals.events,
                totals.takeovers,
                totals.commits,
                totals.refused_commits,
                totals.log_entries,
                totals.snapshots,
                started.elapsed().as_secs_f64()
            );
            ExitCode::SUCCESS
        }
        Some(kind) => ExitCode::from(match kind {
            FailureKind::Correctness => 1,
            FailureKind::Liveness => 2,
        }),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A runner thread that panics outside run_seed loses none of the results it already
    /// sent, and every seed it had not reported comes back lost with the panic's message;
    /// the other threads' seeds are untouched.
    #[test]
    fn a_dying_runner_thread_names_every_seed_it_did_not_report() {
        let seeds: Vec<u64> = (0..10).collect();
        // Three threads take 0..4, 4..8 and 8..10; the second dies on its third seed.
        let results = run_spread(&seeds, 3, |seed| {
            assert!(seed != 6, "runner broke on seed {seed}");
            seed * 10
        });
        let seen: Vec<u64> = results.iter().map(|(seed, _)| *seed).collect();
        assert_eq!(seen, seeds, "every seed has a result, in order");
        for (seed, result) in &results {
            match (seed, result) {
                (6 | 7, Err(lost)) => assert_eq!(
                    lost,
                    "runner thread died before reporting this seed: runner broke on seed 6"
                ),
                (_, Ok(value)) => assert_eq!(*value, seed * 10),
                other => panic!("seed {seed}: {other:?}"),
            }
        }
    }

    /// Lost seeds fail the run as crashes, and each is named with its replay command, even
    /// after an ordinary failure has been reported first.
    #[test]
    fn lost_seeds_are_each_reported_with_their_replay_command() {
        let options = Options { count: 3, jobs: 1, ..Options::default() };
        let crashed = Outcome::Crashed { message: "boom".into(), location: None };
        let settings = rollcall_sim::Settings::derive(5, options.overrides);
        let results: SeedResults = vec![
            (5, Ok((settings, crashed, None))),
            (6, Err("runner thread died before reporting this seed".into())),
            (7, Err("runner thread died before reporting this seed".into())),
        ];
        let report = report(&results, &options);
        assert_eq!(report.code, Some(3));
        for seed in [6, 7] {
            let replay = format!("replay with: {}", replay_command(seed, &options));
            assert!(report.lines.contains(&replay), "seed {seed}: {:#?}", report.lines);
            let what =
                format!("seed {seed}: crash (runner thread died before reporting this seed)");
            assert!(report.lines.contains(&what), "seed {seed}: {:#?}", report.lines);
        }
        assert!(report.lines.contains(&"seed 5: crash (panic) at an unknown place: boom".into()));
    }
}
