//! What a page handler needs besides the request: the server's settings,
//! the request's budgets and connection, the folders it lists.

use super::budget::{Budget, Slots};
use std::net::TcpStream;
use std::path::Path;

/// What a handler needs besides the request.
#[derive(Debug)]
pub(super) struct Ctx<'a> {
    /// The `--bind` value; a non-loopback one is accepted as a host name too.
    pub bind: &'a str,
    /// The port the server listens on (part of its origin).
    pub port: u16,
    /// The request's connection, watched for a disconnect during a run.
    pub client: Option<&'a TcpStream>,
    pub run_budget: Budget,
    pub experiment_budget: Budget,
    pub slots: &'a Slots,
    /// The `Retry-After` seconds of a 503.
    pub retry_after_s: u32,
    /// The folders of the scenarios and experiments listed.
    pub scenarios: &'a Path,
    pub experiments: &'a Path,
}
