//! `dynsim merge`: the results.jsonl files of several sweep shards, combined
//! into one summary.

use crate::args::{EXIT_BAD_INPUT, EXIT_FAILED, EXIT_OK, MergeArgs};

/// `dynsim merge`.
pub fn cmd(args: &MergeArgs) -> u8 {
    let mut results = Vec::new();
    for input in &args.inputs {
        let path = if input.is_dir() {
            input.join("results.jsonl")
        } else {
            input.clone()
        };
        let text = match std::fs::read_to_string(&path) {
            Ok(t) => t,
            Err(e) => {
                eprintln!("error: cannot read {}: {e}", path.display());
                return EXIT_BAD_INPUT;
            }
        };
        for (i, line) in text
            .lines()
            .enumerate()
            .filter(|(_, l)| !l.trim().is_empty())
        {
            match serde_json::from_str::<crate::explore::sweep::SeedResult>(line) {
                Ok(r) => results.push(r),
                Err(e) => {
                    eprintln!(
                        "error: {}:{}: not a sweep result line: {e}",
                        path.display(),
                        i + 1
                    );
                    return EXIT_BAD_INPUT;
                }
            }
        }
    }
    results.sort_by_key(|r| r.seed);
    let before = results.len();
    results.dedup_by_key(|r| r.seed);
    if results.len() != before {
        eprintln!("note: {} duplicate seed(s) ignored", before - results.len());
    }
    crate::output::print(&format!(
        "merged {} result file(s)\n{}",
        args.inputs.len(),
        crate::explore::sweep::summarize(&results, None)
    ));
    if results.iter().all(|r| r.ok) {
        EXIT_OK
    } else {
        EXIT_FAILED
    }
}
