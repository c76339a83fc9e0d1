//! `dynsim shrink`: a failing sweep seed, turned into the smallest explicit scenario that still fails.

use super::common::{EXIT_BAD_INPUT, EXIT_OK, load};
use crate::cmd::output::{self, write_output};
use crate::explore::shrink::{declared_failures, default_out, shrink};
use std::path::PathBuf;

/// The arguments of `dynsim shrink`.
#[derive(clap::Args, Debug)]
pub struct ShrinkArgs {
    /// The sweep's base scenario.
    pub file: PathBuf,
    /// The failing seed (as a sweep reported it); it replaces the file's own `seed` everywhere.
    #[arg(long)]
    pub seed: u64,
    /// Where to write the shrunk scenario (default: <input file stem>-seed<S>-shrunk.toml in the current directory; "-" for standard output).
    #[arg(long, value_name = "PATH|-")]
    pub out: Option<PathBuf>,
}

/// `dynsim shrink`.
pub(super) fn run(args: &ShrinkArgs) -> u8 {
    let s = match load(&args.file) {
        Ok(s) => s,
        Err(code) => return code,
    };
    let path = args
        .out
        .clone()
        .unwrap_or_else(|| default_out(&args.file, args.seed));
    // Find out that the output cannot be written before spending the runs.
    if let Err(e) = output::check(&path) {
        eprintln!("error: cannot write to {}: {e}", path.display());
        return EXIT_BAD_INPUT;
    }
    let to_stdout = output::target(&path) == output::Target::Stdout;
    let bar = indicatif::ProgressBar::new_spinner();
    let found = shrink(&s, args.seed, |steps, runs| {
        bar.set_message(format!("{steps} steps left after {runs} runs"));
        bar.tick();
    });
    bar.finish_and_clear();
    let found = match found {
        Ok(found) => found,
        Err(nothing) => {
            eprintln!(
                "error: seed {} of {} fails no checker; there is nothing to shrink",
                args.seed,
                args.file.display()
            );
            if !nothing.unmet.is_empty() {
                eprintln!(
                    "    (a sweep counts it as failed because an expectation did not hold: {}; the failure the file declares did not happen, and there is no failure to cut down)",
                    nothing.unmet.join("; ")
                );
            }
            return EXIT_BAD_INPUT;
        }
    };
    let shown = if to_stdout {
        "the-shrunk-file.toml".to_string()
    } else {
        path.display().to_string()
    };
    let declared: Vec<&str> = declared_failures(&found.smallest).collect();
    let declares = declared
        .iter()
        .map(|c| format!("[[expect]] checker = \"{c}\", verdict = \"fail\""))
        .collect::<Vec<_>>()
        .join("; ");
    let text = format!(
        "# Shrunk by `dynsim shrink {} --seed {}`: {} of {} steps left; it still fails {}.\n\
         # It declares the failure it reproduces, so `dynsim run {shown}` exits 0 while it still does.\n{}",
        args.file.display(),
        args.seed,
        found.smallest.steps.len(),
        found.original_steps,
        found.checker,
        crate::scenario::write::to_toml(&found.smallest)
    );
    if let Err(e) = write_output(&path, |w| w.write_all(text.as_bytes())) {
        if output::is_broken_pipe(&e) {
            return EXIT_OK;
        }
        eprintln!("error: cannot write {}: {e}", path.display());
        return EXIT_BAD_INPUT;
    }
    let mut msg = String::new();
    if found.smallest.seed != args.seed {
        msg.push_str(&format!(
            "note: steps that only shifted the network's random draws were cut by trying other seeds; the shrunk file runs with seed = {}\n",
            found.smallest.seed
        ));
    }
    if !found.reproduced {
        msg.push_str(&format!(
            "warning: the explicit form of seed {} does not fail {} (events at equal times can order differently); it is written unshrunk\n",
            args.seed, found.checker
        ));
    }
    msg.push_str(&format!(
        "seed {} fails {}: explicit run of {} steps shrunk to {} steps in {} runs ({} nodes)\n\
         wrote {}\n\
         It declares the failure it reproduces ({declares}),\n\
         so running it exits 0 as long as it still fails that way (exit 1 means it no longer does):\n    \
         dynsim run {shown} --trace -\n",
        args.seed,
        found.checker,
        found.original_steps,
        found.smallest.steps.len(),
        found.runs,
        found.smallest.cluster.nodes,
        if to_stdout { "the shrunk scenario to standard output".to_string() } else { shown.clone() },
    ));
    if to_stdout {
        eprint!("{msg}");
    } else {
        output::print(&msg);
    }
    EXIT_OK
}
