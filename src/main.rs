//! `tandem-server`: a node and its script checker, nothing else. The dev tools (demo, dev
//! phone, benchmark) are the `tandem` binary of the `dev` crate.

use clap::Parser;

#[derive(Parser)]
#[command(
    name = "tandem-server",
    version,
    about = "One live session across a phone call and a browser page"
)]
struct Cli {
    #[command(subcommand)]
    command: tandem::cli::NodeCommand,
}

fn main() -> std::process::ExitCode {
    match Cli::parse().command.run() {
        Ok(()) => std::process::ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("tandem: {e:#}");
            std::process::ExitCode::FAILURE
        }
    }
}
