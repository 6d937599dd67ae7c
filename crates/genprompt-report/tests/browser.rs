//! Opens the report in headless Chromium (Debian package `chromium`): it must render without a
//! console message, and its DOM must hold the tables. The screenshot is kept in `target/tmp/test_artifacts/`.

mod common;

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use genprompt_report::write_report;

const CHROMIUM: &str = "/usr/bin/chromium";
const TIMEOUT: Duration = Duration::from_secs(300);

struct Run {
    stdout: String,
    stderr: String,
}

/// Runs Chromium on `page` with a fresh profile and `extra` flags, killing it after `TIMEOUT`.
fn chromium(page: &Path, extra: &[String]) -> Run {
    assert!(
        Path::new(CHROMIUM).exists(),
        "{CHROMIUM} not found: the report test needs headless Chromium; install it with `apt-get install -y chromium`"
    );
    let profile = tempfile::tempdir().unwrap();
    let out = tempfile::tempdir().unwrap();
    let (stdout_path, stderr_path) = (out.path().join("stdout"), out.path().join("stderr"));
    let mut child = Command::new(CHROMIUM)
        .args(["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run"])
        .args(["--disable-background-networking", "--disable-component-update", "--disable-sync"])
        .args(["--enable-logging=stderr", "--v=0", "--window-size=1280,2000"])
        .arg(format!("--user-data-dir={}", profile.path().display()))
        .args(extra)
        .arg(format!("file://{}", page.display()))
        .stdin(Stdio::null())
        .stdout(std::fs::File::create(&stdout_path).unwrap())
        .stderr(std::fs::File::create(&stderr_path).unwrap())
        .spawn()
        .unwrap_or_else(|e| panic!("cannot start {CHROMIUM}: {e}; install it with `apt-get install -y chromium`"));
    let started = Instant::now();
    let status = loop {
        if let Some(status) = child.try_wait().unwrap() {
            break status;
        }
        if started.elapsed() > TIMEOUT {
            let _ = child.kill();
            let _ = child.wait();
            panic!("chromium did not finish within {TIMEOUT:?} on {}", page.display());
        }
        std::thread::sleep(Duration::from_millis(100));
    };
    let run = Run {
        stdout: std::fs::read_to_string(&stdout_path).unwrap(),
        stderr: std::fs::read_to_string(&stderr_path).unwrap(),
    };
    assert!(status.success(), "chromium failed ({status}):\n{}", run.stderr);
    run
}

/// Lines where the page spoke: console messages (errors, CSP violations) and uncaught exceptions.
fn page_messages(stderr: &str) -> Vec<&str> {
    stderr.lines().filter(|l| l.contains(":CONSOLE") || l.contains("Uncaught")).collect()
}

fn screenshot(page: &Path, png: &Path) -> Run {
    let run = chromium(page, &[format!("--screenshot={}", png.display())]);
    assert!(png.exists(), "no screenshot written:\n{}", run.stderr);
    run
}

/// Width and height from the PNG header.
fn png_size(bytes: &[u8]) -> (u32, u32) {
    assert!(bytes.starts_with(b"\x89PNG\r\n\x1a\n") && bytes.len() > 24, "not a PNG");
    let be = |at: usize| u32::from_be_bytes(bytes[at..at + 4].try_into().unwrap());
    (be(16), be(20))
}

#[test]
fn report_renders_in_headless_chromium() {
    let dir = tempfile::tempdir().unwrap();

    // The detector must see a broken page, or a clean run proves nothing.
    let broken = dir.path().join("broken.html");
    std::fs::write(&broken, "<!DOCTYPE html><p>x</p><script>throw new Error('boom')</script>").unwrap();
    let blank_png = dir.path().join("broken.png");
    let run = screenshot(&broken, &blank_png);
    assert!(
        page_messages(&run.stderr).iter().any(|l| l.contains("boom")),
        "the console check is blind:\n{}",
        run.stderr
    );
    let blank_size = std::fs::metadata(&blank_png).unwrap().len();

    let files = write_report(&common::sample(), &dir.path().join("report")).unwrap();
    let png = dir.path().join("report.png");
    let run = screenshot(&files.html, &png);
    let messages = page_messages(&run.stderr);
    assert!(messages.is_empty(), "the page logged:\n{}", messages.join("\n"));
    let bytes = std::fs::read(&png).unwrap();
    assert_eq!(png_size(&bytes), (1280, 2000));
    assert!(bytes.len() > 10_000, "screenshot of {} bytes is trivial", bytes.len());
    assert!(
        bytes.len() as u64 > 3 * blank_size,
        "screenshot ({} bytes) barely exceeds a blank page ({blank_size})",
        bytes.len()
    );
    // Kept under target/ so that running the tests never dirties the checkout; a reviewed copy
    // lives in docs/images/report.png.
    let artifacts = PathBuf::from(env!("CARGO_TARGET_TMPDIR")).join("test_artifacts");
    std::fs::create_dir_all(&artifacts).unwrap();
    std::fs::copy(&png, artifacts.join("report.png")).unwrap();

    let dom = chromium(&files.html, &["--dump-dom".to_string()]);
    let messages = page_messages(&dom.stderr);
    assert!(messages.is_empty(), "the page logged:\n{}", messages.join("\n"));
    for needle in [
        r#"<table id="table-downstream">"#,
        r#"<table id="table-intrinsic">"#,
        "<svg",
        "<th>genetic</th>",
        "<th>zeroshot</th>",
    ] {
        assert!(dom.stdout.contains(needle), "{needle} not in the rendered DOM");
    }
    assert!(dom.stdout.contains("&lt;script&gt;alert('x')&lt;/script&gt;"), "hostile label not rendered as text");
    assert!(!dom.stdout.contains("<script"), "a script element made it into the DOM");
    assert!(dom.stdout.matches("<tr").count() >= 2 * (common::METHODS.len() + 1), "table rows missing from the DOM");
}
