//! The malformed-scenario corpus: each file is rejected with messages that
//! name file, line, column and field and say what would be valid; never a panic.

use dynsim_tests::{rel, root};

// Each malformed file is rejected, and its messages match the reviewed snapshot.
#[test]
fn every_malformed_file() {
    std::env::set_current_dir(root()).expect("workspace root");
    insta::glob!("../malformed", "*.toml", |path| {
        let name = rel(path);
        let result = std::panic::catch_unwind(|| dynsim::scenario::load(&name));
        let Ok(parsed) = result else {
            panic!("{name}: loading panicked")
        };
        let err = parsed.expect_err("a malformed scenario must be rejected");
        for d in &err.0 {
            assert_eq!(d.file, name);
            assert!(d.line > 0 && d.col > 0, "{d}");
        }
        insta::assert_snapshot!(err.to_string());
    });
}
