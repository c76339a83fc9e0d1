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
    let bar = indicatif::ProgressBar::new(0);
    bar.set_style(
        indicatif::ProgressStyle::with_template(
            "{elapsed_precise} [{bar:40}] {pos}/{len} points {msg}",
        )
        .expect("a valid template")
        .progress_chars("=> "),
    );
    bar.set_message(e.name.clone());
    let clock = crate::wall::Stopwatch::start();
    bar.set_length(exp::points(&e));
    let out = exp::run(&e, &|| bar.inc(1));
    bar.finish_and_clear();
    let out = match out {
        Ok(out) => out,
        Err(err) => {
            eprintln!("error: {}: {err}", args.file.display());
            return EXIT_BAD_INPUT;
        }
    };
    // Published values beside dynsim's, on standard error (the table is the output).
    if let Some(r) = &e.reference {
        eprintln!("published values ({}):", r.source);
        for (label, published, ours) in exp::compare_reference(r, &out.table) {
            match ours {
                Some(x) => eprintln!(
                    "  {label}: published {published}, measured {x} ({:+.4})",
                    x - published
                ),
                None => eprintln!("  {label}: published {published}, no result matches"),
            }
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
    crate::cmd::output::print(&format!(
        "{}{} points in {:.1}s; wrote {}\n",
        out.table.to_csv(),
        exp::points(&e),
        clock.seconds(),
        dir.join("report.html").display()
    ));
    EXIT_OK
}
