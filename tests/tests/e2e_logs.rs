//! The daemon's log (issue #14): JSON lines for log shippers, chosen in the config or on
//! the command line, with the structured fields as keys; and a default filter that shows
//! rollcall's own lines and only warnings from its dependencies.

mod common;

use common::{attach, eventually_showing, Daemon};
use serde_json::Value;

const ROSTER: &str = "[[workers]]\nname = \"w1\"\npassword = \"pw1\"\n";

/// Every line of the log as JSON, failing on a line that is not.
fn json_lines(daemon: &Daemon) -> Vec<Value> {
    daemon
        .log()
        .lines()
        .map(|line| {
            serde_json::from_str(line).unwrap_or_else(|error| panic!("not JSON ({error}): {line}"))
        })
        .collect()
}

/// `[log] format = "json"`: one object a line, and an attach is a line whose `worker`
/// and `connection` are keys of their own.
#[test]
fn with_json_in_the_config_each_line_is_an_object_with_its_fields_as_keys() {
    let daemon = Daemon::start(&format!("[log]\nformat = \"json\"\n{ROSTER}"));
    let (_session, _) = attach(&daemon.address(), "w1", "pw1");
    let attached = |lines: &[Value]| {
        lines.iter().any(|line| line["message"] == "worker attached" && line["worker"] == "w1")
    };
    eventually_showing(
        common::STEP,
        "the attach in the log",
        || attached(&json_lines(&daemon)),
        || daemon.log(),
    );
    let lines = json_lines(&daemon);
    let line = lines.iter().find(|line| line["message"] == "worker attached").expect("a line");
    for key in ["timestamp", "level", "target", "connection"] {
        assert!(line.get(key).is_some(), "{key} is a key: {line}");
    }
    assert_eq!(line["level"], "INFO");
}

/// The flag overrides the config: `--log-format json` on a config without `[log]`.
#[test]
fn the_flag_chooses_json_over_the_configs_default() {
    let daemon = Daemon::start_with(ROSTER, &["--log-format", "json"]);
    let lines = json_lines(&daemon);
    assert!(lines.iter().any(|line| line["message"] == "listening for workers and masters"));
}

/// A dependency's `info` line, when the filter lets it through.
fn dependency_info(lines: &[Value]) -> Option<&Value> {
    lines.iter().find(|line| {
        let target = line["target"].as_str().unwrap_or_default();
        !target.starts_with("rollcall") && line["level"] == "INFO"
    })
}

/// With no `RUST_LOG`, every line below a warning is rollcall's own: the storage engine's
/// housekeeping (its `info` lines at every start, which `RUST_LOG=info` shows) is
/// filtered out.
#[test]
fn the_default_filter_shows_only_rollcalls_lines_below_a_warning() {
    let everything = Daemon::start_logging(
        "test-master",
        &format!("[log]\nformat = \"json\"\n{ROSTER}"),
        &[],
        Some("info"),
    );
    assert!(
        dependency_info(&json_lines(&everything)).is_some(),
        "RUST_LOG=info shows a dependency's info line at the start:\n{}",
        everything.log()
    );
    let daemon = Daemon::start_logging(
        "test-master",
        &format!("[log]\nformat = \"json\"\n{ROSTER}"),
        &[],
        None,
    );
    let (session, _) = attach(&daemon.address(), "w1", "pw1");
    drop(session);
    daemon.wait_for_log("worker detached");
    let lines = json_lines(&daemon);
    assert!(lines.len() > 3, "{lines:?}");
    assert_eq!(
        dependency_info(&lines),
        None,
        "the default filter lets a dependency's info through"
    );
    for line in &lines {
        let target = line["target"].as_str().unwrap_or_default();
        let level = line["level"].as_str().unwrap_or_default();
        assert!(
            target.starts_with("rollcall") || level == "WARN" || level == "ERROR",
            "a dependency's {level} line passed the default filter: {line}"
        );
    }
}
