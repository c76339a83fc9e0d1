//! The `dynsim serve` end-to-end test: headless Chromium submits the page's
//! own form. It is its own test target without libtest's harness, because
//! libtest has no way to say "skipped" at run time: without Chromium this
//! target prints the test as skipped (never as passed), and `.ci/run`, which
//! sets `DYNSIM_BROWSER_TEST=1`, makes a missing Chromium a failure instead.

use dynsim::serve::Config;
use dynsim_tests::{root, serve_scratch as scratch};
use std::io::{Read, Write};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::Duration;

const CHROMIUM: &str = "/usr/bin/chromium";

const NAME: &str = "chromium_renders_the_page";

fn main() {
    // `cargo test -- <filter>` passes a filter; honour it as libtest would,
    // and `--list` lists the one test.
    let args: Vec<String> = std::env::args().skip(1).collect();
    if args.iter().any(|a| a == "--list") {
        println!("{NAME}: test");
        return;
    }
    let filters: Vec<&String> = args.iter().filter(|a| !a.starts_with('-')).collect();
    if !filters.is_empty() && !filters.iter().any(|f| NAME.contains(f.as_str())) {
        println!(
            "\nrunning 0 tests\n\ntest result: ok. 0 passed; 0 failed; 0 skipped (filtered out)\n"
        );
        return;
    }
    println!("\nrunning 1 test");
    let wanted = std::env::var("DYNSIM_BROWSER_TEST").as_deref() == Ok("1");
    if !wanted && !Path::new(CHROMIUM).exists() {
        println!(
            "test {NAME} ... SKIPPED: needs {CHROMIUM} (apt-get install chromium); set DYNSIM_BROWSER_TEST=1 to make its absence a failure"
        );
        println!("\ntest result: ok. 0 passed; 0 failed; 1 skipped\n");
        return;
    }
    let outcome = std::panic::catch_unwind(chromium_renders_the_page);
    match outcome {
        Ok(()) => {
            println!("test {NAME} ... ok");
            println!("\ntest result: ok. 1 passed; 0 failed; 0 skipped\n");
        }
        Err(_) => {
            println!("test {NAME} ... FAILED");
            println!("\ntest result: FAILED. 0 passed; 1 failed; 0 skipped\n");
            std::process::exit(101);
        }
    }
}

/// How many times a bounded wait polls, 100 ms apart (60 s).
const POLLS: u32 = 600;

/// Starts a server on an ephemeral port of 127.0.0.1, listing the workspace's
/// scenarios and experiments.
fn server() -> u16 {
    let mut c = Config::new("127.0.0.1");
    c.scenarios = root().join("scenarios");
    c.experiments = root().join("experiments");
    let (port, _thread) = dynsim::serve::start_with(c, 0).expect("the server binds");
    port
}

/// Headless Chromium driven over `--remote-debugging-pipe`: commands go to
/// its file descriptor 3 and answers come from 4, as JSON ended by a NUL.
struct Browser {
    child: std::process::Child,
    to: std::process::ChildStdin,
    from: std::sync::mpsc::Receiver<serde_json::Value>,
    next_id: u64,
    stderr: PathBuf,
    dir: PathBuf,
}

impl Browser {
    fn start(name: &str) -> Browser {
        assert!(
            Path::new(CHROMIUM).exists(),
            "{CHROMIUM} is missing: the serve end-to-end test needs Debian's Chromium. \
             .ci/run installs it (DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends chromium); \
             locally run: apt-get update && apt-get install -y --no-install-recommends chromium"
        );
        let dir = scratch(name);
        let stderr = dir.join("stderr");
        // The shell puts the pipes on descriptors 3 and 4, where Chromium expects them.
        let mut child = Command::new("sh")
            .arg("-c")
            .arg("exec \"$0\" \"$@\" 3<&0 4>&1 </dev/null >/dev/null")
            .arg(CHROMIUM)
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
                "--remote-debugging-pipe",
                "--window-size=1280,2200",
            ])
            .arg(format!("--user-data-dir={}", dir.join("profile").display()))
            .arg("about:blank")
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(std::fs::File::create(&stderr).expect("stderr file"))
            .spawn()
            .expect("start chromium");
        let to = child.stdin.take().expect("stdin");
        let mut out = child.stdout.take().expect("stdout");
        let (send, from) = std::sync::mpsc::channel();
        std::thread::spawn(move || {
            let mut buf = Vec::new();
            let mut chunk = [0u8; 65536];
            while let Ok(n) = out.read(&mut chunk) {
                if n == 0 {
                    break;
                }
                buf.extend_from_slice(&chunk[..n]);
                while let Some(i) = buf.iter().position(|b| *b == 0) {
                    let msg: Vec<u8> = buf.drain(..=i).collect();
                    if let Ok(v) = serde_json::from_slice(&msg[..i]) {
                        if send.send(v).is_err() {
                            return;
                        }
                    }
                }
            }
        });
        Browser {
            child,
            to,
            from,
            next_id: 0,
            stderr,
            dir,
        }
    }

    /// Sends one command and waits (at most 60 s) for its answer.
    fn call(
        &mut self,
        session: Option<&str>,
        method: &str,
        params: serde_json::Value,
    ) -> Result<serde_json::Value, String> {
        self.next_id += 1;
        let id = self.next_id;
        let mut msg = serde_json::json!({"id": id, "method": method, "params": params});
        if let Some(s) = session {
            msg["sessionId"] = serde_json::Value::String(s.to_string());
        }
        let mut bytes = serde_json::to_vec(&msg).expect("json");
        bytes.push(0);
        self.to.write_all(&bytes).expect("send to chromium");
        loop {
            let Ok(v) = self.from.recv_timeout(Duration::from_secs(60)) else {
                panic!(
                    "chromium did not answer {method} within 60 s; its stderr:\n{}",
                    std::fs::read_to_string(&self.stderr).unwrap_or_default()
                );
            };
            if v["id"].as_u64() == Some(id) {
                return match v.get("error") {
                    Some(e) => Err(e.to_string()),
                    None => Ok(v["result"].clone()),
                };
            }
        }
    }

    /// Evaluates `js` in the page and returns its value.
    fn eval(&mut self, session: &str, js: &str) -> serde_json::Value {
        self.call(
            Some(session),
            "Runtime.evaluate",
            serde_json::json!({"expression": js, "returnByValue": true}),
        )
        .map(|r| r["result"]["value"].clone())
        .unwrap_or(serde_json::Value::Null)
    }

    /// Polls `js` until it is true (at most 60 s).
    fn wait_for(&mut self, session: &str, js: &str) {
        for _ in 0..POLLS {
            if self.eval(session, js) == serde_json::Value::Bool(true) {
                return;
            }
            std::thread::sleep(Duration::from_millis(100));
        }
        panic!("the page never satisfied {js}");
    }

    /// Opens `url` in a new page and returns its session.
    fn open(&mut self, url: &str) -> String {
        let target = self
            .call(None, "Target.createTarget", serde_json::json!({"url": url}))
            .expect("a page");
        let attached = self
            .call(
                None,
                "Target.attachToTarget",
                serde_json::json!({"targetId": target["targetId"], "flatten": true}),
            )
            .expect("attached");
        let session = attached["sessionId"].as_str().expect("session").to_string();
        self.call(
            Some(&session),
            "Emulation.setDeviceMetricsOverride",
            serde_json::json!({"width": 1280, "height": 2200, "deviceScaleFactor": 1, "mobile": false}),
        )
        .expect("window size");
        session
    }

    /// Loads the form at `base`, lets `fill` set fields, submits, and returns the result's DOM.
    fn submit(&mut self, session: &str, base: &str, fill: &str) -> String {
        self.eval(session, &format!("location.href = '{base}/'"));
        self.wait_for(
            session,
            "location.pathname === '/' && document.readyState === 'complete' && !!document.getElementById('run')",
        );
        self.eval(
            session,
            &format!("{fill}; document.getElementById('run').requestSubmit(); true"),
        );
        self.wait_for(
            session,
            "location.pathname === '/run' && document.readyState === 'complete'",
        );
        self.eval(session, "document.documentElement.outerHTML")
            .as_str()
            .unwrap_or_default()
            .to_string()
    }

    /// Saves the whole page as a PNG.
    fn screenshot(&mut self, session: &str, path: &Path) {
        let shot = self
            .call(
                Some(session),
                "Page.captureScreenshot",
                serde_json::json!({"format": "png", "captureBeyondViewport": true}),
            )
            .expect("a screenshot");
        let png = base64_decode(shot["data"].as_str().expect("image data"));
        std::fs::write(path, png).expect("write the screenshot");
    }
}

impl Drop for Browser {
    fn drop(&mut self) {
        let _ = self.call(None, "Browser.close", serde_json::json!({}));
        let _ = self.child.kill();
        let _ = self.child.wait();
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

/// Decodes standard base64 (the screenshot's encoding).
fn base64_decode(s: &str) -> Vec<u8> {
    let value = |c: u8| match c {
        b'A'..=b'Z' => Some(c - b'A'),
        b'a'..=b'z' => Some(c - b'a' + 26),
        b'0'..=b'9' => Some(c - b'0' + 52),
        b'+' => Some(62),
        b'/' => Some(63),
        _ => None,
    };
    let mut out = Vec::with_capacity(s.len() * 3 / 4);
    let (mut acc, mut bits) = (0u32, 0u32);
    for v in s.bytes().filter_map(value) {
        acc = (acc << 6) | u32::from(v);
        bits += 6;
        if bits >= 8 {
            bits -= 8;
            out.push((acc >> bits) as u8);
            acc &= (1 << bits) - 1;
        }
    }
    out
}

// Chromium submits the page's own form: a good run (summary, latency SVG,
// sequence chart), a bad run's message, and a screenshot a person can look at
// (target/serve-screenshot.png).
fn chromium_renders_the_page() {
    let port = server();
    let base = format!("http://127.0.0.1:{port}");
    let mut b = Browser::start("browser");
    let page = b.open(&format!("{base}/"));

    let dom = b.submit(
        &page,
        &base,
        "document.querySelector('[name=seed]').value = '1'; document.getElementById('op_hidden').value = 'put#1'",
    );
    assert!(dom.contains("result: as expected"), "{dom}");
    assert!(dom.contains("<svg"), "no SVG chart in:\n{dom}");
    assert!(dom.contains("Latency histogram"), "no latency chart");
    assert!(
        dom.contains("id=\"seqchart\"") && dom.contains("m6 Replicate hint=n1"),
        "no sequence chart with the hinted replica in:\n{dom}"
    );
    let shot = root().join("target/serve-screenshot.png");
    let _ = std::fs::remove_file(&shot);
    b.screenshot(&page, &shot);
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

    let dom = b.submit(
        &page,
        &base,
        "document.querySelector('[name=w]').value = '9'",
    );
    assert!(dom.contains("exceeds n = 3"), "{dom}");
    assert!(dom.contains("nothing was run"), "{dom}");

    let dom = b.submit(
        &page,
        &base,
        "document.getElementById('toml').value = 'name = \"x\"\\nseed = [1'",
    );
    assert!(dom.contains("TOML syntax"), "{dom}");

    // Text edited after choosing a file is named scenario.toml, and the
    // page's script selects the line its first problem names.
    let dom = b.submit(
        &page,
        &base,
        "var t = document.getElementById('toml'); t.value = t.value.replace('w = 3', 'w = 9')",
    );
    assert!(dom.contains("scenario.toml:20:"), "{dom}");
    assert!(!dom.contains("scenarios/failure.toml:20"), "{dom}");
    assert!(dom.contains("data-error-line=\"20\""), "{dom}");
}
