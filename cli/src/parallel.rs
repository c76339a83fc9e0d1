//! The one parallel runner: sweeps run seeds, experiments run points, both
//! through [`stream`], which computes each index on worker threads and hands
//! the results on in index order, so nothing that comes out depends on the
//! number of threads.

use std::collections::BTreeMap;
use std::sync::{Condvar, Mutex, mpsc};

/// How many seeds per worker thread may finish ahead of the oldest seed not
/// yet written (results wait in seed order, so this bounds their number).
pub const WINDOW_PER_JOB: u64 = 4;

/// A set of indices kept as runs of consecutive numbers: a resumed sweep's
/// finished seeds are one run, however many there are.
#[derive(Clone, Debug, Default)]
pub struct IndexSet {
    /// Run start -> run end (exclusive); runs never touch.
    runs: BTreeMap<u64, u64>,
    len: u64,
}

impl IndexSet {
    /// Adds `x`; false if it was already there.
    pub fn insert(&mut self, x: u64) -> bool {
        if self.contains(x) {
            return false;
        }
        let after = self.runs.remove(&(x + 1));
        match self.runs.range_mut(..x).next_back() {
            Some((_, end)) if *end == x => *end = after.unwrap_or(x + 1),
            _ => {
                self.runs.insert(x, after.unwrap_or(x + 1));
            }
        }
        self.len += 1;
        true
    }

    /// Whether `x` is in the set.
    pub fn contains(&self, x: u64) -> bool {
        self.runs
            .range(..=x)
            .next_back()
            .is_some_and(|(_, &end)| x < end)
    }

    /// The smallest number at or after `x` that is not in the set.
    pub fn next_missing(&self, x: u64) -> u64 {
        match self.runs.range(..=x).next_back() {
            Some((_, &end)) if x < end => end,
            _ => x,
        }
    }

    /// How many indices the set holds.
    pub fn len(&self) -> u64 {
        self.len
    }

    /// Whether the set holds no index.
    pub fn is_empty(&self) -> bool {
        self.len == 0
    }
}

/// What the workers share: the next index to claim and the oldest index
/// the writer still waits for.
struct Gate {
    next: u64,
    oldest: u64,
    /// A worker panicked: the others stop, the panic is raised again.
    broken: bool,
}

/// Runs every index in `0..count` that `skip` lacks, on at most `jobs`
/// threads (never more than there are indices to run), and hands each result
/// to `each` in index order as soon as all before it are handed on. Workers
/// never get more than [`WINDOW_PER_JOB`] × threads indices ahead of `each`.
/// Once `stop` says so, no new index starts; those running finish and are
/// handed on. Returns the number of threads used.
pub fn stream<R: Send>(
    count: u64,
    skip: &IndexSet,
    jobs: usize,
    stop: &(dyn Fn() -> bool + Sync),
    run: &(dyn Fn(u64) -> R + Sync),
    mut each: impl FnMut(u64, R),
) -> usize {
    let todo = count.saturating_sub(skip.len());
    let threads = usize::try_from(todo).map_or(jobs, |t| t.min(jobs));
    if threads == 0 {
        return 0;
    }
    if threads == 1 {
        // One thread: this one, so a thread-local stop check (the web
        // page's budget) covers the work.
        let mut i = skip.next_missing(0);
        while i < count && !stop() {
            each(i, run(i));
            i = skip.next_missing(i + 1);
        }
        return 1;
    }
    let window = WINDOW_PER_JOB * threads as u64;
    let first = skip.next_missing(0);
    let gate = Mutex::new(Gate {
        next: first,
        oldest: first,
        broken: false,
    });
    let moved = Condvar::new();
    let lock = || {
        gate.lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    };
    let (tx, rx) = mpsc::channel::<(u64, R)>();
    std::thread::scope(|scope| {
        for _ in 0..threads {
            let tx = tx.clone();
            let (lock, moved) = (&lock, &moved);
            scope.spawn(move || {
                loop {
                    let i = {
                        let mut g = lock();
                        loop {
                            if g.broken || stop() {
                                return;
                            }
                            let i = skip.next_missing(g.next);
                            if i >= count {
                                return;
                            }
                            if i < g.oldest + window {
                                g.next = i + 1;
                                break i;
                            }
                            // Too far ahead of the writer: wait for it.
                            g = moved
                                .wait_timeout(g, std::time::Duration::from_millis(200))
                                .map_or_else(|e| e.into_inner().0, |(g, _)| g);
                        }
                    };
                    match std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| run(i))) {
                        Ok(r) => {
                            if tx.send((i, r)).is_err() {
                                return;
                            }
                        }
                        Err(panic) => {
                            lock().broken = true;
                            moved.notify_all();
                            std::panic::resume_unwind(panic);
                        }
                    }
                }
            });
        }
        drop(tx);
        let mut waiting: BTreeMap<u64, R> = BTreeMap::new();
        let mut oldest = first;
        for (i, r) in rx {
            waiting.insert(i, r);
            let before = oldest;
            // Hand results on in index order, whatever order the threads finish in.
            while let Some(r) = waiting.remove(&oldest) {
                each(oldest, r);
                oldest = skip.next_missing(oldest + 1);
            }
            if oldest != before {
                lock().oldest = oldest;
                moved.notify_all();
            }
        }
    });
    threads
}

/// Runs `f` on every point on `jobs` threads (this one when `jobs` is 1)
/// and returns the results in point order. Each point builds what it runs
/// from its own seeds, so the results, and everything made from them, are
/// identical on any number of threads.
pub fn par_map<T: Sync, R: Send>(jobs: usize, points: &[T], f: impl Fn(&T) -> R + Sync) -> Vec<R> {
    let mut out = Vec::with_capacity(points.len());
    stream(
        points.len() as u64,
        &IndexSet::default(),
        jobs.max(1),
        &|| false,
        &|i| f(&points[i as usize]),
        |_, r| out.push(r),
    );
    out
}
