//! Experiments: each file in experiments/ runs (with fewer trials), writes a
//! self-contained report, and shows the behaviour the setup is about.

use dynsim::report::experiment::{self, Experiment};
use dynsim_tests::root;

fn load(name: &str, trials: u64) -> Experiment {
    std::env::set_current_dir(root()).expect("workspace root");
    let mut e =
        experiment::load(&format!("experiments/{name}.toml")).unwrap_or_else(|d| panic!("{d}"));
    e.trials = trials;
    e
}

fn col(t: &experiment::Table, name: &str) -> usize {
    t.columns
        .iter()
        .position(|c| c == name)
        .unwrap_or_else(|| panic!("no column {name}"))
}

fn run(e: &Experiment) -> experiment::Outcome2 {
    let out = experiment::run(e, &|| {}).expect("the experiment runs");
    let html = experiment::report(e, &out);
    assert!(html.contains("<svg") && html.contains("Deviations from the original setup"));
    // Self-contained: nothing is fetched (the only URL is the SVG namespace).
    assert!(
        !html.contains("src=") && !html.contains("<link"),
        "the report loads nothing"
    );
    assert_eq!(
        html.matches("http").count(),
        html.matches("http://www.w3.org/2000/svg").count()
    );
    out
}

// The seed latency table: with a fixed 10 ms latency, W = 3 puts wait for a round trip to two other replicas.
#[test]
fn seed_latency() {
    let out = run(&load("seed_latency", 200));
    let t = &out.table;
    let put_w3 = t
        .rows
        .iter()
        .find(|r| r[col(t, "quorum")] == "N=4 R=1 W=3" && r[col(t, "op")] == "put")
        .unwrap();
    let p50: f64 = put_w3[col(t, "p50_ms")].parse().unwrap();
    assert!((20.0..=30.0).contains(&p50), "p50 {p50}");
    assert_eq!(t.rows.len(), 4);
}

// Staleness: a strict quorum (R + W > N) always reads the new value; R = W = 1 sometimes does not at delay 0.
#[test]
fn seed_staleness() {
    let out = run(&load("seed_staleness", 100));
    let t = &out.table;
    let pct = |q: &str, d: &str| -> Vec<f64> {
        t.rows
            .iter()
            .filter(|r| {
                r[0].starts_with("uniform")
                    && r[col(t, "quorum")] == q
                    && r[col(t, "delay_ms")] == d
            })
            .map(|r| r[col(t, "percent")].parse().unwrap())
            .collect()
    };
    assert!(pct("N=4 R=2 W=3", "0").iter().all(|&p| p == 100.0));
    assert!(pct("N=4 R=1 W=1", "0").iter().all(|&p| p < 90.0));
    assert!(
        pct("N=4 R=1 W=1", "100").iter().all(|&p| p == 100.0),
        "uniform latency is at most 100 ms"
    );
}

// PBS: strict quorums are always consistent in both models; partial quorums become consistent as t grows.
#[test]
fn pbs_t_visibility() {
    let out = run(&load("pbs_t_visibility", 100));
    let t = &out.table;
    let p = |q: &str, model: &str, ms: &str| -> f64 {
        let r = t
            .rows
            .iter()
            .find(|r| {
                r[col(t, "quorum")] == q
                    && r[col(t, "model")] == model
                    && r[col(t, "t_ms")] == ms
                    && r[0] == "LNKD-DISK"
            })
            .unwrap();
        r[col(t, "p_consistent")].parse().unwrap()
    };
    for model in ["dynsim", "WARS"] {
        assert_eq!(p("N=3 R=2 W=2", model, "0"), 1.0);
        assert!(p("N=3 R=1 W=1", model, "0") < p("N=3 R=1 W=1", model, "200"));
    }
    assert_eq!(p("N=3 R=1 W=1", "WARS", "200"), 1.0);
    // Every probability sits inside its 95% interval; at 100 trials a point
    // the 99.9% times rest on a stale read or two, and the report says so.
    let (pc, lo, hi) = (
        col(t, "p_consistent"),
        col(t, "p_ci95_low"),
        col(t, "p_ci95_high"),
    );
    for r in t.rows.iter().filter(|r| !r[pc].is_empty()) {
        let [p, lo, hi] = [pc, lo, hi].map(|c| r[c].parse::<f64>().unwrap());
        assert!(lo <= p && p <= hi && hi - lo > 0.0, "{r:?}");
    }
    let thin = t.thin_estimates();
    assert!(
        thin.iter()
            .any(|s| s.contains("t_p0.999_ms") && s.contains("rests on")),
        "{thin:?}"
    );
    // A strict quorum's time is exact: nothing to flag.
    assert!(!thin.iter().any(|s| s.contains("R=2 W=2")), "{thin:?}");
    let e = load("pbs_t_visibility", 100);
    let html = experiment::report(&e, &out);
    assert!(html.contains(&format!(
        "{} estimates rest on fewer than 20 events",
        thin.len()
    )));
}

/// A pbs result's P(consistent) at N = 3, R = W = 1, for `model` at `ms`
/// (in `network`, or the only one).
fn p_consistent(out: &experiment::Outcome2, network: Option<&str>, model: &str, ms: &str) -> f64 {
    let t = &out.table;
    let r = t
        .rows
        .iter()
        .find(|r| {
            r[col(t, "quorum")] == "N=3 R=1 W=1"
                && r[col(t, "model")] == model
                && r[col(t, "t_ms")] == ms
                && network.is_none_or(|n| r[0] == n)
        })
        .unwrap();
    r[col(t, "p_consistent")].parse().unwrap()
}

// With proxy routing (a token-less coordinator sending to all N replicas),
// the full protocol is the PBS paper's WARS setting, and its t-visibility
// matches the WARS model: at R = W = 1 and t = 0 both are near 97% for
// LNKD-SSD, where Dynamo routing (the coordinator a replica) gives far less.
#[test]
fn pbs_proxy_matches_wars() {
    let p = |out: &experiment::Outcome2, model: &str, ms: &str| -> f64 {
        p_consistent(out, Some("LNKD-SSD"), model, ms)
    };
    // One quorum and one network of each file: the point under test.
    let narrow = |name: &str, trials: u64| {
        let mut e = load(name, trials);
        e.quorums = vec![(3, 1, 1)];
        e.networks.retain(|(n, _)| n == "LNKD-SSD");
        e
    };
    let proxy = run(&narrow("pbs_proxy", 4_000));
    let (dynsim, wars) = (p(&proxy, "dynsim", "0"), p(&proxy, "WARS", "0"));
    assert!(
        (dynsim - wars).abs() < 0.015,
        "dynsim {dynsim} vs WARS {wars}"
    );
    assert!(dynsim > 0.95, "{dynsim}");
    // The file's published value is found in the results and shown beside them.
    let e = narrow("pbs_proxy", 4_000);
    let compared = experiment::compare_reference(e.reference.as_ref().unwrap(), &proxy.table);
    let value = |label: &str| {
        compared
            .iter()
            .find(|(l, _, _)| l == label)
            .map(|(_, published, ours)| (*published, *ours))
            .unwrap_or_else(|| panic!("no reference value {label:?}"))
    };
    assert_eq!(
        value("P(consistent) at t = 0, LNKD-SSD, N = 3, R = W = 1 (§5.6: 97.4%), dynsim"),
        (0.974, Some(dynsim))
    );
    assert_eq!(
        value("P(consistent) at t = 0, LNKD-SSD, N = 3, R = W = 1 (§5.6: 97.4%), WARS"),
        (0.974, Some(wars))
    );
    // A value in a latency row's column is found past the visibility rows, which leave it empty.
    let t999 = value("t-visibility for 99.9%, LNKD-SSD, R = W = 1 (§1: 1.85 ms), dynsim").1;
    assert!(t999.is_some_and(|t| t > 0.5 && t < 5.0), "{t999:?}");
    // Values of networks this narrowed run left out match no result.
    assert_eq!(
        value("t-visibility for 99.9%, YMMR, R = W = 1 (§5.6: 1364 ms), dynsim"),
        (1364.0, None)
    );
    assert!(experiment::report(&e, &proxy).contains("<h2>Published values</h2>"));
    let dynamo = run(&narrow("pbs_t_visibility", 1_000));
    assert!(
        p(&dynamo, "dynsim", "0") < 0.8,
        "{}",
        p(&dynamo, "dynsim", "0")
    );
}

// The PBS WAN setup: one replica in each of three data centres, 75 ms more
// each way between them. With a proxy in a random data centre the full
// protocol matches the WARS model over the same links at every t; a read at
// t = 0 is consistent about one time in three (when its proxy shares the
// write's data centre, the local replica has the write). With Dynamo's
// routing the local replica coordinates and answers a read from its own
// store at once, so a write from another data centre is still missing at
// t = 75 ms, where WARS (every read waits for a reply) is mostly consistent.
#[test]
fn pbs_wan_follows_its_links() {
    let p = |out: &experiment::Outcome2, model: &str, ms: &str| -> f64 {
        p_consistent(out, None, model, ms)
    };
    let narrow = |name: &str| {
        let mut e = load(name, 3_000);
        e.quorums = vec![(3, 1, 1)];
        e
    };
    let proxy = run(&narrow("pbs_wan_proxy"));
    for ms in ["0", "20", "75", "100", "150"] {
        let (d, w) = (p(&proxy, "dynsim", ms), p(&proxy, "WARS", ms));
        assert!((d - w).abs() < 0.04, "t = {ms}: dynsim {d} vs WARS {w}");
    }
    let at0 = p(&proxy, "WARS", "0");
    assert!((0.28..0.40).contains(&at0), "{at0}");
    assert!(p(&proxy, "WARS", "75") > 0.6);
    assert!(p(&proxy, "WARS", "150") > 0.99);
    let dynamo = run(&narrow("pbs_wan"));
    let (d, w) = (p(&dynamo, "dynsim", "75"), p(&dynamo, "WARS", "75"));
    assert!(d < 0.45 && w > 0.6, "dynsim {d} vs WARS {w} at 75 ms");
    assert!(p(&dynamo, "dynsim", "150") > 0.99);
}

// One node joining a ring of S nodes copies about its fair share, N / (S + 1),
// of the key space under either strategy; S1's new tokens split existing
// ranges (about one per token), S3's whole partitions split none.
#[test]
fn join_cost_splits_ranges_only_under_s1() {
    let out = run(&load("join_cost", 4));
    let t = &out.table;
    assert_eq!(t.rows.len(), 6);
    for r in &t.rows {
        let f = |c: &str| -> f64 { r[col(t, c)].parse().unwrap() };
        let (copies, ideal) = (f("copies_mean"), f("copies_ideal"));
        assert!(
            copies > 0.6 * ideal && copies < 1.5 * ideal,
            "{r:?}: copies {copies} against {ideal}"
        );
        let split = f("ranges_split_mean");
        if r[0] == "S3" {
            assert_eq!(split, 0.0, "{r:?}");
        } else {
            assert!((6.0..=8.0).contains(&split), "{r:?}");
        }
    }
}

// Last write wins loses acknowledged adds under concurrency; siblings merged by union lose none.
#[test]
fn lww_lost_updates() {
    let out = run(&load("lww_lost_updates", 2));
    let t = &out.table;
    for r in &t.rows {
        let pct: f64 = r[col(t, "survival_percent")].parse().unwrap();
        let clients: u32 = r[col(t, "clients")].parse().unwrap();
        if r[0].starts_with("siblings") || clients == 1 {
            assert_eq!(pct, 100.0, "{r:?}");
        } else if clients >= 4 {
            assert!(pct < 90.0, "{r:?}");
        }
    }
}

// Clock skew: with n0's clock off, last write wins loses acknowledged adds
// even with one client and no concurrency (its writes lose to the older
// values they replaced, or beat newer ones); vector clocks lose none.
#[test]
fn lww_clock_skew() {
    let out = run(&load("lww_clock_skew", 4));
    let t = &out.table;
    let survival = |mode: &str, skew: &str, clients: &str| -> f64 {
        t.rows
            .iter()
            .find(|r| {
                r[0].starts_with(mode)
                    && r[col(t, "n0_skew_ms")] == skew
                    && r[col(t, "clients")] == clients
            })
            .unwrap_or_else(|| panic!("no row {mode} {skew} {clients}"))[col(t, "survival_percent")]
        .parse()
        .unwrap()
    };
    for skew in ["0", "-50", "-500", "500"] {
        for clients in ["1", "2", "4"] {
            assert_eq!(
                survival("siblings", skew, clients),
                100.0,
                "{skew} {clients}"
            );
        }
    }
    assert_eq!(survival("last", "0", "1"), 100.0, "one client, no skew");
    for skew in ["-50", "-500", "500"] {
        assert!(
            survival("last", skew, "1") < 95.0,
            "one client, n0 {skew} ms"
        );
    }
}

// Load balance: equal partitions balance better than random tokens, and random tokens improve with more of them.
#[test]
fn load_balance() {
    let mut e = load("load_balance", 3);
    e.keys = 5_000;
    let out = run(&e);
    let t = &out.table;
    let eff = |s: &str, tpn: &str| -> f64 {
        t.rows
            .iter()
            .find(|r| r[0].starts_with(s) && r[col(t, "tokens_per_node")] == tpn)
            .unwrap()[col(t, "efficiency_mean")]
        .parse()
        .unwrap()
    };
    assert!(eff("S3", "1") > eff("S1", "1"));
    assert!(eff("S1", "128") > eff("S1", "1"));
}

// Latency percentiles grow with the loss rate (a lost message costs a request timeout).
#[test]
fn latency_under_loss() {
    let out = run(&load("latency_under_loss", 300));
    let t = &out.table;
    let p99 = |loss: &str| -> f64 {
        t.rows
            .iter()
            .find(|r| {
                r[col(t, "loss")] == loss
                    && r[col(t, "quorum")] == "N=3 R=1 W=3"
                    && r[col(t, "op")] == "put"
            })
            .unwrap()[col(t, "p99_ms")]
        .parse()
        .unwrap()
    };
    assert!(p99("0.2") > p99("0") + 50.0);
    assert!(
        out.charts
            .iter()
            .any(|(caption, _)| caption.contains("against message loss"))
    );
}

// Points run on several threads give exactly what one thread gives: the
// tables and the reports, for every kind that runs trials.
#[test]
fn threads_do_not_change_results() {
    for (name, trials) in [
        ("seed_latency", 50),
        ("seed_staleness", 20),
        ("pbs_proxy", 50),
        ("pbs_wan_proxy", 50),
    ] {
        let mut e = load(name, trials);
        let one = experiment::run(&e, &|| {}).expect("the experiment runs");
        e.jobs = 3;
        let three = experiment::run(&e, &|| {}).expect("the experiment runs");
        assert_eq!(one.table.to_csv(), three.table.to_csv(), "{name}");
        assert_eq!(
            experiment::report(&e, &one),
            experiment::report(&e, &three),
            "{name}"
        );
    }
}

// k-staleness: with random quorums the full protocol reads one of the last
// k versions as often as the PBS closed form says, at every (N, R, W) and k.
#[test]
fn k_staleness_matches_the_closed_form() {
    use dynsim::report::experiment::k_staleness_closed_form as closed;
    assert!((closed(3, 1, 1, 1) - 1.0 / 3.0).abs() < 1e-12);
    assert!((closed(3, 2, 1, 1) - 2.0 / 3.0).abs() < 1e-12);
    assert!((closed(3, 1, 1, 2) - 5.0 / 9.0).abs() < 1e-12);
    assert_eq!(closed(3, 2, 2, 1), 1.0, "R + W > N always overlaps");
    let out = run(&load("k_staleness", 3_000));
    let t = &out.table;
    assert_eq!(t.rows.len(), 3 * 8);
    for r in &t.rows {
        let p: f64 = r[col(t, "p_measured")].parse().unwrap();
        let f: f64 = r[col(t, "p_closed_form")].parse().unwrap();
        assert!((p - f).abs() < 0.03, "{r:?}");
    }
}

// Client timing: the seed project's (a request costs one 10 ms sample, the
// reply nothing) adds exactly 10 ms to every op of the free-client table,
// and full Dynamo timing (10 ms each way) exactly 20 ms: constant latencies
// draw nothing, so the runs are otherwise the same.
#[test]
fn client_timing_shifts_the_seed_latency_table() {
    let means = |name: &str, trials: u64| -> Vec<f64> {
        let out = run(&load(name, trials));
        let t = &out.table;
        t.rows
            .iter()
            .map(|r| r[col(t, "mean_ms")].parse().unwrap())
            .collect()
    };
    let free = means("seed_latency", 100);
    let dynamo = means("seed_latency_dynamo_timing", 100);
    assert_eq!(dynamo.len(), free.len());
    for (a, b) in free.iter().zip(&dynamo) {
        assert!((b - a - 20.0).abs() < 1e-9, "{a} -> {b}");
    }
    // The seed's own timing: one 10 ms sample a receiving handler, none for
    // replies. Half the requests land outside the key's owners and are
    // forwarded, one more sample: (4,1,3) get 15, put 25; (4,3,1) get 25, put 15.
    let seed = means("seed_latency_seed_timing", 1000);
    for (got, want) in seed.iter().zip([15.0, 25.0, 25.0, 15.0]) {
        assert!((got - want).abs() < 1.0, "{seed:?}");
    }
}

// With the seed's timing, each R = 1 staleness curve lies within 3
// percentage points of the seed project's published table at every delay
// (at the file's 20,000 trials a point; the seed's own points rest on 1,000).
#[test]
fn seed_timing_staleness_matches_the_seed_table_at_r1() {
    let mut e = load("seed_staleness_seed_timing", 20_000);
    e.quorums.retain(|q| q.1 == 1);
    let out = experiment::run(&e, &|| {}).expect("runs");
    let r = e.reference.as_ref().expect("the seed's table");
    let compared = experiment::compare_reference(r, &out.table);
    let matched: Vec<_> = compared.iter().filter(|c| c.2.is_some()).collect();
    assert_eq!(
        matched.len(),
        2 * 2 * 16,
        "two quorums, two networks, 16 delays"
    );
    for (label, published, ours) in matched {
        let ours = ours.expect("matched");
        assert!(
            (ours - published).abs() <= 3.0,
            "{label}: published {published}, dynsim {ours}"
        );
    }
}
