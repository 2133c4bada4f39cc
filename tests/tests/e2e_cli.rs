//! `rollcall --help` (issue #14): every subcommand and every flag has a description, and
//! `serve --help` names the embedded default's ports and data directory.

mod common;

use std::process::Command;

use common::BINARY;

fn help(arguments: &[&str]) -> String {
    let output = Command::new(BINARY).args(arguments).arg("--help").output().expect("run");
    assert!(output.status.success(), "{arguments:?} --help exits 0");
    String::from_utf8_lossy(&output.stdout).to_string()
}

/// The flags of a long help that no description follows.
fn undescribed(text: &str) -> Vec<String> {
    let lines: Vec<&str> = text.lines().collect();
    lines
        .iter()
        .enumerate()
        .filter(|(_, line)| {
            let flag = line.trim_start();
            line.starts_with("  ") && (flag.starts_with("--") || flag.starts_with("-h"))
        })
        .filter(|(index, _)| {
            let next = lines.get(index + 1).copied().unwrap_or_default();
            !next.starts_with("          ") || next.trim().is_empty()
        })
        .map(|(_, line)| line.trim().to_string())
        .collect()
}

/// Each subcommand's every flag is described, and so is every subcommand.
#[test]
fn every_subcommand_and_flag_has_a_description() {
    let top = help(&[]);
    for subcommand in ["serve", "replay", "check-config", "worker", "master", "token"] {
        let listed = top.lines().find(|line| line.trim_start().starts_with(subcommand));
        let listed = listed.unwrap_or_else(|| panic!("{subcommand} is listed:\n{top}"));
        assert!(listed.trim().len() > subcommand.len() + 2, "{subcommand} is described: {listed}");
        let text = help(&[subcommand]);
        assert_eq!(
            undescribed(&text),
            Vec::<String>::new(),
            "rollcall {subcommand} --help:\n{text}"
        );
    }
    let token = help(&["token", "new"]);
    assert_eq!(undescribed(&token), Vec::<String>::new(), "{token}");
}

/// `serve --help` says what runs without a config: the ports and the data directory.
#[test]
fn serve_help_names_the_embedded_defaults() {
    let text = help(&["serve"]);
    for default in ["127.0.0.1:9989", "127.0.0.1:8010", "./rollcall-data", "--pid-file"] {
        assert!(text.contains(default), "{default} in:\n{text}");
    }
}
