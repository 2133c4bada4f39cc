//! The status page at `/` in a real browser (issue #14): headless Chromium loads it from
//! the daemon, its script reads the REST API, and the page shows the masters, the workers,
//! the builders, build requests and builds (a RETRY marked as such); a worker that leaves
//! is shown missing. Chromium is installed on first use where it is missing (Debian's
//! `chromium` package), as the Buildbot-worker tests make their own venv: never skipped.

mod common;

use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Duration;

use common::{attach, eventually_showing, master_client, within, Daemon, STEP};
use rollcall_core::{Command as Registry, Reply, Results};

const CHROMIUM: &str = "/usr/bin/chromium";

const ROSTER: &str = r#"
[[workers]]
name = "w1"
password = "pw1"
[[workers]]
name = "w2"
password = "pw2"
[[workers]]
name = "w3"
password = "pw3"
[[workers]]
name = "w4"
password = "pw4"
[[workers]]
name = "w5"
password = "pw5"
[[builders]]
name = "linux"
workernames = ["w1", "w2", "w3"]
[[builders]]
name = "windows"
workernames = ["w4", "w5"]
"#;

/// Chromium, installed with apt the first time a machine runs this test.
fn chromium() -> &'static Path {
    static INSTALLED: std::sync::OnceLock<()> = std::sync::OnceLock::new();
    INSTALLED.get_or_init(|| {
        if Path::new(CHROMIUM).exists() {
            return;
        }
        let root = Command::new("id").arg("-u").output().is_ok_and(|out| out.stdout == b"0\n");
        let apt = |arguments: &[&str]| {
            let mut command = if root { Command::new("apt-get") } else { Command::new("sudo") };
            if !root {
                command.arg("apt-get");
            }
            command.args(arguments).env("DEBIAN_FRONTEND", "noninteractive").status()
        };
        let _ = apt(&["update", "-qq"]);
        let installed = apt(&["install", "-y", "-qq", "chromium"]);
        assert!(
            installed.is_ok_and(|status| status.success()) && Path::new(CHROMIUM).exists(),
            "Chromium is missing and could not be installed: apt-get install chromium"
        );
    });
    Path::new(CHROMIUM)
}

/// Runs headless Chromium on `url` for a few (virtual) seconds, so the page's script has
/// drawn, with `extra` arguments (what to print or save).
fn browse(url: &str, extra: &[String]) -> String {
    let profile = tempfile::tempdir().expect("a profile directory");
    let output = Command::new(chromium())
        .args(["--headless", "--no-sandbox", "--disable-gpu", "--no-first-run"])
        .args(["--virtual-time-budget=5000", "--window-size=1280,1400"])
        .arg(format!("--user-data-dir={}", profile.path().display()))
        .args(extra)
        .arg(url)
        .output()
        .expect("run chromium");
    assert!(output.status.success(), "{}", String::from_utf8_lossy(&output.stderr));
    String::from_utf8_lossy(&output.stdout).to_string()
}

/// The page as the browser drew it.
fn dom(daemon: &Daemon) -> String {
    browse(&format!("http://{}/", daemon.http_address), &["--dump-dom".to_string()])
}

/// The row the page drew for `name` in the table `id`, as HTML.
fn row(dom: &str, id: &str, name: &str) -> Option<String> {
    let table = dom.split(&format!("id=\"{id}\"")).nth(1)?;
    let table = table.split("</table>").next()?;
    let start = table.find(&format!("<tr data-name=\"{name}\""))?;
    let rest = &table[start..];
    Some(rest[..rest.find("</tr>")?].to_string())
}

fn request(client: &mut rollcall_io::client::MasterClient, command: Registry) -> Reply {
    match within(STEP, client.request(command)).expect("connected") {
        Ok(reply) => reply,
        Err(error) => panic!("refused: {error}"),
    }
}

/// Three masters, five workers (four attached), build requests and builds, one a RETRY.
#[test]
fn the_page_shows_masters_workers_and_builds_and_a_worker_that_leaves() {
    let daemon = Daemon::start(ROSTER);
    let mut sessions: Vec<_> =
        (1..=4).map(|n| attach(&daemon.address(), &format!("w{n}"), &format!("pw{n}")).0).collect();
    let mut remote = master_client(&daemon, "remote:/srv");
    let Reply::Master(master) =
        request(&mut remote, Registry::MasterActive { name: "remote:/srv".into() })
    else {
        panic!("an id")
    };
    let builders = vec!["linux".to_string(), "windows".to_string()];
    request(&mut remote, Registry::SetBuilderList { master, builder_names: builders });
    let mut second = master_client(&daemon, "build2:/srv");
    request(&mut second, Registry::MasterActive { name: "build2:/srv".into() });
    let mut build_requests = Vec::new();
    for builder in ["linux", "linux", "windows", "windows"] {
        let submit = Registry::SubmitBuildRequest { master, builder_name: builder.into() };
        let Reply::BuildRequest(id) = request(&mut remote, submit) else { panic!("an id") };
        build_requests.push(id);
    }
    let claim = Registry::ClaimBuildRequests { master, requests: build_requests[..3].to_vec() };
    request(&mut remote, claim);
    let mut builds = Vec::new();
    for (request_id, worker) in build_requests[..2].iter().zip(["w1", "w2"]) {
        let start =
            Registry::StartBuild { master, request: *request_id, worker_name: worker.into() };
        let Reply::Build(build) = request(&mut remote, start) else { panic!("a build") };
        builds.push(build);
    }
    request(&mut remote, Registry::FinishBuild { master, build: builds[0], results: Results(5) });

    let page = dom(&daemon);
    assert!(page.contains("data-loaded=\"true\""), "the script ran:\n{page}");
    for name in ["test-master", "remote:/srv", "build2:/srv"] {
        assert!(row(&page, "masters", name).is_some_and(|row| row.contains("active")), "{name}");
    }
    for n in 1..=5 {
        assert!(row(&page, "workers", &format!("w{n}")).is_some(), "w{n} is shown:\n{page}");
    }
    let w1 = row(&page, "workers", "w1").expect("w1");
    assert!(w1.contains("connected") && w1.contains("test-master"), "{w1}");
    assert!(row(&page, "workers", "w5").is_some_and(|row| row.contains("missing")));
    assert!(row(&page, "builders", "linux").is_some_and(|row| row.contains("remote:/srv")));
    assert!(page.contains(">RETRY<"), "a RETRY result is marked:\n{page}");
    assert!(page.contains(">waiting<") && page.contains(">running<"), "{page}");

    // A screenshot of the whole page, for the docs and for whoever reads a failure.
    let shot = PathBuf::from(env!("CARGO_TARGET_TMPDIR")).join("status-page.png");
    browse(
        &format!("http://{}/", daemon.http_address),
        &[format!("--screenshot={}", shot.display())],
    );
    let png = std::fs::read(&shot).expect("the screenshot");
    assert!(png.starts_with(b"\x89PNG"), "a PNG at {}", shot.display());

    // w1 leaves: the next look shows it missing.
    drop(sessions.remove(0));
    eventually_showing(
        Duration::from_secs(30),
        "the page to show w1 missing",
        || row(&dom(&daemon), "workers", "w1").is_some_and(|row| row.contains("missing")),
        || dom(&daemon),
    );
}
