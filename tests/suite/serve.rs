//! `dynsim serve` end to end: the server over plain HTTP, and the page as
//! Debian's headless Chromium renders it (DOM and a screenshot).

use dynsim_tests::root;
use std::io::{Read, Write};
use std::net::TcpStream;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::Duration;

const CHROMIUM: &str = "/usr/bin/chromium";
/// Chromium is killed after this many polls of 100 ms (60 s).
const CHROMIUM_POLLS: u32 = 600;

/// Starts a server on an ephemeral port of 127.0.0.1, serving from the workspace root.
fn server() -> u16 {
    std::env::set_current_dir(root()).expect("workspace root");
    let (port, _thread) = dynsim::serve::start("127.0.0.1", 0).expect("the server binds");
    port
}

/// Sends one raw HTTP request and returns (status, body).
fn http(port: u16, request: &str) -> (u16, String) {
    let mut s = TcpStream::connect(("127.0.0.1", port)).expect("connect");
    s.set_read_timeout(Some(Duration::from_secs(60)))
        .expect("timeout");
    s.write_all(request.as_bytes()).expect("send");
    let mut raw = Vec::new();
    s.read_to_end(&mut raw).expect("read the answer");
    let text = String::from_utf8_lossy(&raw).into_owned();
    let status = text
        .split(' ')
        .nth(1)
        .and_then(|c| c.parse().ok())
        .unwrap_or_else(|| panic!("no status line in {text:?}"));
    let body = text
        .split_once("\r\n\r\n")
        .map_or(String::new(), |(_, b)| b.to_string());
    (status, body)
}

fn get(port: u16, path: &str) -> (u16, String) {
    http(
        port,
        &format!("GET {path} HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n"),
    )
}

fn post(port: u16, path: &str, body: &str) -> (u16, String) {
    http(
        port,
        &format!(
            "POST {path} HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\nContent-Type: application/x-www-form-urlencoded\r\nContent-Length: {}\r\n\r\n{body}",
            body.len()
        ),
    )
}

/// Form-encodes a value.
fn enc(v: &str) -> String {
    v.bytes()
        .map(|b| match b {
            b'a'..=b'z' | b'A'..=b'Z' | b'0'..=b'9' | b'-' | b'_' | b'.' => (b as char).to_string(),
            _ => format!("%{b:02X}"),
        })
        .collect()
}

/// A fresh, empty directory under the workspace's target directory.
fn scratch(name: &str) -> PathBuf {
    let dir = root()
        .join("target/serve-e2e")
        .join(format!("{name}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).expect("scratch directory");
    dir
}

/// Runs headless Chromium with `args` then `url`, killing it after 60 s;
/// returns its standard output.
fn chromium(name: &str, args: &[&str], url: &str) -> String {
    assert!(
        Path::new(CHROMIUM).exists(),
        "{CHROMIUM} is missing: the serve end-to-end test needs Debian's Chromium. \
         .ci/run installs it (DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends chromium); \
         locally run: apt-get update && apt-get install -y --no-install-recommends chromium"
    );
    let dir = scratch(name);
    let profile = dir.join("profile");
    let (out_path, err_path) = (dir.join("stdout"), dir.join("stderr"));
    let mut child = Command::new(CHROMIUM)
        .args([
            "--headless",
            "--no-sandbox",
            "--disable-gpu",
            "--disable-quic",
            "--no-first-run",
            "--disable-background-networking",
            "--disable-component-update",
            "--disable-sync",
            "--disable-dev-shm-usage",
            "--window-size=1280,2200",
        ])
        .arg(format!("--user-data-dir={}", profile.display()))
        .args(args)
        .arg(url)
        .stdin(Stdio::null())
        .stdout(std::fs::File::create(&out_path).expect("stdout file"))
        .stderr(std::fs::File::create(&err_path).expect("stderr file"))
        .spawn()
        .expect("start chromium");
    let mut status = None;
    for _ in 0..CHROMIUM_POLLS {
        if let Some(s) = child.try_wait().expect("poll chromium") {
            status = Some(s);
            break;
        }
        std::thread::sleep(Duration::from_millis(100));
    }
    let stderr = || std::fs::read_to_string(&err_path).unwrap_or_default();
    let Some(status) = status else {
        let _ = child.kill();
        let _ = child.wait();
        panic!(
            "chromium did not finish within 60 s on {url}; its stderr:\n{}",
            stderr()
        );
    };
    assert!(
        status.success(),
        "chromium failed ({status}) on {url}; its stderr:\n{}",
        stderr()
    );
    let out = std::fs::read_to_string(&out_path).expect("chromium's output");
    let _ = std::fs::remove_dir_all(&dir);
    out
}

// Bad input answers 400 with the problem on the page; good input answers 200 with the results.
#[test]
fn bad_input_is_http_400_with_the_message() {
    let port = server();
    let (status, body) = get(port, "/run?scenario=failure.toml&w=9");
    assert_eq!(status, 400, "{body}");
    assert!(body.contains("w = 9 exceeds n = 3"), "{body}");
    assert!(
        body.contains("name=\"w\" value=\"9\""),
        "the form keeps the input"
    );

    let (status, body) = post(port, "/run", &format!("toml={}", enc("name = [oops")));
    assert_eq!(status, 400, "{body}");
    assert!(body.contains("TOML syntax"), "{body}");

    let (status, body) = get(port, "/run?scenario=failure.toml&seed=1&loss=lots");
    assert_eq!(status, 400);
    assert!(
        body.contains("Loss: &quot;lots&quot; is not a probability"),
        "{body}"
    );

    let (status, body) = get(port, "/run?scenario=..%2FCargo.toml");
    assert_eq!(status, 400);
    assert!(body.contains("unknown scenario"), "{body}");

    let toml = std::fs::read_to_string(root().join("scenarios/failure.toml")).expect("scenario");
    let (status, body) = post(port, "/run", &format!("toml={}&op=put%231", enc(&toml)));
    assert_eq!(status, 200, "{body}");
    assert!(body.contains("result: as expected"));

    let (status, _) = get(port, "/no-such-page");
    assert_eq!(status, 404);
}

/// Whether to run the browser test: always when `DYNSIM_BROWSER_TEST=1`
/// (`.ci/run` sets it, so a missing Chromium fails there), otherwise only
/// when Chromium is installed. Skipping says so on the terminal: libtest
/// captures `eprintln!`, but not a direct write to standard error.
fn browser_test_wanted() -> bool {
    if std::env::var("DYNSIM_BROWSER_TEST").as_deref() == Ok("1") || Path::new(CHROMIUM).exists() {
        return true;
    }
    let _ = writeln!(
        std::io::stderr(),
        "NOT RUN: serve::chromium_renders_the_page needs {CHROMIUM} (apt-get install chromium); \
         set DYNSIM_BROWSER_TEST=1 to make its absence a failure"
    );
    false
}

// Chromium renders a good run (summary, latency SVG, sequence chart), a bad
// run's message, and a screenshot a person can look at (target/serve-screenshot.png).
#[test]
fn chromium_renders_the_page() {
    if !browser_test_wanted() {
        return;
    }
    let port = server();
    let base = format!("http://127.0.0.1:{port}");

    let good = format!("{base}/run?scenario=failure.toml&seed=1&op=put%231");
    let dom = chromium("good", &["--dump-dom"], &good);
    assert!(dom.contains("result: as expected"), "{dom}");
    assert!(dom.contains("<svg"), "no SVG chart in:\n{dom}");
    assert!(dom.contains("Latency histogram"), "no latency chart");
    assert!(
        dom.contains("id=\"seqchart\"") && dom.contains("m5 Replicate hint=n1"),
        "no sequence chart with the hinted replica in:\n{dom}"
    );

    let bad = format!("{base}/run?scenario=failure.toml&w=9");
    let dom = chromium("bad-w", &["--dump-dom"], &bad);
    assert!(dom.contains("exceeds n = 3"), "{dom}");
    assert!(dom.contains("nothing was run"), "{dom}");

    let bad_toml = format!("{base}/run?toml={}", enc("name = \"x\"\nseed = [1"));
    let dom = chromium("bad-toml", &["--dump-dom"], &bad_toml);
    assert!(dom.contains("TOML syntax"), "{dom}");

    let shot = root().join("target/serve-screenshot.png");
    let _ = std::fs::remove_file(&shot);
    chromium(
        "shot",
        &[&format!("--screenshot={}", shot.display())],
        &good,
    );
    let png = std::fs::read(&shot).expect("chromium wrote the screenshot");
    assert!(
        png.starts_with(b"\x89PNG\r\n\x1a\n"),
        "the screenshot is not a PNG"
    );
    assert!(
        png.len() > 10 * 1024,
        "the screenshot is only {} bytes",
        png.len()
    );
}
