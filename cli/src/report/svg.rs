//! Small, dependency-free SVG charts (line charts, CDFs, histograms) for the
//! experiment reports and the web page. Output is a pure function of the
//! data, formatted with fixed precision, so a report is byte-identical run to run.

use std::fmt::Write as _;

const W: f64 = 780.0;
const H: f64 = 380.0;
const LEFT: f64 = 70.0;
/// The widest legend column; a longer series name is shortened to fit,
/// with an ellipsis, never clipped by the edge of the image.
const RIGHT_MAX: f64 = 330.0;
/// The narrowest legend column.
const RIGHT_MIN: f64 = 90.0;
const TOP: f64 = 40.0;
const BOTTOM: f64 = 55.0;
const COLORS: &[&str] = &[
    "#1f77b4", "#d62728", "#2ca02c", "#ff7f0e", "#9467bd", "#8c564b", "#e377c2", "#17becf",
    "#7f7f7f", "#bcbd22",
];

/// One named line.
#[derive(Clone, Debug)]
pub struct Series {
    /// The name the legend shows.
    pub name: String,
    /// The (x, y) points, joined in this order.
    pub points: Vec<(f64, f64)>,
    /// Drawn dashed (for model predictions next to measurements).
    pub dashed: bool,
}

impl Series {
    /// A solid line through `points`.
    pub fn new(name: impl Into<String>, points: Vec<(f64, f64)>) -> Series {
        Series {
            name: name.into(),
            points,
            dashed: false,
        }
    }
}

/// A chart: axes, labels, and the lines to draw.
#[derive(Clone, Debug, Default)]
pub struct Chart {
    /// The title above the plot.
    pub title: String,
    /// The label under the x axis.
    pub x_label: String,
    /// The label beside the y axis.
    pub y_label: String,
    /// The lines, in legend order; colours follow that order.
    pub series: Vec<Series>,
    /// Fixed y range; by default it spans the data (and 0).
    pub y_range: Option<(f64, f64)>,
    /// Fixed x range (points outside are left out); by default it spans the data.
    pub x_range: Option<(f64, f64)>,
    /// Draw points as markers too.
    pub markers: bool,
    /// A logarithmic x axis (decades); points at x <= 0 are left out.
    pub log_x: bool,
    /// A logarithmic y axis (decades); points at y <= 0 are left out.
    pub log_y: bool,
}

/// The font the charts ask for first: its widths are the ones measured
/// here. DejaVu Sans is also the widest of the common sans-serif fonts, so
/// text measured with it fits in any of them.
const FONT: &str = "DejaVu Sans, Verdana, sans-serif";

/// Advance widths of DejaVu Sans for the printable ASCII characters, in
/// font units (2048 to the em), from `' '` to `'~'`.
const DEJAVU_SANS: [u16; 95] = [
    651, 821, 942, 1716, 1303, 1946, 1597, 563, 799, 799, 1024, 1716, 651, 739, 651,
    690, // ' '..'/'
    1303, 1303, 1303, 1303, 1303, 1303, 1303, 1303, 1303, 1303, // '0'..'9'
    690, 690, 1716, 1716, 1716, 1087, 2048, // ':'..'@'
    1401, 1405, 1430, 1577, 1294, 1178, 1587, 1540, 604, 604, 1343, 1141, 1767, 1532, 1612, 1235,
    1612, 1423, 1300, 1251, 1499, 1401, 2025, 1403, 1251, 1403, // 'A'..'Z'
    799, 690, 799, 1716, 1024, 1024, // '['..'`'
    1255, 1300, 1126, 1300, 1260, 721, 1300, 1298, 569, 569, 1186, 569, 1995, 1298, 1253, 1300,
    1300, 842, 1067, 803, 1298, 1212, 1675, 1212, 1212, 1075, // 'a'..'z'
    1303, 690, 1303, 1716, // '{'..'~'
];

/// The width in pixels of `text` at `size` px in DejaVu Sans; a character
/// outside printable ASCII counts as wide as an "M".
pub fn text_width(text: &str, size: f64) -> f64 {
    let units: u32 = text
        .chars()
        .map(|c| match c {
            ' '..='~' => u32::from(DEJAVU_SANS[c as usize - ' ' as usize]),
            _ => 1767,
        })
        .sum();
    f64::from(units) * size / 2048.0
}

/// `text` shortened with an ellipsis to at most `width` px at `size` px.
fn fit(text: &str, width: f64, size: f64) -> String {
    if text_width(text, size) <= width {
        return text.to_string();
    }
    let mut out = String::new();
    for c in text.chars() {
        out.push(c);
        if text_width(&out, size) + text_width("\u{2026}", size) > width {
            out.pop();
            break;
        }
    }
    out.push('\u{2026}');
    out
}

fn esc(s: &str) -> String {
    s.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('"', "&quot;")
}

/// Round tick steps: 1, 2 or 5 times a power of ten, about `n` of them over the span.
pub fn ticks(lo: f64, hi: f64, n: usize) -> Vec<f64> {
    if hi.partial_cmp(&lo) != Some(std::cmp::Ordering::Greater) {
        return vec![lo];
    }
    let raw = (hi - lo) / n as f64;
    // libm, not std: the tick positions (and so the SVG bytes) must not depend on the platform's math library.
    let mag = libm::pow(10.0, libm::floor(libm::log10(raw)));
    let step = [1.0, 2.0, 5.0, 10.0]
        .iter()
        .map(|m| m * mag)
        .find(|s| *s >= raw)
        .unwrap_or(10.0 * mag);
    let first = (lo / step).ceil() as i64;
    let last = (hi / step).floor() as i64;
    (first..=last).map(|i| i as f64 * step).collect()
}

/// Like [`ticks`], but never between whole numbers: for axes of counts.
pub fn whole_ticks(lo: f64, hi: f64, n: usize) -> Vec<f64> {
    let t = ticks(lo, hi, n);
    if t.iter().all(|v| v.fract() == 0.0) {
        return t;
    }
    (lo.ceil() as i64..=hi.floor() as i64)
        .map(|i| i as f64)
        .collect()
}

/// The decimals every tick of an axis shows: as many as its step needs,
/// so "0.0, 0.2, ... 1.0" rather than "0, 0.200, ... 1".
fn tick_decimals(ticks: &[f64]) -> usize {
    let step = match ticks {
        [a, b, ..] => (b - a).abs(),
        _ => {
            return if ticks.iter().all(|t| t.fract() == 0.0) {
                0
            } else {
                3
            };
        }
    };
    if step >= 1.0 || step <= 0.0 {
        return 0;
    }
    // A step of 1, 2 or 5 times 10^-k needs k decimals.
    (-libm::floor(libm::log10(step) + 1e-9)) as usize
}

/// An axis's tick labels: decades on a log axis, otherwise every tick
/// with the decimals its step needs.
fn tick_labels(ticks: &[f64], log: bool) -> Vec<String> {
    let decimals = tick_decimals(ticks);
    ticks
        .iter()
        .map(|&t| {
            if log {
                fmt_decade(t)
            } else {
                let t = if t == 0.0 { 0.0 } else { t };
                format!("{t:.decimals$}")
            }
        })
        .collect()
}

/// A value on a log axis is its decade exponent; others stay as they are.
fn axis(log: bool, v: f64) -> f64 {
    if log { libm::log10(v) } else { v }
}

/// Decade ticks (integer exponents) over a log axis's exponent range.
fn decade_ticks(lo: f64, hi: f64) -> Vec<f64> {
    (libm::ceil(lo) as i64..=libm::floor(hi) as i64)
        .map(|e| e as f64)
        .collect()
}

/// A decade's label: `0.001`, `1`, `1000`, and `1e-5` or `1e6` beyond.
fn fmt_decade(e: f64) -> String {
    let e = e as i32;
    match e {
        -3..=-1 => format!("{:.*}", (-e) as usize, libm::pow(10.0, f64::from(e))),
        0..=3 => format!("{}", 10i64.pow(e as u32)),
        _ => format!("1e{e}"),
    }
}

/// Renders a line chart.
pub fn line_chart(c: &Chart) -> String {
    let visible = |x: f64| c.x_range.is_none_or(|(a, b)| x >= a && x <= b);
    // On a log axis, only positive values have a place.
    let plotted =
        |&(x, y): &(f64, f64)| visible(x) && (!c.log_x || x > 0.0) && (!c.log_y || y > 0.0);
    let (tx, ty) = (|x| axis(c.log_x, x), |y| axis(c.log_y, y));
    let pts = c
        .series
        .iter()
        .flat_map(|s| s.points.iter())
        .filter(|p| plotted(p));
    let y_start = if c.log_y { f64::INFINITY } else { 0.0 };
    let (mut x0, mut x1, mut y0, mut y1) =
        (f64::INFINITY, f64::NEG_INFINITY, y_start, f64::NEG_INFINITY);
    for &(x, y) in pts {
        x0 = x0.min(tx(x));
        x1 = x1.max(tx(x));
        y0 = y0.min(ty(y));
        y1 = y1.max(ty(y));
    }
    if !x0.is_finite() {
        (x0, x1) = (0.0, 1.0);
    }
    if !y0.is_finite() || !y1.is_finite() {
        (y0, y1) = (0.0, 1.0);
    }
    if let Some((a, b)) = c.x_range {
        (x0, x1) = (tx(a), tx(b));
    }
    if let Some((a, b)) = c.y_range {
        (y0, y1) = (ty(a), ty(b));
    }
    // Log axes span whole decades.
    if c.log_x {
        (x0, x1) = (libm::floor(x0), libm::ceil(x1));
    }
    if c.log_y {
        (y0, y1) = (libm::floor(y0), libm::ceil(y1));
    }
    if x1 <= x0 {
        x1 = x0 + 1.0;
    }
    if y1 <= y0 {
        y1 = y0 + 1.0;
    }
    // The legend column is as wide as its longest name needs, measured in
    // the font the chart asks for, so short legends leave the plot more room.
    let longest = c
        .series
        .iter()
        .map(|s| text_width(&s.name, 12.0))
        .fold(0.0, f64::max);
    let right = (44.0 + longest).clamp(RIGHT_MIN, RIGHT_MAX);
    let pw = W - LEFT - right;
    let ph = H - TOP - BOTTOM;
    // Screen positions take axis values (exponents on a log axis).
    let sx = |x: f64| LEFT + (x - x0) / (x1 - x0) * pw;
    let sy = |y: f64| TOP + ph - (y - y0) / (y1 - y0) * ph;
    let mut o = String::new();
    let _ = write!(
        o,
        r#"<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 {W} {H}" width="{W}" height="{H}" font-family="{FONT}" font-size="12">"#
    );
    let _ = write!(o, r##"<rect width="{W}" height="{H}" fill="#fff"/>"##);
    let _ = write!(
        o,
        r#"<text x="{}" y="22" font-size="14" font-weight="bold">{}</text>"#,
        LEFT,
        esc(&c.title)
    );
    let x_ticks = if c.log_x {
        decade_ticks(x0, x1)
    } else {
        ticks(x0, x1, 8)
    };
    let x_labels = tick_labels(&x_ticks, c.log_x);
    for (t, label) in x_ticks.into_iter().zip(x_labels) {
        let x = sx(t);
        let _ = write!(
            o,
            r##"<line x1="{x:.1}" y1="{TOP}" x2="{x:.1}" y2="{:.1}" stroke="#eee"/>"##,
            TOP + ph
        );
        let _ = write!(
            o,
            r#"<text x="{x:.1}" y="{:.1}" text-anchor="middle">{}</text>"#,
            TOP + ph + 16.0,
            label
        );
    }
    // Counts (every y a whole number, as in a histogram) get whole-number ticks.
    let whole_y = c.series.iter().any(|s| !s.points.is_empty())
        && c.series
            .iter()
            .flat_map(|s| s.points.iter())
            .all(|p| p.1.fract() == 0.0);
    let y_ticks = if c.log_y {
        decade_ticks(y0, y1)
    } else if whole_y {
        whole_ticks(y0, y1, 6)
    } else {
        ticks(y0, y1, 6)
    };
    let y_labels = tick_labels(&y_ticks, c.log_y);
    for (t, label) in y_ticks.into_iter().zip(y_labels) {
        let y = sy(t);
        let _ = write!(
            o,
            r##"<line x1="{LEFT}" y1="{y:.1}" x2="{:.1}" y2="{y:.1}" stroke="#eee"/>"##,
            LEFT + pw
        );
        let _ = write!(
            o,
            r#"<text x="{:.1}" y="{:.1}" text-anchor="end">{}</text>"#,
            LEFT - 6.0,
            y + 4.0,
            label
        );
    }
    let _ = write!(
        o,
        r##"<rect x="{LEFT}" y="{TOP}" width="{pw}" height="{ph}" fill="none" stroke="#333"/>"##
    );
    let _ = write!(
        o,
        r#"<text x="{:.1}" y="{:.1}" text-anchor="middle">{}</text>"#,
        LEFT + pw / 2.0,
        H - 12.0,
        esc(&c.x_label)
    );
    let _ = write!(
        o,
        r#"<text x="16" y="{:.1}" text-anchor="middle" transform="rotate(-90 16 {:.1})">{}</text>"#,
        TOP + ph / 2.0,
        TOP + ph / 2.0,
        esc(&c.y_label)
    );
    for (i, s) in c.series.iter().enumerate() {
        let color = COLORS[i % COLORS.len()];
        let path: Vec<String> = s
            .points
            .iter()
            .filter(|p| plotted(p))
            .map(|&(x, y)| format!("{:.1},{:.1}", sx(tx(x)), sy(ty(y).clamp(y0, y1))))
            .collect();
        let dash = if s.dashed {
            r#" stroke-dasharray="6 4""#
        } else {
            ""
        };
        let _ = write!(
            o,
            r#"<polyline fill="none" stroke="{color}" stroke-width="2"{dash} points="{}"/>"#,
            path.join(" ")
        );
        if c.markers {
            for &(x, y) in s.points.iter().filter(|p| plotted(p)) {
                let _ = write!(
                    o,
                    r#"<circle cx="{:.1}" cy="{:.1}" r="2.5" fill="{color}"/>"#,
                    sx(tx(x)),
                    sy(ty(y).clamp(y0, y1))
                );
            }
        }
        let ly = TOP + 14.0 + 18.0 * i as f64;
        let lx = LEFT + pw + 12.0;
        let _ = write!(
            o,
            r#"<line x1="{lx}" y1="{ly}" x2="{}" y2="{ly}" stroke="{color}" stroke-width="2"{dash}/>"#,
            lx + 20.0
        );
        let _ = write!(
            o,
            r#"<text x="{}" y="{}">{}</text>"#,
            lx + 26.0,
            ly + 4.0,
            esc(&fit(&s.name, W - (lx + 26.0) - 4.0, 12.0))
        );
    }
    o.push_str("</svg>");
    o
}

/// The empirical CDF of `values` as chart points (x = value, y = fraction <= x).
pub fn cdf_points(values: &[f64]) -> Vec<(f64, f64)> {
    let mut v: Vec<f64> = values.to_vec();
    v.sort_by(f64::total_cmp);
    let n = v.len() as f64;
    // At most ~400 points per line, keeping the exact tail.
    let step = (v.len() / 400).max(1);
    let mut out: Vec<(f64, f64)> = v
        .iter()
        .enumerate()
        .filter(|(i, _)| i % step == 0)
        .map(|(i, x)| (*x, (i + 1) as f64 / n))
        .collect();
    if let Some(&last) = v.last() {
        out.push((last, 1.0));
    }
    out
}

/// A histogram of `values` over `bins` equal bins as chart points (a step line).
pub fn histogram_points(values: &[f64], bins: usize) -> Vec<(f64, f64)> {
    if values.is_empty() {
        return Vec::new();
    }
    let lo = values.iter().copied().fold(f64::INFINITY, f64::min);
    let hi = values.iter().copied().fold(f64::NEG_INFINITY, f64::max);
    let width = if hi > lo {
        (hi - lo) / bins as f64
    } else {
        1.0
    };
    let mut counts = vec![0u64; bins];
    for &v in values {
        let i = (((v - lo) / width) as usize).min(bins - 1);
        counts[i] += 1;
    }
    let mut out = Vec::new();
    for (i, c) in counts.iter().enumerate() {
        let (a, b) = (lo + i as f64 * width, lo + (i + 1) as f64 * width);
        out.push((a, *c as f64));
        out.push((b, *c as f64));
    }
    out
}

#[cfg(test)]
mod tests {

    // Count axes get whole-number ticks even when the range is small.
    #[test]
    fn count_ticks_are_whole() {
        assert!(ticks(0.0, 1.15, 6).iter().any(|t| t.fract() != 0.0));
        assert_eq!(whole_ticks(0.0, 1.15, 6), [0.0, 1.0]);
        assert_eq!(whole_ticks(0.0, 4.6, 6), [0.0, 1.0, 2.0, 3.0, 4.0]);
        assert_eq!(whole_ticks(0.0, 60.0, 6), ticks(0.0, 60.0, 6));
    }

    use super::*;

    // Ticks are round numbers inside the range.
    #[test]
    fn round_ticks() {
        assert_eq!(
            ticks(0.0, 100.0, 5),
            vec![0.0, 20.0, 40.0, 60.0, 80.0, 100.0]
        );
        assert_eq!(ticks(0.0, 1.0, 4), vec![0.0, 0.5, 1.0]);
    }

    // A chart names its series and escapes text; the same data gives the same bytes.
    #[test]
    fn chart_is_deterministic_and_escaped() {
        let c = Chart {
            title: "a < b".into(),
            series: vec![Series::new("N=3 R=1 W=1", vec![(0.0, 0.5), (10.0, 1.0)])],
            ..Chart::default()
        };
        let svg = line_chart(&c);
        assert!(svg.contains("a &lt; b") && svg.contains("N=3 R=1 W=1"));
        assert_eq!(svg, line_chart(&c));
        assert_eq!(cdf_points(&[3.0, 1.0, 2.0]).last(), Some(&(3.0, 1.0)));
    }

    // A log axis labels whole decades, spans whole decades around the data,
    // and leaves out points it cannot place (0 on a log scale).
    #[test]
    fn log_axes_label_decades() {
        let c = Chart {
            series: vec![Series::new(
                "misses",
                vec![(1.0, 0.03), (2.0, 0.002), (3.0, 0.0), (20.0, 0.0004)],
            )],
            log_y: true,
            log_x: true,
            markers: true,
            ..Chart::default()
        };
        let svg = line_chart(&c);
        for label in [
            ">1e-4<", ">0.001<", ">0.01<", ">0.1<", ">1<", ">10<", ">100<",
        ] {
            assert!(svg.contains(label), "{label} in {svg}");
        }
        assert_eq!(svg.matches("<circle").count(), 3, "the zero is left out");
        assert_eq!(fmt_decade(-5.0), "1e-5");
        assert_eq!(fmt_decade(6.0), "1e6");
        assert_eq!(decade_ticks(-3.2, 0.5), [-3.0, -2.0, -1.0, 0.0]);
    }

    // Text is measured in DejaVu Sans ("=" is about 10 px at 12 px, where
    // the old 7 px a character cut "N=4 R=1 W=2" short), so every legend
    // entry that fits is drawn whole, and one that cannot ends in an ellipsis.
    #[test]
    fn legends_are_measured_not_guessed() {
        assert!((text_width("=", 12.0) - 10.05).abs() < 0.01);
        assert!(text_width("N=4 R=1 W=2 published", 12.0) > 7.0 * 21.0);
        let names = ["N=4 R=1 W=1", "N=4 R=1 W=2 published", "dynsim"];
        let chart = line_chart(&Chart {
            series: names
                .iter()
                .map(|n| Series::new(*n, vec![(0.0, 1.0), (1.0, 2.0)]))
                .collect(),
            ..Chart::default()
        });
        for n in names {
            assert!(chart.contains(&format!(">{n}</text>")), "{n} drawn whole");
        }
        let long = "x".repeat(200);
        let chart = line_chart(&Chart {
            series: vec![Series::new(long.as_str(), vec![(0.0, 1.0)])],
            ..Chart::default()
        });
        assert!(chart.contains("\u{2026}</text>") && !chart.contains(&long));
    }

    // Every tick of an axis shows the same decimals.
    #[test]
    fn tick_labels_agree() {
        let chart = line_chart(&Chart {
            series: vec![Series::new("p", vec![(0.0, 0.25), (10.0, 0.95)])],
            y_range: Some((0.0, 1.0)),
            ..Chart::default()
        });
        for label in ["0.0", "0.2", "0.4", "0.6", "0.8", "1.0"] {
            assert!(chart.contains(&format!(">{label}</text>")), "{label}");
        }
        assert!(!chart.contains(">0.800<") && !chart.contains(">1<"));
        assert_eq!(tick_decimals(&[0.0, 0.05, 0.1]), 2);
        assert_eq!(tick_decimals(&[0.0, 20.0, 40.0]), 0);
    }
}
