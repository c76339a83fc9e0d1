//! Source-DPOR (Abdulla, Aronis, Jonsson and Sagonas, POPL 2014) with
//! sleep sets, depth first and stateless: it explores at least one order of
//! every class of equivalent orders (orders that differ only in swapping
//! adjacent independent actions), so it reaches every terminal state and
//! every violation plain search reaches, while it explores far fewer states.
//!
//! Races are found between actions of the current path: an action `e` and
//! a later action `p` race when they are dependent ([`Footprint::independent`]
//! is false) and `e` does not happen before `p` through other actions. For
//! each race, one action that can start the sequence "what does not depend
//! on `e`, then `p`" is added to the backtrack set of the state before `e`.
//! Happens-before is the closure of dependence along the path plus creation
//! (the action that sent a message, issued a request or set a timer happens
//! before the action that releases it).
//!
//! Nothing is pruned by state: a visited set only counts distinct states
//! and keeps each terminal state from being judged twice.

use crate::judge::{self, Judged};
use crate::scope::{Scope, bytes};
use crate::search::{Report, Watch};
use crate::set::DigestMap;
use crate::state::{Action, Footprint, State, steps_of};
use sim_core::digest::Digest;
use sim_core::item_digest;

/// One action of the current path, with what orders it.
struct Event {
    action: Action,
    foot: Footprint,
    /// The events that happen before it, itself included, as a bit set over path positions.
    hb: Vec<u64>,
}

/// One state of the current path: what is left to take from it.
struct Frame {
    state: State,
    /// The actions enabled in it.
    enabled: Vec<Action>,
    /// Actions to take from here (those taken included).
    backtrack: Vec<Action>,
    /// Actions taken from here, with their footprints.
    done: Vec<(Action, Footprint)>,
    /// Actions asleep here: their orders are covered elsewhere.
    sleep: Vec<(Action, Footprint)>,
    /// Which event created each item held here (`None`: held from the start).
    creators: Vec<(Digest, Option<usize>)>,
}

fn set(bits: &mut [u64], i: usize) {
    bits[i / 64] |= 1 << (i % 64);
}

fn has(bits: &[u64], i: usize) -> bool {
    bits[i / 64] >> (i % 64) & 1 == 1
}

fn union(into: &mut [u64], from: &[u64]) {
    for (a, b) in into.iter_mut().zip(from) {
        *a |= b;
    }
}

struct Dpor<'a> {
    scope: &'a Scope,
    watch: &'a dyn Watch,
    words: usize,
    events: Vec<Event>,
    frames: Vec<Frame>,
    seen: DigestMap,
    judged: DigestMap,
    report: Report,
    since_progress: u64,
    stop: bool,
    /// Every terminal state's digest, when asked for.
    terminals: Option<Vec<Digest>>,
}

/// The item an action acts on, if any.
fn item_of(a: &Action) -> Option<Digest> {
    match a {
        Action::Release { item } | Action::Drop { item } | Action::Duplicate { item } => {
            Some(*item)
        }
        _ => None,
    }
}

/// Runs source-DPOR over the scope.
pub(crate) fn explore(scope: &Scope, keep_terminals: bool, watch: &dyn Watch) -> Report {
    let root = State::initial(scope, false);
    let creators = root
        .cluster
        .held()
        .iter()
        .map(|h| (item_digest(h), None))
        .collect();
    let words = (scope.bounds.max_depth as usize).div_ceil(64) + 1;
    let mut d = Dpor {
        scope,
        watch,
        words,
        events: Vec::new(),
        frames: Vec::new(),
        seen: DigestMap::new(),
        judged: DigestMap::new(),
        report: Report::new(),
        since_progress: 0,
        stop: false,
        terminals: keep_terminals.then(Vec::new),
    };
    d.seen.insert(root.digest(), 0);
    d.report.progress.unique = 1;
    d.frames.push(Frame {
        enabled: root.enabled(scope),
        state: root,
        backtrack: Vec::new(),
        done: Vec::new(),
        sleep: Vec::new(),
        creators,
    });
    d.explore();
    d.report.complete = d.report.stopped.is_none();
    if let Some(mut t) = d.terminals.take() {
        t.sort_unstable();
        d.report.terminal_digests = Some(t);
    }
    watch.progress(&d.report.progress);
    d.report
}

impl Dpor<'_> {
    fn explore(&mut self) {
        if self.stop {
            return;
        }
        let k = self.frames.len() - 1;
        let enabled = self.frames[k].enabled.clone();
        if enabled.is_empty() {
            self.terminal();
            return;
        }
        if k >= self.scope.bounds.max_depth as usize {
            self.report.stopped = Some(format!(
                "max_depth = {} reached with actions left: raise max_depth or lower the budgets",
                self.scope.bounds.max_depth
            ));
            return;
        }
        let awake: Vec<Action> = enabled
            .iter()
            .filter(|a| !self.frames[k].sleep.iter().any(|(s, _)| s == *a))
            .copied()
            .collect();
        let Some(first) = awake.first() else {
            return;
        };
        self.frames[k].backtrack.push(*first);
        loop {
            let f = &self.frames[k];
            let next = f.backtrack.iter().find(|a| {
                !f.done.iter().any(|(d, _)| d == *a)
                    && !f.sleep.iter().any(|(s, _)| s == *a)
                    && enabled.contains(a)
            });
            let Some(&p) = next else {
                break;
            };
            self.step(k, p);
            if self.stop {
                return;
            }
        }
    }

    /// Takes action `p` from the state at path position `k`, and explores on.
    fn step(&mut self, k: usize, p: Action) {
        let Some((child, foot)) = self.frames[k].state.apply(self.scope, p) else {
            // Not enabled after all: count it done so it is not tried again.
            let foot = Footprint {
                node: None,
                item: None,
                global: true,
                clients: false,
                budget: None,
            };
            self.frames[k].done.push((p, foot));
            return;
        };
        self.report.progress.generated += 1;
        self.report.progress.depth = self.report.progress.depth.max(child.depth);
        // Happens-before of the new event: its creator's, and every earlier dependent event's.
        let creator = item_of(&p).and_then(|item| {
            self.frames[k]
                .creators
                .iter()
                .find(|(d, _)| *d == item)
                .and_then(|(_, c)| *c)
        });
        let mut hb = vec![0u64; self.words];
        set(&mut hb, k);
        if let Some(c) = creator {
            union(&mut hb, &self.events[c].hb);
        }
        // Races: dependent earlier events that do not happen before p otherwise.
        let mut direct: Vec<usize> = Vec::new();
        for i in (0..k).rev() {
            if self.events[i].foot.independent(&foot) {
                continue;
            }
            if !has(&hb, i) {
                direct.push(i);
            }
            let ei = self.events[i].hb.clone();
            union(&mut hb, &ei);
        }
        for i in direct {
            self.backtrack_for_race(i, k, p, &hb);
        }
        // The new frame: sleep set, creators of what it holds.
        let mut sleep: Vec<(Action, Footprint)> = self.frames[k]
            .sleep
            .iter()
            .chain(&self.frames[k].done)
            .filter(|(_, f)| f.independent(&foot))
            .copied()
            .collect();
        sleep.sort_unstable();
        sleep.dedup();
        let creators = self.creators_after(k, &child, p);
        let child_enabled = child.enabled(self.scope);
        // An action p disables (a timer its handler cancels, a drop the
        // budget no longer allows) conflicts with it: taking that action
        // first is another order to explore.
        let disabled: Vec<Action> = self.frames[k]
            .enabled
            .iter()
            .filter(|t| **t != p && !child_enabled.contains(t))
            .copied()
            .collect();
        for t in disabled {
            if !self.frames[k].backtrack.contains(&t) {
                self.frames[k].backtrack.push(t);
            }
        }
        let digest = child.digest();
        if self.seen.get(digest).is_none() {
            self.seen.insert(digest, 0);
            self.report.progress.unique += 1;
        }
        let broken = judge::broken_now(&child);
        self.events.push(Event {
            action: p,
            foot,
            hb,
        });
        if !broken.is_empty() {
            for (prop, m) in broken {
                self.report.found(prop, m, steps_of(&child.path), None);
            }
        } else {
            self.frames.push(Frame {
                state: child,
                enabled: child_enabled,
                backtrack: Vec::new(),
                done: Vec::new(),
                sleep,
                creators,
            });
            self.explore();
            self.frames.pop();
        }
        self.events.pop();
        self.frames[k].done.push((p, foot));
        self.tick();
    }

    /// Adds to the backtrack set of the state before event `i` an action that
    /// can start "the events after `i` that do not depend on it, then `p`"
    /// (`p_hb`: what happens before `p`).
    fn backtrack_for_race(&mut self, i: usize, k: usize, p: Action, p_hb: &[u64]) {
        // notdep(i): events after i that i does not happen before.
        let v: Vec<usize> = (i + 1..k)
            .filter(|&j| !has(&self.events[j].hb, i))
            .collect();
        // Initials: events of v (then p) with no other event of v before them.
        let mut initials: Vec<Action> = Vec::new();
        for (n, &j) in v.iter().enumerate() {
            if !v[..n].iter().any(|&j2| has(&self.events[j].hb, j2)) {
                initials.push(self.events[j].action);
            }
        }
        if !v.iter().any(|&j| has(p_hb, j)) {
            initials.push(p);
        }
        let f = &mut self.frames[i];
        if !initials.iter().any(|a| f.backtrack.contains(a)) {
            if let Some(a) = initials.first() {
                f.backtrack.push(*a);
            }
        }
    }

    /// Which event created each item held after event `k` took action `p`.
    fn creators_after(&self, k: usize, child: &State, p: Action) -> Vec<(Digest, Option<usize>)> {
        let mut before: Vec<(Digest, Option<usize>)> = self.frames[k].creators.clone();
        if let Some(item) = item_of(&p) {
            if matches!(p, Action::Release { .. } | Action::Drop { .. }) {
                if let Some(pos) = before.iter().position(|(d, _)| *d == item) {
                    before.remove(pos);
                }
            }
        }
        let mut out = Vec::new();
        for h in child.cluster.held() {
            let d = item_digest(h);
            match before.iter().position(|(x, _)| *x == d) {
                Some(pos) => out.push(before.remove(pos)),
                None => out.push((d, Some(k))),
            }
        }
        out
    }

    fn terminal(&mut self) {
        let k = self.frames.len() - 1;
        let state = &self.frames[k].state;
        let d = state.digest();
        if self.judged.get(d).is_some() {
            return;
        }
        self.judged.insert(d, 0);
        if let Some(t) = &mut self.terminals {
            t.push(d);
        }
        self.report.progress.terminal += 1;
        let j: Judged = judge::judge_terminal(state, self.scope.always_judge_reads);
        self.report.judged(&j, state);
    }

    fn tick(&mut self) {
        self.since_progress += 1;
        if self.since_progress < 2_000 {
            return;
        }
        self.since_progress = 0;
        let frames: u64 = self.frames.len() as u64 * 64 * 1024;
        self.report.progress.memory = self.seen.bytes() + self.judged.bytes() + frames;
        self.watch.progress(&self.report.progress);
        if self.watch.stop() {
            self.report.stopped = Some("interrupted".into());
            self.stop = true;
        } else if self.report.progress.unique > self.scope.bounds.max_states {
            self.report.stopped = Some(format!(
                "max_states = {} reached: raise max_states, or lower max_depth or the budgets",
                self.scope.bounds.max_states
            ));
            self.stop = true;
        } else if self.report.progress.memory > self.scope.bounds.max_memory {
            self.report.stopped = Some(format!(
                "max_memory = {} reached ({} held): lower max_depth or the budgets, or raise max_memory",
                bytes(self.scope.bounds.max_memory),
                bytes(self.report.progress.memory)
            ));
            self.stop = true;
        }
    }
}
