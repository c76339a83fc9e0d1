//! The `dynsim` binary: a thin shell over the `dynsim` library.

fn main() -> std::process::ExitCode {
    dynsim::cmd::main()
}
