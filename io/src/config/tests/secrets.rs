//! Passwords never reach an error message or a Debug form.

use std::path::Path;

use super::super::Config;
use super::parse;

const SECRET: &str = "hunter2-do-not-print";

/// Files that are refused while holding `SECRET` (or a value meant as a password) somewhere.
fn refused_files_holding_a_secret() -> Vec<(String, String)> {
    let worker = format!("[[workers]]\nname = \"w1\"\npassword = \"{SECRET}\"\n");
    vec![
        (SECRET.to_owned(), format!("{worker}[timing]\nping_timeout_s = 0\n")),
        (
            SECRET.to_owned(),
            format!("{worker}[[builders]]\nname = \"b\"\nworkernames = [\"w9\"]\n"),
        ),
        (SECRET.to_owned(), format!("{worker}extra = 1\n")),
        (SECRET.to_owned(), format!("{worker}password = \"{SECRET}\"\n")),
        (SECRET.to_owned(), format!("[[workers]]\nname = \"w1\"\npassword = \"{SECRET}\n")),
        (SECRET.to_owned(), format!("[[workers]]\nname = \"w1\"\npassword = \"{SECRET}\\q\"\n")),
        (SECRET.to_owned(), format!("[[workers]]\nname = \"w1\"\npassword = {SECRET}\n")),
        (SECRET.to_owned(), format!("[[workers]]\nname = \"a:b\"\npassword = \"{SECRET}\"\n")),
        (
            SECRET.repeat(60),
            format!("[[workers]]\nname = \"w1\"\npassword = \"{}\"\n", SECRET.repeat(60)),
        ),
        ("987654321".to_owned(), "[[workers]]\nname = \"w1\"\npassword = 987654321\n".to_owned()),
        ("987654321".to_owned(), "[[workers]]\nname = \"w1\"\npassword = [987654321]\n".to_owned()),
    ]
}

#[test]
fn a_password_never_appears_in_an_error_message() {
    for (secret, text) in refused_files_holding_a_secret() {
        let error = parse(&text).expect_err("the file is refused");
        let shown = format!("{error} {error:?}");
        assert!(!shown.contains(&secret), "the password leaked: {shown}");
    }
}

#[test]
fn a_password_never_appears_in_debug_output() {
    let text = format!("[[workers]]\nname = \"w1\"\npassword = \"{SECRET}\"\n");
    let config = Config::parse(&text, Path::new("rollcall.toml")).expect("a valid file");
    for shown in [
        format!("{config:?}"),
        format!("{config:#?}"),
        format!("{:?}", config.workers[0]),
        format!("{:?}", config.roster()),
    ] {
        assert!(!shown.contains(SECRET), "the password leaked: {shown}");
        assert!(shown.contains("w1"), "the worker is still named: {shown}");
    }
}
