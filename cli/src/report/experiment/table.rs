//! A result table (CSV, JSON), and published values beside it.

use super::spec::*;

/// The fewest events (stale reads, samples beyond a percentile, trials) an
/// estimate may rest on before the report flags it as resting on too few.
pub const MIN_EVENTS: u64 = 20;

/// The suffix of a column that counts the events the column before it rests
/// on; a value below [`MIN_EVENTS`] there is flagged in the report.
pub(super) const RESTS_ON: &str = "_rests_on";

/// Each reference value beside dynsim's: the first result row whose columns
/// hold every `where` value and a number in the reference's column (a table
/// may hold rows of several shapes, each leaving the others' columns empty).
pub fn compare_reference(r: &Reference, table: &Table) -> Vec<Compared> {
    let col = |name: &str| table.columns.iter().position(|c| c == name);
    r.values
        .iter()
        .map(|v| {
            let ours = col(&v.column).and_then(|c| {
                table.rows.iter().find_map(|row| {
                    let matches = v
                        .matches
                        .iter()
                        .all(|(k, want)| col(k).is_some_and(|i| row[i] == *want));
                    if matches {
                        row[c].parse::<f64>().ok()
                    } else {
                        None
                    }
                })
            });
            (v.label.clone(), v.value, ours)
        })
        .collect()
}

/// A result table: named columns, one row per measurement.
#[derive(Clone, Debug, Default)]
pub struct Table {
    /// The column names, in order.
    pub columns: Vec<String>,
    /// The rows: one cell per column, as text (empty when a row has no value there).
    pub rows: Vec<Vec<String>>,
}

impl Table {
    /// The estimates that rest on fewer than [`MIN_EVENTS`] events: for
    /// each column `X_rests_on` (the events the column `X` before it rests
    /// on), each row whose count is below the bound, as "row: X = value
    /// rests on n events".
    pub fn thin_estimates(&self) -> Vec<String> {
        let mut out = Vec::new();
        for (c, name) in self.columns.iter().enumerate() {
            let Some(est) = name.strip_suffix(RESTS_ON) else {
                continue;
            };
            let Some(e) = self.columns.iter().position(|x| x == est) else {
                continue;
            };
            for r in &self.rows {
                let Some(n) = r.get(c).and_then(|v| v.parse::<u64>().ok()) else {
                    continue;
                };
                if n < MIN_EVENTS {
                    let label: Vec<&str> = r
                        .iter()
                        .take(4)
                        .map(String::as_str)
                        .filter(|v| !v.is_empty())
                        .collect();
                    out.push(format!(
                        "{}: {est} = {} rests on {n} event{}",
                        label.join(" "),
                        r.get(e).map_or("", String::as_str),
                        if n == 1 { "" } else { "s" }
                    ));
                }
            }
        }
        out
    }

    pub(super) fn new(cols: &[&str]) -> Table {
        Table {
            columns: cols.iter().map(ToString::to_string).collect(),
            rows: Vec::new(),
        }
    }

    pub(super) fn push(&mut self, row: Vec<String>) {
        self.rows.push(row);
    }

    /// The table as CSV: a header line, then one line per row.
    pub fn to_csv(&self) -> String {
        let esc = |s: &str| {
            if s.contains([',', '"', '\n']) {
                format!("\"{}\"", s.replace('"', "\"\""))
            } else {
                s.to_string()
            }
        };
        let mut o = self
            .columns
            .iter()
            .map(|c| esc(c))
            .collect::<Vec<_>>()
            .join(",");
        o.push('\n');
        for r in &self.rows {
            o.push_str(&r.iter().map(|c| esc(c)).collect::<Vec<_>>().join(","));
            o.push('\n');
        }
        o
    }

    /// The table as a JSON array of one object per row, keyed by column;
    /// cells that parse as numbers are written as numbers.
    pub fn to_json(&self) -> String {
        let rows: Vec<serde_json::Value> = self
            .rows
            .iter()
            .map(|r| {
                let obj: serde_json::Map<String, serde_json::Value> = self
                    .columns
                    .iter()
                    .zip(r)
                    .map(|(k, v)| {
                        let val = v
                            .parse::<f64>()
                            .ok()
                            .and_then(serde_json::Number::from_f64)
                            .map_or(
                                serde_json::Value::String(v.clone()),
                                serde_json::Value::Number,
                            );
                        (k.clone(), val)
                    })
                    .collect();
                serde_json::Value::Object(obj)
            })
            .collect();
        serde_json::to_string_pretty(&rows).expect("tables serialize")
    }
}
