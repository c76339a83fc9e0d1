//! `dynsim merge`: the results of several sweep shards, combined into one summary.

use super::common::{EXIT_BAD_INPUT, EXIT_FAILED, EXIT_OK};
use crate::explore::merge::merge;
use std::collections::BTreeSet;
use std::fmt::Write as _;
use std::path::{Path, PathBuf};

/// The arguments of `dynsim merge`.
#[derive(clap::Args, Debug)]
pub struct MergeArgs {
    /// results.jsonl files, or directories that hold one, all of one sweep: the same scenario file (by content digest), dynsim version and --seeds range.
    /// Exit code: 1 if any seed failed; otherwise 2 if seeds of the range are missing (or the inputs do not belong together); 0 if all seeds are there and passed.
    #[arg(required = true)]
    pub inputs: Vec<PathBuf>,
}

/// `dynsim merge`.
pub(super) fn run(args: &MergeArgs) -> u8 {
    let m = match merge(&args.inputs) {
        Ok(m) => m,
        Err(e) => {
            eprintln!("error: {e}");
            return EXIT_BAD_INPUT;
        }
    };
    let Some(origin) = &m.origin else {
        eprintln!("error: no sweep results in {}", show_inputs(&args.inputs));
        return EXIT_BAD_INPUT;
    };
    let mut o = format!(
        "merged {} result file(s): seeds {}..{} of scenario {} (dynsim {})\n",
        args.inputs.len(),
        origin.range[0],
        origin.range[1],
        origin.digest,
        origin.version
    );
    if m.duplicates > 0 {
        let _ = writeln!(
            o,
            "note: {} seed(s) appeared more than once, with the same result",
            m.duplicates
        );
    }
    if m.missing > 0 {
        let _ = writeln!(
            o,
            "INCOMPLETE: {} seed(s) of the range are in no input (first: {}{})",
            m.missing,
            m.first_missing
                .iter()
                .map(u64::to_string)
                .collect::<Vec<_>>()
                .join(", "),
            if m.missing > m.first_missing.len() as u64 {
                ", ..."
            } else {
                ""
            }
        );
        let counts: BTreeSet<u64> = m.shards.iter().map(|s| s.1).collect();
        if let [n] = counts.iter().copied().collect::<Vec<_>>()[..] {
            let absent: Vec<String> = (0..n)
                .filter(|k| !m.shards.contains(&(*k, n)))
                .map(|k| format!("{k}/{n}"))
                .collect();
            if !absent.is_empty() {
                let _ = writeln!(
                    o,
                    "    no results at all from shard(s) {}",
                    absent.join(", ")
                );
            }
        }
    }
    o.push_str(&m.tally.render(None));
    crate::cmd::output::print(&o);
    if m.tally.failed > 0 {
        EXIT_FAILED
    } else if m.missing > 0 {
        eprintln!(
            "error: the merged results do not cover the range: {} seed(s) missing",
            m.missing
        );
        EXIT_BAD_INPUT
    } else {
        EXIT_OK
    }
}

fn show_inputs(inputs: &[PathBuf]) -> String {
    inputs
        .iter()
        .map(|p| Path::display(p).to_string())
        .collect::<Vec<_>>()
        .join(", ")
}
