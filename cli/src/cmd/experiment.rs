//! `dynsim experiment`: parameter sweeps with many trials a point, a table and an HTML report.

use super::common::{EXIT_BAD_INPUT, EXIT_OK};
use crate::cmd::output::write_output;
use crate::report::experiment as exp;
use std::path::{Path, PathBuf};

/// The arguments of `dynsim experiment`.
#[derive(clap::Args, Debug)]
pub struct ExperimentArgs {
    /// The experiment file (see experiments/README.md).
    pub file: PathBuf,
    /// Where to write results.csv, results.json and report.html (default: experiment-out/<name>; "-" prints the CSV table and writes no files).
    #[arg(long, value_name = "DIR|-")]
    pub out: Option<PathBuf>,
    /// Override the number of trials per point.
    #[arg(long)]
    pub trials: Option<u64>,
    /// Threads that run points, 1 to 1024 (default: the machine's cores). The results do not depend on it.
    #[arg(long, short, value_parser = crate::explore::sweep::parse_jobs)]
    pub jobs: Option<usize>,
    /// Print a plain progress line on standard error for every point, from the start (without
    /// it, a terminal shows a bar, and a pipe or file gets a line every 5 s once the run has taken 2 s).
    #[arg(long)]
    pub progress: bool,
}

/// `dynsim experiment FILE`.
pub(super) fn run(args: &ExperimentArgs) -> u8 {
    let mut e = match exp::load(&args.file.to_string_lossy()) {
        Ok(e) => e,
        Err(d) => {
            eprintln!("{d}");
            return EXIT_BAD_INPUT;
        }
    };
    if let Some(t) = args.trials {
        if !(1..=exp::MAX_TRIALS).contains(&t) {
            eprintln!(
                "error: --trials {t}: valid values are 1..={}",
                exp::MAX_TRIALS
            );
            return EXIT_BAD_INPUT;
        }
        e.trials = t;
    }
    e.jobs = args.jobs.unwrap_or_else(|| {
        std::thread::available_parallelism()
            .map_or(1, |n| n.get().min(crate::explore::sweep::MAX_JOBS))
    });
    // `--out -` prints the CSV table and writes no files.
    let to_stdout = args.out.as_deref() == Some(Path::new(crate::cmd::output::STDOUT));
    let dir: PathBuf = args
        .out
        .clone()
        .unwrap_or_else(|| Path::new("experiment-out").join(&e.name));
    // Find out that the output cannot be written before spending the run.
    if !to_stdout {
        if let Err(err) = std::fs::create_dir_all(&dir) {
            eprintln!(
                "error: --out {}: cannot create the directory: {err}",
                dir.display()
            );
            return EXIT_BAD_INPUT;
        }
    }
    let bar = crate::cmd::progress::Counted::new(exp::points(&e), 0, "points", args.progress);
    let clock = crate::wall::Stopwatch::start();
    let out = exp::run(&e, &|| bar.inc(None));
    bar.finish();
    let out = match out {
        Ok(out) => out,
        Err(err) => {
            eprintln!("error: {}: {err}", args.file.display());
            return EXIT_BAD_INPUT;
        }
    };
    // Published values beside dynsim's, on standard error (the table is the
    // output): the first few; the report has them all.
    if let Some(r) = &e.reference {
        eprintln!("published values ({}):", r.source);
        let compared = exp::compare_reference(r, &out.table);
        for (label, published, ours) in compared.iter().take(SUMMARY_ROWS) {
            match ours {
                Some(x) => eprintln!(
                    "  {label}: published {published}, measured {x} ({:+.4})",
                    x - published
                ),
                None => eprintln!("  {label}: published {published}, no result matches"),
            }
        }
        if compared.len() > SUMMARY_ROWS {
            eprintln!(
                "  ... {} more published values beside dynsim's in the report",
                compared.len() - SUMMARY_ROWS
            );
        }
    }
    if to_stdout {
        crate::cmd::output::print(&out.table.to_csv());
        eprintln!("{} points in {:.1}s", exp::points(&e), clock.seconds());
        return EXIT_OK;
    }
    let html = exp::report(&e, &out);
    let written = write_output(&dir.join("results.csv"), |w| {
        w.write_all(out.table.to_csv().as_bytes())
    })
    .and_then(|()| {
        write_output(&dir.join("results.json"), |w| {
            w.write_all(out.table.to_json().as_bytes())
        })
    })
    .and_then(|()| write_output(&dir.join("report.html"), |w| w.write_all(html.as_bytes())));
    if let Err(err) = written {
        eprintln!("error: cannot write to {}: {err}", dir.display());
        return EXIT_BAD_INPUT;
    }
    let thin = out.table.thin_estimates();
    if !thin.is_empty() {
        eprintln!(
            "warning: {} estimate{} rest on fewer than {} events (listed in the report; more --trials firm them up), first: {}",
            thin.len(),
            if thin.len() == 1 { "" } else { "s" },
            exp::MIN_EVENTS,
            thin[0]
        );
    }
    crate::cmd::output::print(&format!(
        "{}: {} points in {:.1}s\n{}report: {}\ntable: {} ({} rows), {}\n",
        e.name,
        exp::points(&e),
        clock.seconds(),
        summary(&out.table, SUMMARY_ROWS),
        dir.join("report.html").display(),
        dir.join("results.csv").display(),
        out.table.rows.len(),
        dir.join("results.json").display(),
    ));
    EXIT_OK
}

/// Rows of the table the terminal shows; the rest are in results.csv.
const SUMMARY_ROWS: usize = 12;

/// The table's first `rows` rows in aligned columns, and how many more there are.
fn summary(table: &exp::Table, rows: usize) -> String {
    let shown = &table.rows[..table.rows.len().min(rows)];
    let widths: Vec<usize> = (0..table.columns.len())
        .map(|i| {
            shown
                .iter()
                .map(|r| r.get(i).map_or(0, |c| c.chars().count()))
                .chain([table.columns[i].chars().count()])
                .max()
                .unwrap_or(0)
        })
        .collect();
    let line = |cells: &[String]| {
        let mut l = String::new();
        for (i, w) in widths.iter().enumerate() {
            let c = cells.get(i).map_or("", String::as_str);
            l.push_str(&format!("{c:<w$}  "));
        }
        l.trim_end().to_string() + "\n"
    };
    let mut out = line(&table.columns);
    for r in shown {
        out.push_str(&line(r));
    }
    if table.rows.len() > shown.len() {
        out.push_str(&format!(
            "... {} more rows in the table\n",
            table.rows.len() - shown.len()
        ));
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    // The terminal gets aligned columns and a count of the rows left out.
    #[test]
    fn the_summary_shows_the_first_rows_aligned() {
        let t = exp::Table {
            columns: vec!["quorum".into(), "percent".into()],
            rows: [
                ("N=3 R=1 W=1", "64.50"),
                ("N=3 R=2 W=2", "100.00"),
                ("N=3 R=3 W=1", "100.00"),
            ]
            .map(|(q, p)| vec![q.to_string(), p.to_string()])
            .to_vec(),
        };
        assert_eq!(
            summary(&t, 2),
            "quorum       percent\nN=3 R=1 W=1  64.50\nN=3 R=2 W=2  100.00\n... 1 more rows in the table\n"
        );
        assert_eq!(summary(&t, 12).lines().count(), 4, "all rows, no note");
    }
}
