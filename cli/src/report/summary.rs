//! The run summary: operations and latency percentiles, versions per get,
//! hints, messages by kind, expectations and checker verdicts.

use crate::runner::Report;
use dynamo_model::Msg;
use dynamo_observer::{OpKind, Outcome};
use sim_core::Message;
use std::fmt::Write as _;

/// Above this many distinct version counts, the "versions per get" line is folded into buckets.
const VERSION_COUNTS_LISTED: usize = 8;

/// The "versions per successful get" line's entries: each count as it is, or,
/// when siblings piled up and the counts are many, the buckets 0, 1, 2, 3, 4,
/// 5-9, 10-99 and 100+ (only the non-empty ones), so the line stays short.
pub fn versions_histogram(hist: &std::collections::BTreeMap<usize, usize>) -> Vec<(String, usize)> {
    if hist.len() <= VERSION_COUNTS_LISTED {
        return hist.iter().map(|(v, n)| (v.to_string(), *n)).collect();
    }
    let buckets: [(usize, usize, &str); 8] = [
        (0, 0, "0"),
        (1, 1, "1"),
        (2, 2, "2"),
        (3, 3, "3"),
        (4, 4, "4"),
        (5, 9, "5-9"),
        (10, 99, "10-99"),
        (100, usize::MAX, "100+"),
    ];
    buckets
        .iter()
        .map(|&(lo, hi, label)| (label.to_string(), hist.range(lo..=hi).map(|(_, n)| n).sum()))
        .filter(|&(_, n)| n > 0)
        .collect()
}

/// Latency statistics of a sample, in microseconds.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct LatencyStats {
    /// How many samples.
    pub count: usize,
    /// The mean.
    pub mean_us: f64,
    /// The population standard deviation (divided by the count, not count - 1).
    pub sd_us: f64,
    /// The median (nearest rank).
    pub p50_us: u64,
    /// The 99th percentile (nearest rank).
    pub p99_us: u64,
    /// The 99.9th percentile (nearest rank).
    pub p999_us: u64,
    /// The largest sample.
    pub max_us: u64,
}

/// Nearest-rank percentile of sorted data.
pub fn percentile(sorted: &[u64], q: f64) -> u64 {
    if sorted.is_empty() {
        return 0;
    }
    let rank = (q * sorted.len() as f64).ceil() as usize;
    sorted[rank.clamp(1, sorted.len()) - 1]
}

impl LatencyStats {
    /// The statistics of the samples `xs`, in microseconds (all zero when empty).
    pub fn of(mut xs: Vec<u64>) -> LatencyStats {
        if xs.is_empty() {
            return LatencyStats::default();
        }
        xs.sort_unstable();
        let n = xs.len() as f64;
        let mean = xs.iter().map(|&x| x as f64).sum::<f64>() / n;
        let var = xs
            .iter()
            .map(|&x| (x as f64 - mean) * (x as f64 - mean))
            .sum::<f64>()
            / n;
        LatencyStats {
            count: xs.len(),
            mean_us: mean,
            sd_us: var.sqrt(),
            p50_us: percentile(&xs, 0.5),
            p99_us: percentile(&xs, 0.99),
            p999_us: percentile(&xs, 0.999),
            max_us: *xs.last().expect("non-empty"),
        }
    }
}

fn ms(us: f64) -> String {
    format!("{:.3}ms", us / 1_000.0)
}

/// Renders the summary as text.
pub fn render(r: &Report) -> String {
    let mut o = String::new();
    let h = r.cluster.history();
    let stats = &r.cluster.sim.core.stats;
    let _ = writeln!(
        o,
        "scenario {} (seed {}): {} simulated, {} events, {}",
        r.scenario.name,
        r.seed,
        r.cluster.now(),
        stats.events,
        r.stop
    );
    let _ = writeln!(o);
    let _ = writeln!(
        o,
        "{:<10}{:>7}{:>7}{:>8}{:>9}{:>12}{:>12}{:>12}{:>12}{:>12}",
        "operation", "count", "ok", "failed", "timeout", "mean", "sd", "p50", "p99", "p99.9"
    );
    for kind in [OpKind::Get, OpKind::Put, OpKind::Delete] {
        let ops: Vec<_> = h.iter().filter(|x| x.kind == kind).collect();
        if kind == OpKind::Delete && ops.is_empty() {
            continue;
        }
        let ok = ops.iter().filter(|x| x.outcome.is_ok()).count();
        let failed = ops
            .iter()
            .filter(|x| matches!(x.outcome, Outcome::Failed { .. }))
            .count();
        let timeout = ops
            .iter()
            .filter(|x| x.outcome == Outcome::TimedOut)
            .count();
        let lat = LatencyStats::of(
            ops.iter()
                .filter(|x| x.outcome.is_ok())
                .filter_map(|x| x.latency())
                .map(|d| d.as_us())
                .collect(),
        );
        let _ = writeln!(
            o,
            "{:<10}{:>7}{:>7}{:>8}{:>9}{:>12}{:>12}{:>12}{:>12}{:>12}",
            kind.name(),
            ops.len(),
            ok,
            failed,
            timeout,
            ms(lat.mean_us),
            ms(lat.sd_us),
            ms(lat.p50_us as f64),
            ms(lat.p99_us as f64),
            ms(lat.p999_us as f64)
        );
    }
    let _ = writeln!(
        o,
        "(latency of successful operations, issue to reply at the client)"
    );
    let mut hist = std::collections::BTreeMap::new();
    for op in h {
        if let Outcome::GetOk { versions, .. } = &op.outcome {
            *hist
                .entry(dynamo_model::visible(versions).len())
                .or_insert(0usize) += 1;
        }
    }
    let gets: usize = hist.values().sum();
    let _ = write!(o, "\nversions per successful get:");
    if gets == 0 {
        let _ = write!(o, " (no successful gets)");
    }
    for (v, n) in versions_histogram(&hist) {
        let _ = write!(o, "  {v}: {n} ({:.2}%)", 100.0 * n as f64 / gets as f64);
    }
    let _ = writeln!(o);
    let _ = writeln!(o, "{}", staleness_line(&r.staleness));
    let c = crate::runner::counters(&r.cluster, r.needless_siblings);
    let n = |name: &str| c.get(name).copied().unwrap_or(0);
    let _ = writeln!(
        o,
        "hints: created {}, delivered {}, pending {}",
        n("hints_created"),
        n("hints_delivered"),
        n("hints_pending")
    );
    let _ = writeln!(
        o,
        "read repairs {}; anti-entropy rounds {}, keys repaired {}; forwarded requests {}; replica timeouts {}",
        n("read_repairs"),
        n("anti_entropy_rounds"),
        n("anti_entropy_keys_repaired"),
        n("forwarded"),
        n("replica_timeouts")
    );
    let _ = writeln!(
        o,
        "clock truncations {}; false conflicts {}",
        n("clock_truncations"),
        n("false_conflicts")
    );
    let _ = writeln!(
        o,
        "\n{:<14}{:>10}{:>11}{:>9}{:>12}",
        "message", "sent", "delivered", "dropped", "duplicated"
    );
    let mut total = [0u64; 4];
    for (i, kind) in Msg::KINDS.iter().enumerate() {
        let row = [
            stats.sent[i],
            stats.delivered[i],
            stats.dropped[i],
            stats.duplicated[i],
        ];
        if row.iter().all(|&x| x == 0) {
            continue;
        }
        for (t, x) in total.iter_mut().zip(row) {
            *t += x;
        }
        let _ = writeln!(
            o,
            "{kind:<14}{:>10}{:>11}{:>9}{:>12}",
            row[0], row[1], row[2], row[3]
        );
    }
    let _ = writeln!(
        o,
        "{:<14}{:>10}{:>11}{:>9}{:>12}",
        "total", total[0], total[1], total[2], total[3]
    );
    if !r.expectations.is_empty() {
        let _ = writeln!(o, "\nexpectations");
        for e in &r.expectations {
            let verdict = if e.ok {
                "ok  ".to_string()
            } else {
                "FAIL".to_string()
            };
            let _ = write!(o, "  {verdict} line {}: {}", e.line, e.what);
            if !e.ok {
                let _ = write!(o, " -- found {}", e.found);
            }
            let _ = writeln!(o);
        }
    }
    let _ = writeln!(o, "\ncheckers");
    for v in &r.verdicts {
        for line in v.to_string().lines() {
            let _ = writeln!(o, "  {line}");
        }
    }
    for u in &r.unexpected_verdicts {
        let _ = writeln!(o, "  FAIL {u}");
    }
    let _ = writeln!(
        o,
        "\nresult: {}",
        if r.as_expected() {
            "as expected"
        } else {
            "NOT as expected"
        }
    );
    o
}

/// Staleness of successful gets: how many saw every acknowledged write that
/// finished before they started (k = 0), how many acknowledged versions
/// behind the others were, and how long after the newest such write they started.
pub fn staleness_line(st: &[dynamo_observer::Staleness]) -> String {
    let relevant: Vec<_> = st.iter().filter(|s| s.since_newest_ack.is_some()).collect();
    if relevant.is_empty() {
        return "staleness: no get followed an acknowledged write of its key".to_string();
    }
    let stale: Vec<_> = relevant.iter().filter(|s| s.k > 0).collect();
    let mut o = format!(
        "staleness: {} of {} gets after an acknowledged write saw it ({:.2}%)",
        relevant.len() - stale.len(),
        relevant.len(),
        100.0 * (relevant.len() - stale.len()) as f64 / relevant.len() as f64
    );
    if !stale.is_empty() {
        let mut ks = std::collections::BTreeMap::new();
        for s in &stale {
            *ks.entry(s.k.min(3)).or_insert(0usize) += 1;
        }
        let k: Vec<String> = ks
            .iter()
            .map(|(k, n)| format!("k={}{}: {n}", k, if *k == 3 { "+" } else { "" }))
            .collect();
        let mut t: Vec<u64> = stale
            .iter()
            .filter_map(|s| s.since_newest_ack)
            .map(|d| d.as_us())
            .collect();
        t.sort_unstable();
        let _ = write!(
            o,
            "; stale: {} ({}), started {} (p50) / {} (max) after the newest acknowledged write",
            stale.len(),
            k.join(", "),
            ms(percentile(&t, 0.5) as f64),
            ms(*t.last().unwrap_or(&0) as f64)
        );
    }
    o
}

#[cfg(test)]
mod tests {
    use super::*;

    // Nearest-rank percentiles: p50 of 1..=10 is 5, p99 is 10, and one sample is every percentile.
    #[test]
    fn nearest_rank() {
        let xs: Vec<u64> = (1..=10).collect();
        assert_eq!(percentile(&xs, 0.5), 5);
        assert_eq!(percentile(&xs, 0.99), 10);
        assert_eq!(percentile(&[7], 0.001), 7);
        let s = LatencyStats::of(vec![2, 4, 4, 4, 5, 5, 7, 9]);
        assert_eq!((s.mean_us, s.sd_us), (5.0, 2.0));
    }

    // A few distinct version counts are listed as they are; many fold into buckets with a tail.
    #[test]
    fn versions_histogram_folds_many_counts() {
        use std::collections::BTreeMap;
        let label = |h: Vec<(String, usize)>| -> String {
            let parts: Vec<String> = h.iter().map(|(l, n)| format!("{l}:{n}")).collect();
            parts.join(" ")
        };
        let few: BTreeMap<usize, usize> = [(1, 5), (2, 3)].into_iter().collect();
        assert_eq!(label(versions_histogram(&few)), "1:5 2:3");
        let many: BTreeMap<usize, usize> = (0..300).map(|v| (v, 1)).collect();
        assert_eq!(
            label(versions_histogram(&many)),
            "0:1 1:1 2:1 3:1 4:1 5-9:5 10-99:90 100+:200"
        );
        let gappy: BTreeMap<usize, usize> = (1..=9).map(|v| (v * 20, 2)).collect();
        assert_eq!(label(versions_histogram(&gappy)), "10-99:8 100+:10");
    }
}
