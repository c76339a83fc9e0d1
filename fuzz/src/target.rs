//! What each input goes through: both readers, and for a file that one of
//! them accepts, everything a user's file reaches before the run: the
//! cluster (ring, nodes, network), the timeline's operations and faults, the
//! generated load, the first simulated event, the swarm draw, and writing
//! the scenario back out (as `shrink` does) and reading it again.

use dynamo_model::ClusterConfig;
use dynsim::report::experiment;
use dynsim::scenario::{self, Scenario, diag::Diags};
use sim_core::{Limits, SimTime};

/// What happened to one input, counted in the run's figures.
#[derive(Clone, Copy, Debug, Default)]
pub(crate) struct Stats {
    pub rejected: u64,
    pub scenarios: u64,
    pub experiments: u64,
    /// Clusters (or rings) built for accepted files.
    pub built: u64,
    /// Swarm draws made and prepared.
    pub swarms: u64,
    /// Accepted files too costly to build at fuzzing speed (they are read and validated only).
    pub costly: u64,
    /// Check scopes accepted (each explored a few steps deep).
    pub scopes: u64,
}

impl Stats {
    pub(crate) fn add(&mut self, o: &Stats) {
        self.rejected += o.rejected;
        self.scenarios += o.scenarios;
        self.experiments += o.experiments;
        self.built += o.built;
        self.swarms += o.swarms;
        self.costly += o.costly;
        self.scopes += o.scopes;
    }
}

/// A property that does not hold (a panic is caught by the caller).
pub(crate) type Violation = String;

/// Whether building this cluster is cheap enough to do at fuzzing speed:
/// the ring's tables (tokens x N) and the node count stay small.
/// Larger configurations are within the documented bounds, so they are read
/// and validated here, and built by the suite and by hand, not per input.
fn cheap(cfg: &ClusterConfig) -> bool {
    cfg.nodes <= 512 && cfg.ring_table_entries() <= 200_000
}

fn cheap_scenario(s: &Scenario) -> bool {
    cheap(&s.cluster)
        && s.load
            .as_ref()
            .is_none_or(|l| l.clients <= 10_000 && l.keys <= 100_000)
}

/// Every rejection must name a place in the file: line and column from 1.
fn check_diags(what: &str, d: &Diags) -> Result<(), Violation> {
    if d.0.is_empty() {
        return Err(format!(
            "the {what} reader rejected the input with no message"
        ));
    }
    for x in &d.0 {
        if x.line == 0 || x.col == 0 {
            return Err(format!(
                "the {what} reader reported a problem with no position: {x}"
            ));
        }
    }
    Ok(())
}

/// Runs one input through everything. A panic propagates to the caller.
pub(crate) fn run(text: &str) -> Result<Stats, Violation> {
    let mut st = Stats::default();
    let file = "fuzz.toml";
    match scenario::parse(file, text) {
        Ok(s) => {
            st.scenarios += 1;
            scenario_reach(&s, &mut st)?;
        }
        Err(d) => check_diags("scenario", &d)?,
    }
    match experiment::parse(file, text) {
        Ok(e) => {
            st.experiments += 1;
            let cheap_points = cheap(&e.cluster)
                && e.tokens_per_node.iter().all(|&t| {
                    let cfg = ClusterConfig {
                        tokens: dynamo_model::TokenStrategy::Random { tokens_per_node: t },
                        ..e.cluster.clone()
                    };
                    cheap(&cfg)
                })
                && e.keys <= 100_000;
            if cheap_points {
                experiment::prepare(&e, 4).map_err(|err| {
                    format!("an experiment file that loads cannot be built: {err}")
                })?;
                st.built += 1;
            } else {
                st.costly += 1;
            }
        }
        Err(d) => check_diags("experiment", &d)?,
    }
    match scenario::scope::parse(file, text) {
        Ok(f) => {
            st.scopes += 1;
            if cheap(&f.cluster) {
                scope_reach(&f.scope);
                st.built += 1;
            } else {
                st.costly += 1;
            }
        }
        Err(d) => check_diags("scope", &d)?,
    }
    if st.scenarios + st.experiments + st.scopes == 0 {
        st.rejected += 1;
    }
    Ok(st)
}

/// A scope's first states: the cluster built holding, and a walk of up to
/// 30 steps taking the first action enabled each time, each state digested
/// and judged as the explorer does.
fn scope_reach(scope: &dynamo_explorer::Scope) {
    let mut state = dynamo_explorer::State::initial(scope, false);
    for _ in 0..30 {
        let enabled = state.enabled(scope);
        let Some(&a) = enabled.first() else {
            break;
        };
        if state.apply_in_place(scope, a).is_none() {
            break;
        }
        let _ = state.digest();
        let _ = dynamo_explorer::broken_now(&state);
    }
}

fn scenario_reach(s: &Scenario, st: &mut Stats) -> Result<(), Violation> {
    // Written back out (as shrink does), it must read again.
    let written = scenario::write::to_toml(s);
    match scenario::parse("written.toml", &written) {
        Err(d) => {
            return Err(format!(
                "a scenario the reader accepts, once written out, does not read again:\n{d}\n--- written:\n{written}"
            ));
        }
        Ok(again) => {
            // Positions differ in the written file; everything else must not.
            let unplaced = |x: &Scenario| {
                let mut x = x.clone();
                x.path = String::new();
                x.steps.iter_mut().for_each(|st| st.line = 0);
                x.expects.iter_mut().for_each(|e| e.line = 0);
                x
            };
            let (s, again) = (unplaced(s), unplaced(&again));
            if again != s {
                return Err(format!(
                    "a scenario written out reads back different:\n{s:?}\n--- again:\n{again:?}\n--- written:\n{written}"
                ));
            }
        }
    }
    if !cheap_scenario(s) {
        st.costly += 1;
        return Ok(());
    }
    let (mut cluster, _) = dynsim::runner::prepare(s, s.seed, false)
        .map_err(|e| format!("a scenario that loads cannot be built: {e}"))?;
    cluster.run_with(Limits {
        until: SimTime::MAX,
        max_events: 1,
    });
    st.built += 1;
    // The swarm draw of `sweep` and `run --swarm`, and its first event.
    let plan = dynsim::explore::swarm::draw(s, s.seed);
    let swarmed = dynsim::explore::swarm::apply(s, &plan);
    let (mut cluster, _) = dynsim::runner::prepare(&swarmed, s.seed, false)
        .map_err(|e| format!("the swarm draw of a scenario that loads cannot be built: {e}"))?;
    cluster.run_with(Limits {
        until: SimTime::MAX,
        max_events: 1,
    });
    st.swarms += 1;
    Ok(())
}
