//! Any text at all, given as a config file (a SIGHUP reads whatever is on disk), gives a
//! config or a one-line refusal, never a panic. The promises are checked by
//! `crate::fuzzing::config`, which the fuzz target runs too.

use proptest::prelude::*;
use proptest::sample::Index;

use crate::fuzzing::{self, mutated, proptest_config};

const EXAMPLE: &str = include_str!("../../../../examples/rollcall.toml");

/// Values of every TOML type, at and beyond the edges validation checks.
fn values() -> impl Strategy<Value = String> {
    prop_oneof![
        Just("0".to_string()),
        Just("-1".to_string()),
        Just("18446744073709551616".to_string()),
        Just("9223372036854775807".to_string()),
        Just("1e400".to_string()),
        Just("nan".to_string()),
        Just("true".to_string()),
        Just("[]".to_string()),
        Just("{}".to_string()),
        Just("1979-05-27T07:32:00Z".to_string()),
        any::<i64>().prop_map(|number| number.to_string()),
        any::<u32>().prop_map(|number| number.to_string()),
        ".{0,12}".prop_map(|text| format!("{text:?}")),
        prop::collection::vec("[a-z0-9:.]{0,6}", 0..4).prop_map(|items| format!("{items:?}")),
        r#"[\-0-9a-z:.,"'\[\]{}= ]{0,16}"#,
    ]
}

/// The example with one key's value replaced: what editing a config by hand does.
fn edited_example() -> impl Strategy<Value = String> {
    let assignments: Vec<usize> = EXAMPLE
        .lines()
        .enumerate()
        .filter(|(_, line)| !line.starts_with('#') && line.contains(" = "))
        .map(|(number, _)| number)
        .collect();
    prop::collection::vec((any::<Index>(), values()), 1..4).prop_map(move |edits| {
        let mut lines: Vec<String> = EXAMPLE.lines().map(String::from).collect();
        for (which, value) in edits {
            let number = assignments[which.index(assignments.len())];
            if let Some((key, _)) = lines[number].split_once(" = ") {
                lines[number] = format!("{key} = {value}");
            }
        }
        lines.join("\n")
    })
}

/// Whole lines of the example dropped, repeated or moved: sections and keys out of place.
fn shuffled_example() -> impl Strategy<Value = String> {
    prop::collection::vec((any::<Index>(), any::<Index>(), 0_u8..3), 1..6).prop_map(move |moves| {
        let mut lines: Vec<&str> = EXAMPLE.lines().collect();
        for (from, to, how) in moves {
            if lines.is_empty() {
                break;
            }
            let from = from.index(lines.len());
            match how {
                0 => {
                    lines.remove(from);
                }
                1 => lines.insert(to.index(lines.len() + 1), lines[from]),
                _ => {
                    let line = lines.remove(from);
                    lines.insert(to.index(lines.len() + 1), line);
                }
            }
        }
        lines.join("\n")
    })
}

#[test]
fn the_example_config_is_accepted() {
    assert!(fuzzing::config(EXAMPLE));
}

proptest! {
    #![proptest_config(proptest_config())]

    #[test]
    fn random_text_gives_a_config_or_a_one_line_refusal(text in "\\PC{0,200}") {
        fuzzing::config(&text);
    }

    #[test]
    fn mutated_example_bytes_give_a_config_or_a_one_line_refusal(
        bytes in mutated(EXAMPLE.as_bytes().to_vec()),
    ) {
        fuzzing::config(&String::from_utf8_lossy(&bytes));
    }

    #[test]
    fn edited_example_values_give_a_config_or_a_one_line_refusal(text in edited_example()) {
        fuzzing::config(&text);
    }

    #[test]
    fn moved_example_lines_give_a_config_or_a_one_line_refusal(text in shuffled_example()) {
        fuzzing::config(&text);
    }
}
