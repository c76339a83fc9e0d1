//! `dynsim serve`: a local web page (being written).

use crate::cli::ServeArgs;

pub fn cmd(_args: &ServeArgs) -> u8 {
    eprintln!("error: dynsim serve is not built yet");
    crate::cli::EXIT_BAD_INPUT
}
