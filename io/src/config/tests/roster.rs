//! The Gateway roster built from the workers and builders.

use crate::credentials::password_key;

use super::super::validate_roster::{MAX_BUILDERS_PER_WORKER, MAX_PASSWORD_BYTES};
use super::parsed;

#[test]
fn each_worker_gets_its_password_and_the_sorted_builders_that_name_it() {
    let config = parsed(
        "[[workers]]\nname = \"w1\"\npassword = \"s3cret\"\n\
         [[workers]]\nname = \"w2\"\npassword = \"other\"\n\
         [[workers]]\nname = \"idle\"\npassword = \"idle-pw\"\n\
         [[builders]]\nname = \"zlinux\"\nworkernames = [\"w1\", \"w2\"]\n\
         [[builders]]\nname = \"arm\"\nworkernames = [\"w1\"]\n",
    );
    let roster = config.roster();
    assert_eq!(roster.len(), 3);
    let w1 = roster.get("w1").expect("w1 is configured");
    assert_eq!(w1.password, password_key("s3cret"));
    assert_eq!(&*w1.builders, ["arm", "zlinux"]);
    let w2 = roster.get("w2").expect("w2 is configured");
    assert_eq!(w2.password, password_key("other"));
    assert_eq!(&*w2.builders, ["zlinux"]);
    assert!(roster.get("idle").expect("idle is configured").builders.is_empty());
}

#[test]
fn no_workers_make_an_empty_roster() {
    assert!(parsed("").roster().is_empty());
}

/// Guards the limits copied from rollcall-core: a config at them must still build a roster.
#[test]
fn a_roster_at_the_per_worker_limits_builds() {
    let password = "p".repeat(MAX_PASSWORD_BYTES);
    let mut text = format!("[[workers]]\nname = \"w1\"\npassword = \"{password}\"\n");
    for index in 0..MAX_BUILDERS_PER_WORKER {
        text.push_str(&format!("[[builders]]\nname = \"b{index}\"\nworkernames = [\"w1\"]\n"));
    }
    let roster = parsed(&text).roster();
    let w1 = roster.get("w1").expect("w1 is configured");
    assert_eq!(w1.builders.len(), MAX_BUILDERS_PER_WORKER);
}

#[test]
fn a_password_given_as_its_sha256_matches_the_same_password_given_in_clear() {
    // sha256("s3cret")
    let digest = crate::credentials::hex(&crate::credentials::sha256(b"s3cret"));
    let config = parsed(&format!(
        "[[workers]]\nname = \"w1\"\npassword_sha256 = \"{digest}\"\n\
         [[workers]]\nname = \"w2\"\npassword = \"s3cret\"\n"
    ));
    let roster = config.roster();
    let (w1, w2) = (roster.get("w1").expect("w1"), roster.get("w2").expect("w2"));
    assert_eq!(w1.password, w2.password);
    assert!(w1.password.matches(&password_key("s3cret")));
    assert!(!w1.password.matches(&password_key("S3cret")));
}
