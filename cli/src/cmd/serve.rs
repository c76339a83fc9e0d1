//! `dynsim serve`: the local web page.

use super::common::{EXIT_BAD_INPUT, EXIT_FAILED, EXIT_OK};
use crate::serve::{is_loopback, start};

/// The arguments of `dynsim serve`.
#[derive(clap::Args, Debug)]
pub struct ServeArgs {
    /// The port to listen on.
    #[arg(long, default_value_t = 8080)]
    pub port: u16,
    /// The address to bind; the default serves this machine only.
    #[arg(long, default_value = "127.0.0.1")]
    pub bind: String,
    /// The dynsim repository's root, whose scenarios/ and experiments/ the page lists (default: the current directory).
    #[arg(long, value_name = "DIR")]
    pub root: Option<std::path::PathBuf>,
}

/// `dynsim serve`: prints the URL and serves until killed. Exit code 2 if it cannot listen.
pub(super) fn run(args: &ServeArgs) -> u8 {
    if let Err(e) =
        super::common::enter_root(args.root.as_deref(), &["scenarios", "experiments"], "serve")
    {
        eprintln!("error: {e}");
        return EXIT_BAD_INPUT;
    }
    // A host that does not resolve is the --bind value's fault, not the port's.
    use std::net::ToSocketAddrs as _;
    match (args.bind.as_str(), args.port).to_socket_addrs() {
        Ok(addrs) if !addrs.as_slice().is_empty() => {}
        Ok(_) => {
            eprintln!(
                "error: --bind {}: the name resolves to no address; give an IP address such as 127.0.0.1 or ::1, or a host name this machine resolves",
                args.bind
            );
            return EXIT_BAD_INPUT;
        }
        Err(e) => {
            eprintln!(
                "error: --bind {}: cannot resolve this host name ({e}); give an IP address such as 127.0.0.1 or ::1, or a host name this machine resolves",
                args.bind
            );
            return EXIT_BAD_INPUT;
        }
    }
    match start(&args.bind, args.port) {
        Ok((port, handle)) => {
            let host = if args.bind.contains(':') {
                format!("[{}]", args.bind)
            } else {
                args.bind.clone()
            };
            crate::cmd::output::print(&format!(
                "dynsim serve: open http://{host}:{port}/ (Ctrl-C stops it)\n"
            ));
            if !is_loopback(&args.bind) {
                eprintln!(
                    "warning: --bind {} makes the page reachable from other machines; it has no authentication and runs whatever scenario it is sent",
                    args.bind
                );
            }
            match handle.join() {
                Ok(()) => EXIT_OK,
                Err(_) => EXIT_FAILED,
            }
        }
        Err(e) => {
            let hint = match e.kind() {
                std::io::ErrorKind::AddrInUse => " (the port is in use; try another with --port)",
                std::io::ErrorKind::AddrNotAvailable => {
                    " (that address is not one of this machine's; try --bind 127.0.0.1)"
                }
                std::io::ErrorKind::PermissionDenied => {
                    " (ports below 1024 need privileges; try --port 8080)"
                }
                _ => "",
            };
            eprintln!(
                "error: cannot listen on {}:{}: {e}{hint}",
                args.bind, args.port
            );
            EXIT_BAD_INPUT
        }
    }
}
