//! Routes: who may ask (the `Host` and `Origin` checks), which method each
//! path answers, and the run-slot limit in front of every handler that runs
//! a simulation.

pub(super) use super::ctx::Ctx;
use super::experiment::experiment_page;
use super::form::parse_params;
use super::http::{Page, Request};
use super::run::{index, run_page, trace_text};
use super::templates::{SCRIPT, STYLE, message_page};
use std::net::IpAddr;

/// Splits `host[:port]` (with `[v6]` brackets) into the host, unbracketed.
fn host_part(value: &str) -> &str {
    if let Some(rest) = value.strip_prefix('[') {
        return rest.split(']').next().unwrap_or("");
    }
    match value.rsplit_once(':') {
        Some((h, port)) if port.chars().all(|c| c.is_ascii_digit()) => h,
        _ => value,
    }
}

/// Whether `host` (no port) names this server: a loopback name or address,
/// or the address it was bound to.
pub fn host_allowed(host: &str, bind: &str) -> bool {
    let host = host.trim_end_matches('.').to_ascii_lowercase();
    if host == "localhost" || host.parse::<IpAddr>().is_ok_and(|ip| ip.is_loopback()) {
        return true;
    }
    let bind = host_part(bind).trim_end_matches('.').to_ascii_lowercase();
    let unspecified = bind.parse::<IpAddr>().is_ok_and(|ip| ip.is_unspecified());
    !bind.is_empty() && !unspecified && host == bind
}

/// Whether `origin` is this server's own: `http://`, an allowed host, and this port.
fn origin_allowed(origin: &str, bind: &str, port: u16) -> bool {
    let Some(rest) = origin.strip_prefix("http://") else {
        return false;
    };
    let (host, origin_port) = if let Some(v6) = rest.strip_prefix('[') {
        match v6.split_once(']') {
            Some((h, p)) => (
                h,
                p.strip_prefix(':')
                    .unwrap_or(if p.is_empty() { "80" } else { "x" }),
            ),
            None => return false,
        }
    } else {
        match rest.rsplit_once(':') {
            Some((h, p)) => (h, p),
            None => (rest, "80"),
        }
    };
    origin_port.parse::<u16>() == Ok(port) && host_allowed(host, bind)
}

/// Refuses a request whose `Host` is not this server's (DNS rebinding, a
/// foreign name) or whose `Origin` is another site's (a cross-site form).
/// A POST without `Origin` is accepted: browsers send it on every
/// cross-origin POST, so its absence means a client that is not a web page,
/// such as curl or a script on this machine.
fn guard(req: &Request, ctx: &Ctx) -> Result<(), Page> {
    let Some(host) = req.header("host") else {
        return Err(Page::html(
            400,
            message_page("Bad request", "the request has no Host header"),
        ));
    };
    if !host_allowed(host_part(host), ctx.bind) {
        return Err(Page::html(
            403,
            message_page(
                "Forbidden: foreign host name",
                &format!(
                    "this server answers only to localhost, 127.0.0.1, [::1] or the address it was started with, not to the host name {host:?}: another name pointing here is how a web page reaches a local server (DNS rebinding). Open http://127.0.0.1:{}/ instead, or, to reach the page from another machine, start dynsim serve with --bind set to the address you open.",
                    ctx.port
                ),
            ),
        ));
    }
    if let Some(origin) = req.header("origin") {
        if !origin_allowed(origin, ctx.bind, ctx.port) {
            return Err(Page::html(
                403,
                message_page(
                    "Forbidden: request from another site",
                    &format!(
                        "this request came from a page of {origin:?}, not from this server's own page; only the page at http://127.0.0.1:{}/ may start runs.",
                        ctx.port
                    ),
                ),
            ));
        }
    }
    Ok(())
}

fn asset(content_type: &'static str, body: &str) -> Page {
    Page {
        content_type,
        ..Page::html(200, body.to_string())
    }
}

/// Answers one request.
pub(super) fn handle(req: &Request, ctx: &Ctx) -> Page {
    if let Err(refused) = guard(req, ctx) {
        return refused;
    }
    let (path, query) = req.target.split_once('?').unwrap_or((&req.target, ""));
    let read = matches!(req.method.as_str(), "GET" | "HEAD");
    let runs = matches!(path, "/run" | "/trace" | "/experiment");
    if runs && req.method != "POST" {
        return Page::html(
            405,
            message_page(
                "Method not allowed",
                &format!("{path} starts a run, so it answers POST only, from the page's form; open / to get the form"),
            ),
        )
        .with_header("Allow", "POST");
    }
    if !runs && !read {
        return Page::html(
            405,
            message_page(
                "Method not allowed",
                &format!("{path} answers GET and HEAD only"),
            ),
        )
        .with_header("Allow", "GET, HEAD");
    }
    match path {
        "/" | "/index.html" => index(&parse_params(query), ctx),
        "/download" => super::run::download(&parse_params(query)),
        "/style.css" => asset("text/css; charset=utf-8", STYLE),
        "/page.js" => asset("text/javascript; charset=utf-8", SCRIPT),
        "/run" | "/trace" | "/experiment" => {
            let Some(_slot) = ctx.slots.take() else {
                return Page::html(
                    503,
                    message_page(
                        "Busy",
                        &format!(
                            "the server is already running as many scenarios and experiments as it allows at once; try again in {} s",
                            ctx.retry_after_s
                        ),
                    ),
                )
                .with_header("Retry-After", ctx.retry_after_s.to_string());
            };
            let params = parse_params(&String::from_utf8_lossy(&req.body));
            match path {
                "/run" => run_page(&params, ctx),
                "/trace" => trace_text(&params, ctx),
                _ => experiment_page(&params, ctx),
            }
        }
        _ => Page::html(
            404,
            message_page("Not found", &format!("there is no page {path}")),
        ),
    }
}
