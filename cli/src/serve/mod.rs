//! `dynsim serve`: a local web page to set cluster, network and fault
//! parameters, run a scenario or an experiment, and see the summary, latency
//! plots and a message-sequence chart of one operation.
//!
//! The page is server-rendered HTML from maud templates (`templates`), with
//! its stylesheet and one small script in their own files; charts are inline
//! SVG. One request cannot take the server down: requests are read within
//! size and time limits (`http`), only the user's own page may start runs
//! (`routes`: Host and Origin checks, runs are POST-only), every run has an
//! event and a wall-time budget and stops when its client leaves
//! (`budget`), only a few run at once (503 past that), and every request is
//! answered inside `catch_unwind`, so a bug answers 500 and the server goes on.

mod budget;
mod charts;
mod ctx;
mod experiment;
mod form;
mod http;
mod listing;
mod routes;
mod run;
mod sequence;
mod templates;
#[cfg(test)]
mod tests;

pub use budget::Budget;
pub use http::{HttpLimits, Page, Request};
pub use routes::host_allowed;

use listing::{EXPERIMENT_DIR, SCENARIO_DIR};
use std::net::{TcpListener, TcpStream};
use std::panic::{AssertUnwindSafe, catch_unwind};
use std::path::PathBuf;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::thread::JoinHandle;

/// Everything the server limits.
#[derive(Clone, Debug)]
pub struct Config {
    /// The address to listen on.
    pub bind: String,
    /// The limits on each request read.
    pub http: HttpLimits,
    /// Each scenario run's budget.
    pub run_budget: Budget,
    /// Each experiment's budget.
    pub experiment_budget: Budget,
    /// Most runs and experiments at once; past it, 503.
    pub max_runs: usize,
    /// Most connections being read or answered at once; past it, 503.
    pub max_connections: usize,
    /// The `Retry-After` of a 503, in seconds.
    pub retry_after_s: u32,
    /// The folder of scenarios the page lists (by default `scenarios` below the working directory).
    pub scenarios: PathBuf,
    /// The folder of experiments the page lists (by default `experiments`).
    pub experiments: PathBuf,
}

impl Config {
    /// The defaults for a server on `bind`.
    pub fn new(bind: &str) -> Config {
        Config {
            bind: bind.to_string(),
            http: HttpLimits::default(),
            // The bundled scenarios need at most a few hundred thousand
            // events; the trace of two million fits in a few hundred MB.
            run_budget: Budget {
                max_events: 2_000_000,
                max_seconds: 30.0,
            },
            // Experiments record no trace, so their events cost no memory.
            experiment_budget: Budget {
                max_events: 200_000_000,
                max_seconds: 300.0,
            },
            max_runs: 2,
            max_connections: 32,
            retry_after_s: 10,
            scenarios: PathBuf::from(SCENARIO_DIR),
            experiments: PathBuf::from(EXPERIMENT_DIR),
        }
    }
}

/// Whether a bind address serves this machine only: `localhost` or a
/// loopback IP.
pub fn is_loopback(bind: &str) -> bool {
    bind == "localhost"
        || bind
            .parse::<std::net::IpAddr>()
            .is_ok_and(|ip| ip.is_loopback())
}

/// Binds `bind:port` (port 0 picks a free one) with the default limits and
/// serves in a background thread; returns the port bound and the thread.
pub fn start(bind: &str, port: u16) -> std::io::Result<(u16, JoinHandle<()>)> {
    start_with(Config::new(bind), port)
}

/// As [`start`], with the limits of `config`.
pub fn start_with(config: Config, port: u16) -> std::io::Result<(u16, JoinHandle<()>)> {
    let listener = TcpListener::bind((config.bind.as_str(), port))?;
    let actual = listener.local_addr()?.port();
    let state = Arc::new(State {
        slots: budget::Slots::new(config.max_runs),
        connections: AtomicUsize::new(0),
        port: actual,
        config,
    });
    let handle = std::thread::Builder::new()
        .name("dynsim-serve".into())
        .spawn(move || {
            for stream in listener.incoming() {
                let Ok(stream) = stream else { continue };
                accept(&state, stream);
            }
        })?;
    Ok((actual, handle))
}

/// What every connection shares.
struct State {
    config: Config,
    port: u16,
    slots: budget::Slots,
    connections: AtomicUsize,
}

/// Gives a connection its own thread, or a 503 when too many are open.
fn accept(state: &Arc<State>, stream: TcpStream) {
    let open = state.connections.fetch_add(1, Ordering::SeqCst);
    let busy = |stream: TcpStream| {
        let page = Page::html(
            503,
            templates::message_page("Busy", "too many connections are open; try again shortly"),
        )
        .with_header("Retry-After", state.config.retry_after_s.to_string());
        http::write_page(stream, &page, false);
    };
    if open >= state.config.max_connections {
        state.connections.fetch_sub(1, Ordering::SeqCst);
        busy(stream);
        return;
    }
    let shared = state.clone();
    let Ok(copy) = stream.try_clone() else {
        state.connections.fetch_sub(1, Ordering::SeqCst);
        return;
    };
    let spawned = std::thread::Builder::new()
        .name("dynsim-serve-request".into())
        .spawn(move || {
            connection(&shared, stream);
            shared.connections.fetch_sub(1, Ordering::SeqCst);
        });
    if spawned.is_err() {
        state.connections.fetch_sub(1, Ordering::SeqCst);
        busy(copy);
    }
}

/// Reads one request, answers it, and closes the connection.
fn connection(state: &State, mut stream: TcpStream) {
    let crowded = || {
        state.connections.load(Ordering::SeqCst).saturating_mul(2) >= state.config.max_connections
    };
    let request = match http::read_request(&mut stream, &state.config.http, &crowded) {
        Ok(r) => r,
        Err(http::ReadFail::Closed) => return,
        Err(http::ReadFail::Refuse(status, title, text)) => {
            let page = Page::html(status, templates::message_page(title, &text));
            http::write_page(stream, &page, false);
            return;
        }
    };
    let ctx = routes::Ctx {
        bind: &state.config.bind,
        port: state.port,
        client: Some(&stream),
        run_budget: state.config.run_budget,
        experiment_budget: state.config.experiment_budget,
        slots: &state.slots,
        retry_after_s: state.config.retry_after_s,
        scenarios: &state.config.scenarios,
        experiments: &state.config.experiments,
    };
    let page = match catch_unwind(AssertUnwindSafe(|| routes::handle(&request, &ctx))) {
        Ok(page) => page,
        Err(payload) => Page::html(
            500,
            templates::message_page(
                "Internal error",
                &format!(
                    "dynsim panicked while answering this request (a bug; please report it with the scenario): {}",
                    crate::explore::isolate::panic_text(payload.as_ref())
                ),
            ),
        ),
    };
    http::write_page(stream, &page, request.method == "HEAD");
}

/// Answers one request without a server: for tests of the pages.
#[cfg(test)]
fn handle(request: &Request) -> Page {
    let config = Config::new("127.0.0.1");
    let slots = budget::Slots::new(config.max_runs);
    let ctx = routes::Ctx {
        bind: &config.bind,
        port: 80,
        client: None,
        run_budget: config.run_budget,
        experiment_budget: config.experiment_budget,
        slots: &slots,
        retry_after_s: config.retry_after_s,
        scenarios: &config.scenarios,
        experiments: &config.experiments,
    };
    routes::handle(request, &ctx)
}
