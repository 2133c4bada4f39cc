//! The config module's tests, by concern.

mod cluster;
mod fuzz;
mod loading;
mod reference;
mod refusals;
mod roster;
mod secrets;
mod transport;

use std::path::Path;

use super::{Config, ConfigError};

/// Parses `text` as if read from `rollcall.toml`, the name every expected message starts with.
fn parse(text: &str) -> Result<Config, ConfigError> {
    Config::parse(text, Path::new("rollcall.toml"))
}

fn parsed(text: &str) -> Config {
    match parse(text) {
        Ok(config) => config,
        Err(error) => panic!("expected the config to be accepted, got: {error}"),
    }
}

/// The one-line message refusing `text`.
fn refusal(text: &str) -> String {
    match parse(text) {
        Ok(config) => panic!("expected a refusal, got {config:?}"),
        Err(error) => {
            let message = error.to_string();
            assert!(!message.contains('\n'), "the message spans several lines: {message}");
            message
        }
    }
}

/// Checks that `text` is refused on `line` with a message containing `problem`.
fn assert_refused_at(text: &str, line: usize, problem: &str) {
    let message = refusal(text);
    assert!(message.starts_with(&format!("rollcall.toml:{line}:")), "wrong line: {message}");
    assert!(message.contains(problem), "expected {problem:?} in: {message}");
}
