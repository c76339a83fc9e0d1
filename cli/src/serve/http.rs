//! HTTP/1.1 on a plain `TcpStream`, one request per connection, with every
//! limit the page needs: the request line, the head and the body are
//! bounded (414, 431, 413), the whole request must arrive within a deadline
//! (408), and the handler keeps the connection so that a run can notice its
//! client leaving. `httparse` parses the head; this file only reads and
//! writes bytes within those limits.

use crate::wall::Stopwatch;
use std::io::{Read as _, Write as _};
use std::net::{Shutdown, TcpStream};
use std::time::Duration;

/// The request limits.
#[derive(Clone, Copy, Debug)]
pub struct HttpLimits {
    /// Longest request target (path and query), in bytes.
    pub max_url_bytes: usize,
    /// Largest request head (request line and headers), in bytes.
    pub max_head_bytes: usize,
    /// Largest body, in bytes.
    pub max_body_bytes: usize,
    /// Most header lines.
    pub max_headers: usize,
    /// The whole request (head and body) must arrive within this many seconds.
    pub request_seconds: f64,
    /// While the server is crowded (half its connections or more are open),
    /// a connection that has sent nothing for this many seconds is closed:
    /// idle connections hold the few connection slots only this long. An
    /// uncrowded server lets them wait the whole `request_seconds`, as a
    /// browser's preconnected socket expects.
    pub idle_seconds: f64,
}

impl Default for HttpLimits {
    fn default() -> HttpLimits {
        HttpLimits {
            max_url_bytes: 8 * 1024,
            max_head_bytes: 16 * 1024,
            max_body_bytes: 1 << 20,
            max_headers: 64,
            request_seconds: 10.0,
            idle_seconds: 2.0,
        }
    }
}

/// A request as read: method, target, headers (names lower-cased) and body.
#[derive(Clone, Debug, Default)]
pub struct Request {
    /// The method, as sent (`GET`, `POST`).
    pub method: String,
    /// The request target: path and query.
    pub target: String,
    /// The headers in the order sent: names lower-cased, values trimmed.
    pub headers: Vec<(String, String)>,
    /// The body: exactly `Content-Length` bytes (none without that header).
    pub body: Vec<u8>,
}

impl Request {
    /// The first header of this (lower-case) name.
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(n, _)| n == name)
            .map(|(_, v)| v.as_str())
    }
}

/// An HTTP answer.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Page {
    /// The status code.
    pub status: u16,
    /// The `Content-Type` header.
    pub content_type: &'static str,
    /// Extra headers (`Retry-After`, `Allow`).
    pub headers: Vec<(&'static str, String)>,
    /// The Content-Security-Policy.
    pub csp: &'static str,
    /// The body.
    pub body: String,
}

/// The policy of the page: its script and style come from its own files;
/// nothing is fetched from elsewhere, no form posts elsewhere, and no other
/// site may frame it.
pub(super) const PAGE_CSP: &str = "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; form-action 'self'; base-uri 'none'; frame-ancestors 'none'";

impl Page {
    /// An HTML page with this status, no extra headers and the page's
    /// Content-Security-Policy.
    pub fn html(status: u16, body: String) -> Page {
        Page {
            status,
            content_type: "text/html; charset=utf-8",
            headers: Vec::new(),
            csp: PAGE_CSP,
            body,
        }
    }

    /// The same answer with one more header.
    pub fn with_header(mut self, name: &'static str, value: impl Into<String>) -> Page {
        self.headers.push((name, value.into()));
        self
    }
}

/// Why a request was not read: the status and a sentence for the page.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(super) enum ReadFail {
    /// The client closed the connection before sending a request: nothing to answer.
    Closed,
    /// Answer with this status, title and explanation.
    Refuse(u16, &'static str, String),
}

fn reason(status: u16) -> &'static str {
    match status {
        200 => "OK",
        400 => "Bad Request",
        403 => "Forbidden",
        404 => "Not Found",
        405 => "Method Not Allowed",
        408 => "Request Timeout",
        411 => "Length Required",
        413 => "Content Too Large",
        414 => "URI Too Long",
        422 => "Unprocessable Content",
        431 => "Request Header Fields Too Large",
        500 => "Internal Server Error",
        501 => "Not Implemented",
        503 => "Service Unavailable",
        _ => "Unknown",
    }
}

/// Reads into `buf` from `stream` until the deadline; `Ok(0)` is end of stream.
fn read_some(
    stream: &mut TcpStream,
    buf: &mut [u8],
    clock: &Stopwatch,
    limits: &HttpLimits,
) -> Result<usize, ReadFail> {
    let left = limits.request_seconds - clock.seconds();
    let timeout = || {
        ReadFail::Refuse(
            408,
            "Request timeout",
            format!(
                "the request did not arrive within {} s; send it again",
                limits.request_seconds
            ),
        )
    };
    if left <= 0.0 {
        return Err(timeout());
    }
    let _ = stream.set_read_timeout(Some(Duration::from_secs_f64(left.max(0.001))));
    match stream.read(buf) {
        Ok(n) => Ok(n),
        Err(e)
            if matches!(
                e.kind(),
                std::io::ErrorKind::WouldBlock | std::io::ErrorKind::TimedOut
            ) =>
        {
            Err(timeout())
        }
        Err(_) => Err(ReadFail::Closed),
    }
}

/// 414: the request line is past the URL limit (told before or after parsing).
fn url_too_long(limits: &HttpLimits) -> ReadFail {
    ReadFail::Refuse(
        414,
        "URL too long",
        format!(
            "the address is longer than {} bytes; the page's forms send their data in the body",
            limits.max_url_bytes
        ),
    )
}

/// 431: the head is past its size limit (while reading, or once complete).
fn head_too_large(limits: &HttpLimits) -> ReadFail {
    ReadFail::Refuse(
        431,
        "Headers too large",
        format!(
            "the request's headers are larger than {} bytes",
            limits.max_head_bytes
        ),
    )
}

fn find(hay: &[u8], needle: &[u8]) -> Option<usize> {
    hay.windows(needle.len()).position(|w| w == needle)
}

/// Reads one request within `limits`; `crowded` says whether the server is
/// short of connections (see [`HttpLimits::idle_seconds`]).
pub(super) fn read_request(
    stream: &mut TcpStream,
    limits: &HttpLimits,
    crowded: &dyn Fn() -> bool,
) -> Result<Request, ReadFail> {
    let clock = Stopwatch::start();
    let mut buf: Vec<u8> = Vec::with_capacity(4096);
    let mut chunk = [0u8; 4096];
    let head_end = loop {
        if let Some(i) = find(&buf, b"\r\n\r\n") {
            break i + 4;
        }
        let line_len = find(&buf, b"\r\n").unwrap_or(buf.len());
        // The request line is the method, the target and the version: the
        // target's limit plus a little.
        if line_len > limits.max_url_bytes + 32 {
            return Err(url_too_long(limits));
        }
        if buf.len() > limits.max_head_bytes {
            return Err(head_too_large(limits));
        }
        let n = if buf.is_empty() {
            // Nothing yet: wait in slices of the idle time, and give up the
            // connection (no answer is owed) once the server is crowded or
            // the request time is over.
            let mut slice_end = 0.0;
            loop {
                slice_end =
                    (slice_end + limits.idle_seconds.max(0.001)).min(limits.request_seconds);
                let first = HttpLimits {
                    request_seconds: slice_end,
                    ..*limits
                };
                match read_some(stream, &mut chunk, &clock, &first) {
                    Err(ReadFail::Refuse(408, ..)) => {
                        if crowded() || slice_end >= limits.request_seconds {
                            return Err(ReadFail::Closed);
                        }
                    }
                    r => break r?,
                }
            }
        } else {
            read_some(stream, &mut chunk, &clock, limits)?
        };
        if n == 0 {
            return Err(if buf.is_empty() {
                ReadFail::Closed
            } else {
                ReadFail::Refuse(400, "Bad request", "the request ended early".into())
            });
        }
        buf.extend_from_slice(&chunk[..n]);
    };
    if head_end > limits.max_head_bytes {
        return Err(head_too_large(limits));
    }
    let mut headers = vec![httparse::EMPTY_HEADER; limits.max_headers];
    let mut parsed = httparse::Request::new(&mut headers);
    match parsed.parse(&buf[..head_end]) {
        Ok(httparse::Status::Complete(_)) => {}
        Err(httparse::Error::TooManyHeaders) => {
            return Err(ReadFail::Refuse(
                431,
                "Too many headers",
                format!("the request has more than {} headers", limits.max_headers),
            ));
        }
        Ok(httparse::Status::Partial) | Err(_) => {
            return Err(ReadFail::Refuse(
                400,
                "Bad request",
                "the request is not valid HTTP/1.1".into(),
            ));
        }
    }
    let target = parsed.path.unwrap_or("/").to_string();
    if target.len() > limits.max_url_bytes {
        return Err(url_too_long(limits));
    }
    let mut request = Request {
        method: parsed.method.unwrap_or("").to_string(),
        target,
        headers: parsed
            .headers
            .iter()
            .map(|h| {
                (
                    h.name.to_ascii_lowercase(),
                    String::from_utf8_lossy(h.value).trim().to_string(),
                )
            })
            .collect(),
        body: Vec::new(),
    };
    // Two of these headers could each be read by a different party (a proxy,
    // this server) as the one that counts: refused, not guessed.
    for name in ["host", "origin", "content-length"] {
        if request.headers.iter().filter(|(n, _)| n == name).count() > 1 {
            return Err(ReadFail::Refuse(
                400,
                "Bad request",
                format!("the request has more than one {name} header"),
            ));
        }
    }
    if request.header("transfer-encoding").is_some() {
        return Err(ReadFail::Refuse(
            501,
            "Chunked body not accepted",
            "send the body with a Content-Length, as a browser's form does".into(),
        ));
    }
    let length = match request.header("content-length") {
        None => 0,
        Some(v) => v.parse::<usize>().map_err(|_| {
            ReadFail::Refuse(
                400,
                "Bad request",
                format!("Content-Length {v:?} is not a number"),
            )
        })?,
    };
    if length > limits.max_body_bytes {
        return Err(ReadFail::Refuse(
            413,
            "Request too large",
            format!(
                "the form is larger than {} bytes; shorten the scenario text",
                limits.max_body_bytes
            ),
        ));
    }
    let mut body = buf.split_off(head_end);
    body.truncate(length);
    while body.len() < length {
        let want = (length - body.len()).min(chunk.len());
        let n = read_some(stream, &mut chunk[..want], &clock, limits)?;
        if n == 0 {
            return Err(ReadFail::Refuse(
                400,
                "Bad request",
                "the body ended before its Content-Length".into(),
            ));
        }
        body.extend_from_slice(&chunk[..n]);
    }
    request.body = body;
    Ok(request)
}

/// Writes `page` (its head only, for HEAD) and closes the connection.
pub(super) fn write_page(mut stream: TcpStream, page: &Page, head_only: bool) {
    let mut head = format!(
        "HTTP/1.1 {} {}\r\nContent-Type: {}\r\nContent-Length: {}\r\nCache-Control: no-store\r\nX-Content-Type-Options: nosniff\r\nX-Frame-Options: DENY\r\nReferrer-Policy: same-origin\r\nContent-Security-Policy: {}\r\nConnection: close\r\n",
        page.status,
        reason(page.status),
        page.content_type,
        page.body.len(),
        page.csp,
    );
    for (name, value) in &page.headers {
        head.push_str(name);
        head.push_str(": ");
        head.push_str(value);
        head.push_str("\r\n");
    }
    head.push_str("\r\n");
    // A client that stops reading must not hold the thread.
    let _ = stream.set_nonblocking(false);
    let _ = stream.set_write_timeout(Some(Duration::from_secs(10)));
    let sent = stream.write_all(head.as_bytes()).and_then(|()| {
        if head_only {
            Ok(())
        } else {
            stream.write_all(page.body.as_bytes())
        }
    });
    if sent.is_err() {
        return;
    }
    let _ = stream.flush();
    let _ = stream.shutdown(Shutdown::Write);
    // Read what the client still sends (a refused body) for a moment, so
    // that closing does not reset the connection before it reads the answer.
    let _ = stream.set_read_timeout(Some(Duration::from_millis(200)));
    let mut sink = [0u8; 4096];
    let mut drained = 0usize;
    while drained < 1 << 20 {
        match stream.read(&mut sink) {
            Ok(0) | Err(_) => break,
            Ok(n) => drained += n,
        }
    }
}

/// Watches a request's connection while its run goes, to stop the run when
/// the client has gone.
#[derive(Debug)]
pub(super) struct ClientWatch {
    stream: TcpStream,
    /// An interim answer was sent after the client's end of stream.
    probed: bool,
}

impl ClientWatch {
    /// Watches `stream`.
    pub(super) fn new(stream: TcpStream) -> ClientWatch {
        ClientWatch {
            stream,
            probed: false,
        }
    }

    /// Whether the client has gone. An end of stream alone does not say so:
    /// a client may half-close after sending its request and still wait for
    /// the answer. So the first end of stream gets an interim `102
    /// Processing` (HTTP/1.1 clients must accept and may ignore a 1xx before
    /// the final answer): a client that closed altogether answers it with a
    /// reset, which the next look sees as the socket's pending error; one
    /// that only half-closed does not.
    pub(super) fn gone(&mut self) -> bool {
        if self.stream.set_nonblocking(true).is_err() {
            return true;
        }
        let mut probe = [0u8; 1];
        let gone = match self.stream.peek(&mut probe) {
            Ok(0) if !self.probed => {
                self.probed = true;
                self.stream
                    .write_all(b"HTTP/1.1 102 Processing\r\n\r\n")
                    .is_err()
            }
            // The reset that a closed client sends back is a pending socket
            // error (a read past the end of stream would only say 0).
            Ok(0) => matches!(self.stream.take_error(), Ok(Some(_)) | Err(_)),
            Ok(_) => false,
            Err(e) => e.kind() != std::io::ErrorKind::WouldBlock,
        };
        let _ = self.stream.set_nonblocking(false);
        gone
    }
}
