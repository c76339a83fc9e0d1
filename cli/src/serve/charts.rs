//! The chart glue: the run's latencies as `report::svg` charts.

use crate::report::svg::{self, Chart, Series};
use dynamo_observer::{OpKind, OpRecord};
use maud::{Markup, html};
use sim_core::SimDuration;

/// Up to this many ops, the latency-over-time chart shows each op as a point.
const RAW_POINTS: usize = 300;
/// Past [`RAW_POINTS`], the latency-over-time chart averages this many time bins.
const TIME_BINS: usize = 60;

/// A chart with its titles and lines, everything else by default.
fn chart(title: &str, x_label: &str, y_label: &str, series: Vec<Series>) -> Chart {
    Chart {
        title: title.into(),
        x_label: x_label.into(),
        y_label: y_label.into(),
        series,
        ..Chart::default()
    }
}

/// The latency histogram, CDF and latency over the run, with a note on reading them.
pub(super) fn latency_charts(history: &[OpRecord]) -> Markup {
    let mut hist = Vec::new();
    let mut cdf = Vec::new();
    let mut over_time = Vec::new();
    let (mut total, mut top, mut widest, mut last_start) = (0usize, 0.0f64, 0.0f64, 0.0f64);
    for kind in [OpKind::Get, OpKind::Put] {
        let values: Vec<f64> = history
            .iter()
            .filter(|o| o.kind == kind && o.outcome.is_ok())
            .filter_map(OpRecord::latency)
            .map(SimDuration::as_ms_f64)
            .collect();
        if values.is_empty() {
            continue;
        }
        total += values.len();
        widest = values.iter().copied().fold(widest, f64::max);
        let timeline: Vec<(f64, f64)> = history
            .iter()
            .filter(|o| o.kind == kind && o.outcome.is_ok())
            .filter_map(|o| Some((o.start?.as_us() as f64 / 1_000.0, o.latency()?.as_ms_f64())))
            .collect();
        last_start = timeline.iter().map(|p| p.0).fold(last_start, f64::max);
        over_time.push(Series::new(kind.name(), timeline));
        let name = format!("{} ({})", kind.name(), values.len());
        let points = svg::histogram_points(&values, values.len().clamp(1, 30));
        top = points.iter().map(|p| p.1).fold(top, f64::max);
        hist.push(Series::new(name.clone(), points));
        cdf.push(Series::new(name, svg::cdf_points(&values)));
    }
    if hist.is_empty() {
        return html! { p.muted { "No successful operations, so there is no latency to plot." } };
    }
    // Few samples draw as markers too, so a single op still shows; the x
    // axis starts at 0 and leaves room after the slowest op.
    let markers = total < 60;
    let x_range = Some((0.0, (widest * 1.08).max(1.0)));
    let h = svg::line_chart(&Chart {
        y_range: Some((0.0, (top * 1.15).ceil().max(top + 1.0))),
        x_range,
        markers,
        ..chart(
            "Latency histogram (successful ops)",
            "latency (ms), issue to reply at the client",
            "operations",
            hist,
        )
    });
    let c = svg::line_chart(&Chart {
        y_range: Some((0.0, 1.05)),
        x_range,
        markers,
        ..chart(
            "Latency CDF (successful ops)",
            "latency (ms)",
            "fraction of operations",
            cdf,
        )
    });
    // Up to RAW_POINTS ops each show as a point; more are averaged per time bin.
    let raw = total <= RAW_POINTS;
    let (title, y_label) = if raw {
        ("Latency over the run (successful ops)", "latency (ms)")
    } else {
        (
            "Mean latency over the run (60 time bins)",
            "mean latency (ms)",
        )
    };
    if !raw {
        let span = last_start.max(1.0);
        for s in &mut over_time {
            let mut bins = vec![(0.0f64, 0usize); TIME_BINS];
            for &(t, l) in &s.points {
                let i = ((t / span * TIME_BINS as f64) as usize).min(TIME_BINS - 1);
                bins[i].0 += l;
                bins[i].1 += 1;
            }
            s.points = bins
                .iter()
                .enumerate()
                .filter(|(_, b)| b.1 > 0)
                .map(|(i, b)| ((i as f64 + 0.5) * span / TIME_BINS as f64, b.0 / b.1 as f64))
                .collect();
        }
    }
    let slowest = over_time
        .iter()
        .flat_map(|s| s.points.iter().map(|p| p.1))
        .fold(0.0f64, f64::max);
    let t = svg::line_chart(&Chart {
        x_range: Some((0.0, (last_start * 1.05).max(1.0))),
        y_range: Some((0.0, (slowest * 1.1).max(1.0))),
        markers: raw,
        ..chart(
            title,
            "issue time (ms of simulated time)",
            y_label,
            over_time,
        )
    });
    html! {
        div.charts {
            // Trusted SVG: svg.rs escapes every text it puts in.
            (maud::PreEscaped(h))
            (maud::PreEscaped(c))
            (maud::PreEscaped(t))
            div.muted.chartnote {
                p { "Latency is measured at the client, from issue to reply, in simulated milliseconds; only successful operations are plotted (failed and timed-out ones are counted in the summary)." }
                p { "The histogram uses up to 30 equal bins per kind; the CDF gives the fraction of operations at or below each latency; the last chart shows latency against issue time (each op, or the mean per time bin when there are many), so slow periods (a crash, a partition, a timeout and fallback) stand out." }
            }
        }
    }
}
