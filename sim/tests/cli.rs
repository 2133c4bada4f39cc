//! `rollcall-sim`'s command line: help that works, conflicting flags refused with a
//! message and the usage exit code, defaults shown.

use std::process::Command;

const BINARY: &str = env!("CARGO_BIN_EXE_rollcall-sim");

fn run(arguments: &[&str]) -> (i32, String, String) {
    let output = Command::new(BINARY).args(arguments).output().expect("run rollcall-sim");
    let text = |bytes: &[u8]| String::from_utf8_lossy(bytes).to_string();
    (output.status.code().unwrap_or(-1), text(&output.stdout), text(&output.stderr))
}

/// `--help` prints every flag with its description and default, and exits 0.
#[test]
fn help_lists_every_flag_and_exits_zero() {
    let (code, stdout, _) = run(&["--help"]);
    assert_eq!(code, 0);
    for flag in [
        "--seed ",
        "--seeds",
        "--first",
        "--check-determinism",
        "--masters",
        "--workers",
        "--hours",
        "--jobs",
        "--invariants-every-step",
        "--cluster",
    ] {
        assert!(stdout.contains(flag), "{flag} in:\n{stdout}");
    }
    assert!(stdout.contains("[default: 1]"), "defaults are shown:\n{stdout}");
}

/// One seed and a sweep at once, or the cluster with the single node's sizes, are refused
/// (exit 64) with a message naming both flags, instead of silently running one seed.
#[test]
fn conflicting_flags_are_refused_with_a_message() {
    let (code, _, stderr) = run(&["--seeds", "3", "--seed", "4"]);
    assert_eq!(code, 64, "{stderr}");
    assert!(stderr.contains("--seed") && stderr.contains("--seeds"), "{stderr}");
    let (code, _, stderr) = run(&["--cluster", "--masters", "3"]);
    assert_eq!(code, 64, "{stderr}");
    assert!(stderr.contains("--masters"), "{stderr}");
    let (code, _, stderr) = run(&["--masters", "0"]);
    assert_eq!(code, 64, "{stderr}");
}

/// A seed still runs as before, and its report counts it in the singular.
#[test]
fn one_cluster_seed_runs_and_passes() {
    let (code, stdout, stderr) = run(&["--cluster", "--seed", "3"]);
    assert_eq!(code, 0, "{stderr}");
    assert!(stdout.starts_with("1 cluster seed passed:"), "one, in the singular: {stdout}");
}
