//! `dynsim serve` end to end: the server over plain HTTP (each limit of the
//! page with a test that fails without it), and the page as Debian's
//! headless Chromium renders it, driven through the DevTools protocol.

use dynsim::serve::{Budget, Config};
use dynsim_tests::{root, serve_scratch as scratch};
use std::io::{Read, Write};
use std::net::TcpStream;
use std::time::Duration;

/// How many times a bounded wait polls, 100 ms apart (60 s).
const POLLS: u32 = 600;

/// The default configuration, listing the workspace's scenarios and experiments.
fn config() -> Config {
    let mut c = Config::new("127.0.0.1");
    c.scenarios = root().join("scenarios");
    c.experiments = root().join("experiments");
    c
}

/// Starts a server on an ephemeral port of 127.0.0.1.
fn server_with(c: Config) -> u16 {
    let (port, _thread) = dynsim::serve::start_with(c, 0).expect("the server binds");
    port
}

fn server() -> u16 {
    server_with(config())
}

/// An answer: status, headers (lower-case names) and body.
struct Answer {
    status: u16,
    head: String,
    body: String,
}

impl Answer {
    fn header(&self, name: &str) -> Option<String> {
        self.head.lines().find_map(|l| {
            let (n, v) = l.split_once(':')?;
            n.eq_ignore_ascii_case(name).then(|| v.trim().to_string())
        })
    }
}

/// Sends raw bytes and reads the answer until the server closes.
fn raw(port: u16, request: &[u8]) -> Answer {
    let mut s = TcpStream::connect(("127.0.0.1", port)).expect("connect");
    s.set_read_timeout(Some(Duration::from_secs(120)))
        .expect("timeout");
    // The server may answer (and close) before reading everything sent.
    let _ = s.write_all(request);
    read_answer(&mut s)
}

fn read_answer(s: &mut TcpStream) -> Answer {
    let mut raw = Vec::new();
    let _ = s.read_to_end(&mut raw);
    let text = String::from_utf8_lossy(&raw).into_owned();
    let status = text
        .split(' ')
        .nth(1)
        .and_then(|c| c.parse().ok())
        .unwrap_or_else(|| panic!("no status line in {text:?}"));
    let (head, body) = text.split_once("\r\n\r\n").unwrap_or((&text, ""));
    Answer {
        status,
        head: head.to_string(),
        body: body.to_string(),
    }
}

fn get(port: u16, path: &str) -> Answer {
    raw(
        port,
        format!("GET {path} HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n").as_bytes(),
    )
}

fn post_request(path: &str, body: &str, extra: &str) -> String {
    format!(
        "POST {path} HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n{extra}Content-Type: application/x-www-form-urlencoded\r\nContent-Length: {}\r\n\r\n{body}",
        body.len()
    )
}

fn post(port: u16, path: &str, body: &str) -> Answer {
    raw(port, post_request(path, body, "").as_bytes())
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

/// A scenario that would run for 28 years of simulated time under load.
const ENDLESS: &str = "name = \"endless\"\nseed = 1\nduration = \"900000000s\"\n[cluster]\nnodes = 5\nn = 3\nr = 2\nw = 2\n[load]\nclients = 4\npacing = \"closed\"\nthink = \"5ms\"\nkeys = 20\nread_fraction = 0.5\nstop = \"900000000s\"\n";

// Bad input answers 400 with the problem on the page; good input answers 200 with the results.
#[test]
fn bad_input_is_http_400_with_the_message() {
    let port = server();
    let a = post(port, "/run", "scenario=failure.toml&w=9");
    assert_eq!(a.status, 400, "{}", a.body);
    assert!(a.body.contains("w = 9 exceeds n = 3"), "{}", a.body);
    assert!(
        a.body.contains("name=\"w\" value=\"9\""),
        "the form keeps the input"
    );
    let a = post(port, "/run", &format!("toml={}", enc("name = [oops")));
    assert_eq!(a.status, 400);
    assert!(a.body.contains("TOML syntax"), "{}", a.body);
    let a = post(port, "/run", "scenario=failure.toml&seed=1&loss=lots");
    assert_eq!(a.status, 400);
    assert!(
        a.body
            .contains("Loss: &quot;lots&quot; is not a probability")
    );
    let a = post(port, "/run", "scenario=..%2FCargo.toml");
    assert_eq!(a.status, 400);
    assert!(a.body.contains("unknown scenario"), "{}", a.body);
    let toml = std::fs::read_to_string(root().join("scenarios/failure.toml")).expect("scenario");
    let a = post(port, "/run", &format!("toml={}&op=put%231", enc(&toml)));
    assert_eq!(a.status, 200, "{}", a.body);
    assert!(a.body.contains("result: as expected"));
    assert_eq!(get(port, "/no-such-page").status, 404);
    // The listed file's own text, chosen: named as the file.
    let a = post(
        port,
        "/run",
        &format!("scenario=failure.toml&toml={}", enc(&toml)),
    );
    assert!(
        a.body
            .contains("dynsim run scenarios/failure.toml --seed 1"),
        "{}",
        a.body
    );
    // Text edited after choosing a file is the pasted text: its errors and
    // the command that reproduces it name scenario.toml, never the file.
    let edited = toml.replacen("w = 3", "w = 9", 1);
    let a = post(
        port,
        "/run",
        &format!("scenario=failure.toml&toml={}", enc(&edited)),
    );
    assert_eq!(a.status, 400, "{}", a.body);
    assert!(a.body.contains("scenario.toml:"), "{}", a.body);
    assert!(!a.body.contains("scenarios/failure.toml:"), "{}", a.body);
    let pasted = toml.replacen("seed = 1", "seed = 2", 1);
    let a = post(
        port,
        "/run",
        &format!("scenario=failure.toml&toml={}", enc(&pasted)),
    );
    assert!(
        a.body.contains(
            "dynsim run scenario.toml --seed 2</code>, after saving the scenario text as"
        ),
        "{}",
        a.body
    );
}

// A permalink opens the page with the scenario text it carries, escaped
// (a hostile text stays text); the download link answers the text itself as
// a file to save, plain text, never rendered.
#[test]
fn permalink_and_download_carry_the_text() {
    let port = server();
    let toml = std::fs::read_to_string(root().join("scenarios/failure.toml")).expect("scenario");
    let edited = toml.replacen("seed = 1", "seed = 7", 1);
    let a = get(port, &format!("/?text={}", enc(&edited)));
    assert_eq!(a.status, 200, "{}", a.body);
    assert!(a.body.contains("seed = 7"), "the editor holds the text");
    assert!(
        a.body.contains(&format!(
            "href=\"/?text={}\"",
            enc(&edited).replace("%7E", "~")
        )),
        "the permalink reproduces itself"
    );
    let hostile = "name = \"</textarea><script>alert(1)</script>\"";
    let a = get(port, &format!("/?text={}", enc(hostile)));
    assert_eq!(a.status, 200);
    assert!(!a.body.contains("<script>alert(1)"), "{}", a.body);
    assert!(
        a.body.contains("&lt;/textarea&gt;&lt;script&gt;"),
        "{}",
        a.body
    );
    let d = get(port, &format!("/download?text={}", enc(hostile)));
    assert_eq!(d.status, 200);
    assert_eq!(d.body, hostile);
    assert_eq!(
        d.header("content-type").as_deref(),
        Some("text/plain; charset=utf-8")
    );
    assert_eq!(
        d.header("content-disposition").as_deref(),
        Some("attachment; filename=\"scenario.toml\"")
    );
    assert_eq!(
        d.header("x-content-type-options").as_deref(),
        Some("nosniff")
    );
}

// The trace downloads: JSON Lines (a header object, one object an event, a
// footer object) and Chrome trace-event JSON that Perfetto opens; an
// unknown format is refused with the valid ones.
#[test]
fn trace_downloads_in_each_format() {
    let port = server();
    let text = post(port, "/trace", "scenario=failure.toml");
    assert_eq!(text.status, 200, "{}", text.body);
    assert!(text.body.starts_with("# scenario failure"), "{}", text.body);
    let events = text.body.lines().filter(|l| !l.starts_with('#')).count();
    let jsonl = post(port, "/trace", "scenario=failure.toml&format=jsonl");
    assert_eq!(jsonl.status, 200);
    assert_eq!(
        jsonl.header("content-disposition").as_deref(),
        Some("attachment; filename=\"trace.jsonl\"")
    );
    let lines: Vec<serde_json::Value> = jsonl
        .body
        .lines()
        .map(|l| serde_json::from_str(l).expect("a JSON line"))
        .collect();
    assert!(lines[0].get("header").is_some() && lines.last().unwrap().get("footer").is_some());
    assert_eq!(lines.len(), events + 2, "one line an event");
    let chrome = post(port, "/trace", "scenario=failure.toml&format=chrome");
    assert_eq!(chrome.status, 200);
    assert_eq!(
        chrome.header("content-disposition").as_deref(),
        Some("attachment; filename=\"trace.chrome.json\"")
    );
    let v: serde_json::Value = serde_json::from_str(&chrome.body).expect("one JSON document");
    assert!(
        v["traceEvents"].as_array().is_some_and(|e| !e.is_empty()),
        "{v}"
    );
    let bad = post(port, "/trace", "scenario=failure.toml&format=pdf");
    assert_eq!(bad.status, 400);
    assert!(
        bad.body
            .contains("valid formats are text, jsonl and chrome"),
        "{}",
        bad.body
    );
    let page = get(port, "/");
    assert!(
        page.body.contains("value=\"chrome\"") && page.body.contains("Perfetto (ui.perfetto.dev")
    );
}

// HEAD answers the headers of GET without a body; every answer carries nosniff and a CSP that forbids framing.
#[test]
fn head_works_and_answers_carry_security_headers() {
    let port = server();
    let g = get(port, "/");
    assert_eq!(g.status, 200, "{}", g.body);
    let h = raw(
        port,
        b"HEAD / HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n",
    );
    assert_eq!(h.status, 200);
    assert!(h.body.is_empty(), "HEAD has no body");
    assert_eq!(
        h.header("content-length"),
        Some(g.body.len().to_string()),
        "HEAD gives GET's length"
    );
    for a in [&g, &h, &get(port, "/nope"), &get(port, "/style.css")] {
        assert_eq!(
            a.header("x-content-type-options").as_deref(),
            Some("nosniff")
        );
        let csp = a.header("content-security-policy").unwrap_or_default();
        assert!(csp.contains("frame-ancestors 'none'"), "{csp}");
        assert!(csp.contains("script-src 'self'"), "{csp}");
    }
    assert!(
        g.body
            .contains("<link rel=\"stylesheet\" href=\"/style.css\">")
    );
    assert!(!g.body.contains("<style>"), "the CSS lives in its own file");
    assert!(get(port, "/page.js").body.contains("addEventListener"));
}

// A GET to /run (a link or an image on any web page) runs nothing: 405, Allow: POST.
#[test]
fn runs_are_post_only() {
    let port = server();
    let a = get(port, &format!("/run?toml={}", enc(ENDLESS)));
    assert_eq!(a.status, 405, "{}", a.body);
    assert_eq!(a.header("allow").as_deref(), Some("POST"));
    assert!(a.body.contains("answers POST only"));
    assert_eq!(get(port, "/experiment?file=seed_latency.toml").status, 405);
}

// A Host that is not a loopback name (a foreign name, a DNS-rebinding name) gets 403 saying why.
#[test]
fn foreign_host_is_refused() {
    let port = server();
    for host in ["evil.example", &format!("rebind.attacker.example:{port}")] {
        let a = raw(
            port,
            format!("GET / HTTP/1.1\r\nHost: {host}\r\nConnection: close\r\n\r\n").as_bytes(),
        );
        assert_eq!(a.status, 403, "{host}");
        assert!(a.body.contains("DNS rebinding"), "{}", a.body);
    }
    for host in [
        format!("localhost:{port}"),
        format!("[::1]:{port}"),
        "127.9.9.9".to_string(),
        format!("127.0.0.1:{port}"),
    ] {
        let a = raw(
            port,
            format!("GET / HTTP/1.1\r\nHost: {host}\r\nConnection: close\r\n\r\n").as_bytes(),
        );
        assert_eq!(a.status, 200, "{host}");
    }
}

// A POST from another site's page (or an opaque origin) gets 403; the page's own origin runs.
#[test]
fn cross_origin_post_is_refused() {
    let port = server();
    for origin in [
        "http://evil.example",
        "null",
        &format!("http://127.0.0.1:{}", port + 1),
    ] {
        let a = raw(
            port,
            post_request(
                "/run",
                "scenario=failure.toml",
                &format!("Origin: {origin}\r\n"),
            )
            .as_bytes(),
        );
        assert_eq!(a.status, 403, "{origin}");
        assert!(a.body.contains("another site"), "{}", a.body);
    }
    let own = format!("Origin: http://localhost:{port}\r\n");
    let a = raw(
        port,
        post_request("/run", "scenario=failure.toml", &own).as_bytes(),
    );
    assert_eq!(a.status, 200, "{}", a.body);
}

// An address longer than the limit is 414, headers over the limit 431, a body over the limit 413.
#[test]
fn oversized_requests_are_refused() {
    let port = server();
    let long = "a".repeat(20_000);
    let a = get(port, &format!("/?scenario={long}"));
    assert_eq!(a.status, 414, "{}", a.body);
    let header = format!("X-Big: {long}\r\n");
    let a = raw(
        port,
        format!("GET / HTTP/1.1\r\nHost: 127.0.0.1\r\n{header}Connection: close\r\n\r\n")
            .as_bytes(),
    );
    assert_eq!(a.status, 431, "{}", a.body);
    let many: String = (0..100).map(|i| format!("X-{i}: 1\r\n")).collect();
    let a = raw(
        port,
        format!("GET / HTTP/1.1\r\nHost: 127.0.0.1\r\n{many}\r\n").as_bytes(),
    );
    assert_eq!(a.status, 431, "{}", a.body);
    // Announces 100 MB and sends only the head: refused before any of it is read.
    let a = raw(
        port,
        b"POST /run HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Length: 100000000\r\n\r\n",
    );
    assert_eq!(a.status, 413, "{}", a.body);
}

// Two Host, Origin or Content-Length headers are refused with 400: a proxy
// and this server could each read a different one as the one that counts.
#[test]
fn duplicate_headers_are_refused() {
    let port = server();
    for extra in [
        "Host: evil.example\r\n",
        "Origin: http://127.0.0.1\r\nOrigin: http://evil.example\r\n",
        "Content-Length: 3\r\n",
    ] {
        let a = raw(
            port,
            post_request("/run", "scenario=failure.toml", extra).as_bytes(),
        );
        assert_eq!(a.status, 400, "{extra:?}: {}", a.body);
        assert!(a.body.contains("more than one"), "{}", a.body);
    }
}

// Connections that send nothing hold a connection slot only for the idle
// time: with both slots held by idle connections, a request still gets
// through once they are dropped, within a bounded number of tries.
#[test]
fn idle_connections_do_not_lock_the_page_out() {
    let mut c = config();
    c.max_connections = 2;
    c.http.idle_seconds = 0.3;
    let port = server_with(c);
    let idle: Vec<TcpStream> = (0..2)
        .map(|_| TcpStream::connect(("127.0.0.1", port)).expect("connect"))
        .collect();
    let through = (0..POLLS).any(|_| {
        std::thread::sleep(Duration::from_millis(100));
        get(port, "/").status == 200
    });
    assert!(through, "the idle connections kept the page locked");
    drop(idle);
}

// A server with connections to spare lets a quiet connection wait the whole
// request time (a browser preconnects a socket and sends on it later).
#[test]
fn a_quiet_connection_is_kept_while_there_is_room() {
    let mut c = config();
    c.http.idle_seconds = 0.2;
    let port = server_with(c);
    let mut s = TcpStream::connect(("127.0.0.1", port)).expect("connect");
    std::thread::sleep(Duration::from_millis(800));
    s.write_all(b"GET / HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n")
        .expect("send");
    let a = read_answer(&mut s);
    assert_eq!(a.status, 200, "{}", a.body);
}

// A client that half-closes after sending its request (shutdown of its
// writing side) is still waiting for the answer: its run is not stopped as
// if it had gone, and it gets the answer (after an interim 102).
#[test]
fn a_half_closed_client_gets_its_answer() {
    let mut c = config();
    c.run_budget.max_events = 100_000;
    let port = server_with(c);
    let mut s = TcpStream::connect(("127.0.0.1", port)).expect("connect");
    s.write_all(post_request("/run", &format!("toml={}", enc(ENDLESS)), "").as_bytes())
        .expect("send");
    s.shutdown(std::net::Shutdown::Write).expect("half-close");
    s.set_read_timeout(Some(Duration::from_secs(120)))
        .expect("timeout");
    let mut raw = Vec::new();
    let _ = s.read_to_end(&mut raw);
    let text = String::from_utf8_lossy(&raw);
    // Past any interim 1xx answers, the final one.
    let last = text
        .match_indices("HTTP/1.1 ")
        .map(|(i, _)| &text[i..])
        .find(|t| !t.starts_with("HTTP/1.1 1"))
        .unwrap_or_else(|| panic!("no final answer in {text:?}"));
    assert!(last.starts_with("HTTP/1.1 422"), "{last}");
    assert!(
        last.contains("budget of 100000 simulation events"),
        "{last}"
    );
}

// An upload that stalls gets 408 when the request's deadline passes.
#[test]
fn stalled_upload_times_out() {
    let mut c = config();
    c.http.request_seconds = 0.5;
    let port = server_with(c);
    let mut s = TcpStream::connect(("127.0.0.1", port)).expect("connect");
    s.write_all(b"POST /run HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Length: 100\r\n\r\nscenario=")
        .expect("send");
    let a = read_answer(&mut s);
    assert_eq!(a.status, 408, "{}", a.body);
}

// A 20,000-node cluster is refused before anything is built, typed in the TOML or in the quick field.
#[test]
fn too_big_cluster_is_refused() {
    let port = server();
    // Past the scenario reader's own bound: its message, the same as the command line's.
    let toml = "name = \"huge\"\nseed = 1\nduration = \"1s\"\n[cluster]\nnodes = 20000\n";
    let a = post(port, "/run", &format!("toml={}", enc(toml)));
    assert_eq!(a.status, 400, "{}", a.body);
    assert!(
        a.body.contains("above the bound") && a.body.contains("nothing was run"),
        "{}",
        a.body
    );
    // Within the reader's bounds but past what the page builds.
    let toml = "name = \"big\"\nseed = 1\nduration = \"1s\"\n[cluster]\nnodes = 5000\n";
    let a = post(port, "/run", &format!("toml={}", enc(toml)));
    assert_eq!(a.status, 400, "{}", a.body);
    assert!(
        a.body.contains("5000 nodes is more than this page builds"),
        "{}",
        a.body
    );
    let small = "name = \"small\"\nseed = 1\nduration = \"1s\"\n[cluster]\nnodes = 3\n";
    let a = post(port, "/run", &format!("toml={}&nodes=5000", enc(small)));
    assert_eq!(a.status, 400, "{}", a.body);
    assert!(
        a.body.contains("5000 nodes is more than this page builds"),
        "{}",
        a.body
    );
}

// Building a cluster is paid from the run's event budget before any event
// runs: a cluster whose tables alone exceed it is refused, and one that fits
// leaves the rest of the budget to its events.
#[test]
fn building_the_cluster_counts_against_the_budget() {
    let mut c = config();
    c.run_budget.max_events = 1_000;
    let port = server_with(c);
    // 40 nodes: 1,600 view entries and 320 tokens x (19 walk + 3 anti-entropy)
    // ring entries, 8,640 in all, more than the whole budget.
    let toml = "name = \"wide\"\nseed = 1\nduration = \"1s\"\n[cluster]\nnodes = 40\n";
    let a = post(port, "/run", &format!("toml={}", enc(toml)));
    assert_eq!(a.status, 400, "{}", a.body);
    assert!(
        a.body.contains("allocates 8640 table entries") && a.body.contains("budget of 1000"),
        "{}",
        a.body
    );
    // 4 nodes: 16 view entries and 32 tokens x (4 + 3) ring entries fit.
    let toml = "name = \"small\"\nseed = 1\nduration = \"1s\"\n[cluster]\nnodes = 4\n";
    let a = post(port, "/run", &format!("toml={}", enc(toml)));
    assert_eq!(a.status, 200, "{}", a.body);
}

// A run past its event budget is stopped, and the page says what was cut and the command with no limits.
#[test]
fn too_long_run_is_cut_by_the_event_budget() {
    let mut c = config();
    c.run_budget.max_events = 20_000;
    let port = server_with(c);
    let a = post(port, "/run", &format!("toml={}", enc(ENDLESS)));
    assert_eq!(a.status, 422, "{}", a.body);
    assert!(a.body.contains("Run stopped: over this page"), "{}", a.body);
    assert!(
        a.body.contains("budget of 20000 simulation events"),
        "{}",
        a.body
    );
    assert!(
        a.body.contains("dynsim run scenario.toml --seed 1"),
        "{}",
        a.body
    );
    let a = post(port, "/trace", &format!("toml={}", enc(ENDLESS)));
    assert_eq!(a.status, 422, "the trace is budgeted too");
}

// A run past its wall-time budget is stopped the same way.
#[test]
fn too_long_run_is_cut_by_the_wall_budget() {
    let mut c = config();
    c.run_budget.max_seconds = 0.0;
    let port = server_with(c);
    let a = post(port, "/run", &format!("toml={}", enc(ENDLESS)));
    assert_eq!(a.status, 422, "{}", a.body);
    assert!(a.body.contains("s of wall time"), "{}", a.body);
}

// An experiment past its budget is stopped and says so at the experiment form.
#[test]
fn experiment_is_cut_by_its_budget() {
    let mut c = config();
    c.experiment_budget.max_events = 1_000;
    let port = server_with(c);
    let a = post(port, "/experiment", "file=seed_latency.toml");
    assert_eq!(a.status, 422, "{}", a.body);
    assert!(a.body.contains("experiment was stopped"), "{}", a.body);
    assert!(
        a.body
            .contains("dynsim experiment experiments/seed_latency.toml")
    );
}

// An experiment's table downloads as CSV or JSON, with the file's name; an
// unknown format is refused with the valid ones.
#[test]
fn experiment_table_downloads() {
    let port = server();
    let csv = post(port, "/experiment", "file=seed_latency.toml&format=csv");
    assert_eq!(csv.status, 200, "{}", csv.body);
    assert_eq!(
        csv.header("content-disposition").as_deref(),
        Some("attachment; filename=\"seed_latency.csv\"")
    );
    assert!(
        csv.body
            .starts_with("network,loss,quorum,op,count,ok,mean_ms"),
        "{}",
        csv.body
    );
    assert_eq!(csv.body.lines().count(), 5, "a header and four rows");
    let json = post(port, "/experiment", "file=seed_latency.toml&format=json");
    assert_eq!(json.status, 200);
    let v: serde_json::Value = serde_json::from_str(&json.body).expect("JSON");
    assert!(v.to_string().contains("mean_ms"), "{v}");
    let bad = post(port, "/experiment", "file=seed_latency.toml&format=xls");
    assert_eq!(bad.status, 400);
    assert!(
        bad.body.contains("valid formats are html, csv and json"),
        "{}",
        bad.body
    );
}

/// Sends a POST of the endless scenario and returns the open connection.
fn start_endless(port: u16) -> TcpStream {
    let mut s = TcpStream::connect(("127.0.0.1", port)).expect("connect");
    s.write_all(post_request("/run", &format!("toml={}", enc(ENDLESS)), "").as_bytes())
        .expect("send");
    s
}

/// Polls a small run until it is not refused for lack of a run slot; the
/// number of polls is bounded, so a slot that is never freed fails the test.
fn wait_for_a_free_slot(port: u16) -> bool {
    (0..POLLS).any(|_| {
        std::thread::sleep(Duration::from_millis(100));
        post(port, "/run", "scenario=failure.toml").status == 200
    })
}

/// A server with one run slot and budgets no test reaches.
fn one_slot_server() -> u16 {
    let mut c = config();
    c.max_runs = 1;
    c.run_budget = Budget {
        max_events: u64::MAX,
        max_seconds: 3_600.0,
    };
    server_with(c)
}

/// Starts the endless run and waits until it holds the only run slot. The
/// probe is an experiment request without a file, which holds a slot for
/// no time; if the endless request itself was refused (a probe held the
/// slot just then), it is sent again.
fn hold_the_slot(port: u16) -> TcpStream {
    for _ in 0..10 {
        let s = start_endless(port);
        for _ in 0..POLLS {
            if post(port, "/experiment", "").status == 503 {
                return s;
            }
            s.set_nonblocking(true).expect("nonblocking");
            let answered = s.peek(&mut [0u8; 1]).is_ok_and(|n| n > 0);
            s.set_nonblocking(false).expect("blocking");
            if answered {
                break;
            }
            std::thread::sleep(Duration::from_millis(10));
        }
    }
    panic!("the endless run never held the run slot");
}

// Past the limit of runs at once, a request gets 503 with Retry-After; a client that leaves frees its slot.
#[test]
fn concurrent_runs_past_the_limit_get_503() {
    let port = one_slot_server();
    let first = hold_the_slot(port);
    let a = post(port, "/run", "scenario=failure.toml");
    assert_eq!(a.status, 503, "{}", a.body);
    assert_eq!(a.header("retry-after").as_deref(), Some("10"));
    assert!(a.body.contains("try again in 10 s"), "{}", a.body);
    drop(first);
    assert!(wait_for_a_free_slot(port), "the slot came back");
}

// A client that disconnects stops its run: without that, the endless run would hold the only slot for an hour.
#[test]
fn disconnecting_client_stops_its_run() {
    let port = one_slot_server();
    let client = hold_the_slot(port);
    drop(client);
    assert!(
        wait_for_a_free_slot(port),
        "the run stopped when its client left"
    );
}

// The listings follow no symlink out of their folders and end on a symlink loop; such names cannot be run.
#[cfg(unix)]
#[test]
fn listings_do_not_follow_symlinks_out() {
    use std::os::unix::fs::symlink;
    let dir = scratch("symlinks");
    let scenarios = dir.join("scenarios");
    std::fs::create_dir_all(scenarios.join("sub")).expect("dirs");
    std::fs::copy(
        root().join("scenarios/failure.toml"),
        scenarios.join("failure.toml"),
    )
    .expect("copy");
    std::fs::write(dir.join("outside.toml"), "name = \"secret\"").expect("file");
    symlink(dir.join("outside.toml"), scenarios.join("leak.toml")).expect("link");
    symlink(&dir, scenarios.join("up")).expect("link");
    symlink(&scenarios, scenarios.join("sub/loop")).expect("link");
    symlink(scenarios.join("sub/self"), scenarios.join("sub/self")).expect("self loop");
    let mut c = config();
    c.scenarios = scenarios.clone();
    c.experiments = scenarios.join("sub");
    let port = server_with(c);
    let a = get(port, "/");
    assert_eq!(a.status, 200, "{}", a.body);
    assert!(a.body.contains("<option value=\"failure.toml\" selected>"));
    assert!(
        !a.body.contains("leak.toml") && !a.body.contains("up/"),
        "{}",
        a.body
    );
    assert!(!a.body.contains("loop/"), "{}", a.body);
    let a = post(port, "/run", "scenario=leak.toml");
    assert_eq!(a.status, 400);
    assert!(a.body.contains("unknown scenario"));
    let _ = std::fs::remove_dir_all(&dir);
}
