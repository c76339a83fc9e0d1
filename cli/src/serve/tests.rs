//! Unit tests of the pages, without a server.

use super::form::{Quick, build_scenario, parse_params, parse_quick, percent_decode};
use super::http::Request;
use super::sequence::{collect_sequence, seq_svg};
use super::{Page, handle};
use crate::runner;
use crate::scenario;
use dynamo_observer::OpKind;
use sim_core::Latency;
use std::collections::BTreeMap;
use std::path::Path;

fn failure_toml() -> String {
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("../scenarios/failure.toml");
    std::fs::read_to_string(path).expect("scenarios/failure.toml")
}

/// A request from this server's own page.
fn req(method: &str, url: &str, body: &str) -> Page {
    handle(&Request {
        method: method.into(),
        target: url.into(),
        headers: vec![("host".into(), "127.0.0.1".into())],
        body: body.as_bytes().to_vec(),
    })
}

fn form_body(pairs: &[(&str, &str)]) -> String {
    pairs
        .iter()
        .map(|(k, v)| {
            let enc: String = v
                .bytes()
                .map(|b| match b {
                    b'a'..=b'z' | b'A'..=b'Z' | b'0'..=b'9' | b'-' | b'_' | b'.' => {
                        (b as char).to_string()
                    }
                    b' ' => "+".to_string(),
                    _ => format!("%{b:02X}"),
                })
                .collect();
            format!("{k}={enc}")
        })
        .collect::<Vec<_>>()
        .join("&")
}

// Form decoding handles '+', percent escapes, bad escapes and repeated names.
#[test]
fn decodes_forms() {
    assert_eq!(percent_decode("a+b%20c%3D%26"), "a b c=&");
    assert_eq!(percent_decode("100%"), "100%");
    assert_eq!(percent_decode("%zz%4"), "%zz%4");
    assert_eq!(percent_decode("%C3%A9"), "\u{e9}");
    let p = parse_params("x=1&y=&x=2&flag");
    assert_eq!(p.get("x").map(String::as_str), Some("2"));
    assert_eq!(p.get("y").map(String::as_str), Some(""));
    assert_eq!(p.get("flag").map(String::as_str), Some(""));
}

// Quick fields that are not numbers, or out of range, are each reported.
#[test]
fn quick_fields_are_checked() {
    let q: BTreeMap<&'static str, String> = [
        ("seed", "x".to_string()),
        ("nodes", "0".to_string()),
        ("lat_min", "5".to_string()),
        ("lat_max", "1".to_string()),
        ("loss", "2".to_string()),
    ]
    .into_iter()
    .collect();
    let (valid, errs) = parse_quick(&q);
    assert_eq!(
        valid,
        Quick {
            nodes: Some(0),
            ..Quick::default()
        },
        "only nodes was a number"
    );
    let all = errs.join("\n");
    assert!(all.contains("Seed: \"x\" is not a whole number"), "{all}");
    assert!(
        !all.contains("Nodes"),
        "0 nodes is left to the scenario's own check: {all}"
    );
    assert!(all.contains("min 5 ms exceeds max 1 ms"), "{all}");
    assert!(all.contains("Loss: \"2\" is not a probability"), "{all}");
}

// Quick fields override the text, and a quorum larger than N is reported by field.
#[test]
fn quick_fields_override_and_validate() {
    let text = failure_toml();
    let more = Quick {
        nodes: Some(5),
        ..Quick::default()
    };
    let errs = build_scenario("failure.toml", &text, &more).expect_err("n4 has no token");
    assert!(
        errs.iter()
            .any(|e| e.contains("explicit_tokens: node n4 has no tokens")),
        "{errs:?}"
    );
    let q = Quick {
        r: Some(2),
        latency: Some((1.0, 2.5)),
        loss: Some(0.1),
        ..Quick::default()
    };
    let s = build_scenario("failure.toml", &text, &q).expect("valid");
    assert_eq!((s.cluster.nodes, s.cluster.r), (4, 2));
    assert_eq!(
        s.net.latency,
        Latency::Uniform {
            min_us: 1_000.0,
            max_us: 2_500.0
        }
    );
    assert!((s.net.loss - 0.1).abs() < 1e-12);
    let bad = Quick {
        w: Some(9),
        ..Quick::default()
    };
    let errs = build_scenario("failure.toml", &text, &bad).expect_err("w > n");
    assert!(
        errs.iter().any(|e| e.contains("w = 9 exceeds n = 3")),
        "{errs:?}"
    );
    // A problem of the text itself keeps its line number.
    let broken = text.replace("r = 3", "r = \"three\"");
    let errs = build_scenario("failure.toml", &broken, &bad).expect_err("bad r");
    assert!(
        errs.iter()
            .any(|e| e.starts_with("failure.toml:19:5: cluster.r:")),
        "{errs:?}"
    );
}

// The chart of put#1 in failure.toml holds its own messages and notes, and no get's.
#[test]
fn sequence_follows_one_op() {
    let s = scenario::parse("failure.toml", &failure_toml()).expect("valid");
    let report = runner::run(&s, s.seed, true).expect("the scenario runs");
    let op = &report.cluster.history()[0];
    let seq = collect_sequence(
        &report.cluster.sim.core.trace.records,
        op,
        report.cluster.now(),
    );
    let text = seq.lines.join("\n");
    for want in [
        "request       put#1",
        "forward       put#1",
        "m1 Forward",
        "m2 ForwardAck",
        "coordinate    op1 for put#1",
        "drop          m3 Replicate",
        "m6 Replicate op1 key 2 \"apple\"[n0:1] hint=n1",
        "timeout       op1: n1 did not answer; fallback n3",
        "hint          holding key 2",
        "deliver       m7 ReplicateAck",
        "reply         put#1",
    ] {
        assert!(text.contains(want), "missing {want:?} in:\n{text}");
    }
    assert!(!text.contains("get#2") && !text.contains("m8 "), "{text}");
    assert_eq!(seq.actors.len(), 5, "c0 and n0..n3");
    let svg = seq_svg(&seq, "put#1").into_string();
    assert!(
        svg.contains("fallback for n1") && svg.contains("coordinator"),
        "{svg}"
    );
    assert_eq!(svg, seq_svg(&seq, "put#1").into_string());
}

// A get's chart includes the read repair its coordinator sends after the quorum answered.
#[test]
fn sequence_includes_read_repair() {
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("../scenarios/repair/read_repair.toml");
    let text = std::fs::read_to_string(path).expect("scenarios/repair/read_repair.toml");
    let s = scenario::parse("read_repair.toml", &text).expect("valid");
    let report = runner::run(&s, s.seed, true).expect("the scenario runs");
    let op = report
        .cluster
        .history()
        .iter()
        .find(|o| o.kind == OpKind::Get)
        .expect("a get");
    let seq = collect_sequence(
        &report.cluster.sim.core.trace.records,
        op,
        report.cluster.now(),
    );
    let text = seq.lines.join("\n");
    for want in [
        "read-repair   n2 is stale for key 2",
        "send          m10 Repair key 2",
        "deliver       m10 Repair",
    ] {
        assert!(text.contains(want), "missing {want:?} in:\n{text}");
    }
}

// A bad quick field answers 400 with the message and the form kept, escaped.
#[test]
fn bad_input_is_400_with_the_form() {
    let body = form_body(&[
        ("toml", &failure_toml()),
        ("w", "9"),
        ("scenario", "failure.toml"),
    ]);
    let page = req("POST", "/run", &body);
    assert_eq!(page.status, 400);
    assert!(page.body.contains("exceeds n = 3"), "{}", page.body);
    assert!(page.body.contains("name=\"w\" value=\"9\""));
    assert!(
        page.body.contains("&quot;apple&quot;"),
        "the TOML is kept, escaped"
    );
    let page = req("POST", "/run", &form_body(&[("toml", "<b>not toml")]));
    assert_eq!(page.status, 400);
    assert!(page.body.contains("TOML syntax") && page.body.contains("&lt;b&gt;not toml"));
    assert!(!page.body.contains("<b>not toml"));
}

// A good run shows the summary, both charts and the sequence chart, and links nothing external.
#[test]
fn good_run_renders_everything() {
    let body = form_body(&[("toml", &failure_toml()), ("op", "put#1")]);
    let page = req("POST", "/run", &body);
    assert_eq!(page.status, 200, "{}", page.body);
    assert!(page.body.contains("result: as expected"));
    assert!(page.body.matches("<svg").count() >= 3);
    assert!(page.body.contains("id=\"seqchart\""));
    for bad in ["src=\"http", "href=\"http", "@import", "url(http"] {
        assert!(!page.body.contains(bad), "external reference {bad}");
    }
    let page = req(
        "POST",
        "/run",
        &form_body(&[("toml", &failure_toml()), ("op", "put#99")]),
    );
    assert_eq!(page.status, 200, "a stale op choice is not an input error");
    assert!(
        page.body
            .contains("Operation put#99 is not among this run's operations")
    );
    assert!(page.body.contains("Message sequence of put#1"));
    let page = req("POST", "/run", "op=put1");
    assert_eq!(page.status, 400);
    assert!(page.body.contains("is not an op name like put#1"));
}

// Unknown paths, methods and scenario names are refused without touching other files.
#[test]
fn refuses_unknown_things() {
    assert_eq!(req("GET", "/nope", "").status, 404);
    assert_eq!(req("DELETE", "/", "").status, 405);
    let p = req("POST", "/run", "scenario=..%2F..%2Fetc%2Fpasswd");
    assert_eq!(p.status, 400);
    assert!(p.body.contains("unknown scenario"));
    let p = req("POST", "/experiment", "file=..%2Fx.toml");
    assert_eq!(p.status, 400);
}

// Runs and experiments answer POST only: a GET link cannot start one.
#[test]
fn runs_are_post_only() {
    for path in [
        "/run?scenario=failure.toml",
        "/trace",
        "/experiment?file=x.toml",
    ] {
        let p = req("GET", path, "");
        assert_eq!(p.status, 405, "{path}");
        assert!(p.headers.contains(&("Allow", "POST".to_string())));
    }
    assert_eq!(req("HEAD", "/", "").status, req("GET", "/", "").status);
}

// Host names: loopback names and addresses with or without a port, and a non-loopback bind address.
#[test]
fn host_names() {
    use super::host_allowed;
    for ok in ["localhost", "127.0.0.1", "127.4.5.6", "::1", "LOCALHOST"] {
        assert!(host_allowed(ok, "127.0.0.1"), "{ok}");
    }
    for bad in [
        "evil.example",
        "localhost.evil.example",
        "10.0.0.5",
        "0.0.0.0",
        "",
    ] {
        assert!(!host_allowed(bad, "127.0.0.1"), "{bad}");
    }
    assert!(host_allowed("10.0.0.5", "10.0.0.5"));
    assert!(
        !host_allowed("0.0.0.0", "0.0.0.0"),
        "the unspecified address is no host name"
    );
}

// Every page is built from templates that escape what the user typed.
#[test]
fn typed_text_is_escaped() {
    let p = req(
        "POST",
        "/run",
        &form_body(&[("toml", "x = \"</textarea><script>1</script>\"")]),
    );
    assert!(!p.body.contains("<script>1"), "{}", p.body);
    assert!(p.body.contains("&lt;/textarea&gt;&lt;script&gt;"));
}
