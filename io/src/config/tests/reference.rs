//! `docs/configuration.md` against the code: the sections and the keys of each are the
//! ones the parser accepts (read off its refusal of an unknown key, which lists them), and
//! every default written as a TOML value is the effective configuration's.

use std::collections::{BTreeMap, BTreeSet};

use super::{parsed, refusal};

const REFERENCE: &str =
    include_str!(concat!(env!("CARGO_MANIFEST_DIR"), "/../docs/configuration.md"));

/// The names between backquotes after "expected" in a refusal of an unknown key.
fn expected_names(message: &str) -> BTreeSet<String> {
    let (_, listed) = message.split_once("expected").expect("the refusal lists the keys");
    listed.split('`').skip(1).step_by(2).map(str::to_string).collect()
}

/// Each documented section's rows: key, and the default cell.
fn documented() -> BTreeMap<String, Vec<(String, String)>> {
    let mut sections: BTreeMap<String, Vec<(String, String)>> = BTreeMap::new();
    let mut current = None;
    for line in REFERENCE.lines() {
        if let Some(heading) = line.strip_prefix("## ") {
            let name = heading.trim_matches(|c| c == '[' || c == ']').to_string();
            sections.entry(name.clone()).or_default();
            current = Some(name);
        } else if line.starts_with("| `") {
            let cells: Vec<&str> = line.split(" | ").collect();
            let key = cells[0].trim_start_matches("| ").trim_matches('`').to_string();
            let section = current.clone().expect("a table under a section heading");
            sections.get_mut(&section).expect("known").push((key, cells[2].to_string()));
        }
    }
    sections
}

#[test]
fn the_reference_documents_exactly_the_sections_and_keys_the_parser_accepts() {
    let documented = documented();
    let sections = expected_names(&refusal("zzz_unknown = 1\n"));
    assert_eq!(documented.keys().cloned().collect::<BTreeSet<_>>(), sections);
    for (section, rows) in &documented {
        let header = if ["workers", "builders", "masters"].contains(&section.as_str()) {
            format!("[[{section}]]")
        } else {
            format!("[{section}]")
        };
        let accepted = expected_names(&refusal(&format!("{header}\nzzz_unknown = 1\n")));
        let keys: BTreeSet<String> = rows.iter().map(|(key, _)| key.clone()).collect();
        assert_eq!(keys, accepted, "the keys of {header}");
        assert_eq!(keys.len(), rows.len(), "each key of {header} once");
    }
}

#[test]
fn every_default_the_reference_writes_as_a_value_is_the_effective_one() {
    let config = parsed(
        "[cluster]\npostgres = \"host=/tmp user=rc\"\nnode = \"a\"\nadvertise = \"127.0.0.1:7001\"\n",
    );
    let effective: toml::Table = config.effective_toml().parse().expect("effective TOML");
    let mut checked = 0;
    for (section, rows) in documented() {
        for (key, default) in rows {
            let Some(literal) = default.strip_prefix('`').and_then(|rest| rest.strip_suffix('`'))
            else {
                continue;
            };
            // Only what is written as a TOML value is a literal default.
            let Ok(written) = format!("value = {literal}").parse::<toml::Table>() else {
                continue;
            };
            let actual = effective
                .get(&section)
                .and_then(|table| table.get(&key))
                .unwrap_or_else(|| panic!("{section}.{key} is in the effective configuration"));
            assert_eq!(Some(actual), written.get("value"), "the default of {section}.{key}");
            checked += 1;
        }
    }
    assert!(checked >= 30, "only {checked} defaults were checked");
}
