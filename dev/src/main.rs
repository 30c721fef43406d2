//! `tandem`: the node's commands and the tools around it (demo, dev phone, benchmark).

use anyhow::Context;
use clap::{Parser, Subcommand};
use tandem::cli::{NodeCommand, runtime};
use tracing_subscriber::EnvFilter;

#[derive(Parser)]
#[command(
    name = "tandem",
    version,
    about = "One live session across a phone call and a browser page"
)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    #[command(flatten)]
    Node(NodeCommand),
    /// Try everything on this machine: a node, a sample alert, and a call on the dev phone.
    Demo(tandem_dev::demo::DemoOptions),
    /// The dev phone: play a provider against a running tandem (calls, texts, live updates).
    Phone(tandem_dev::phone::cli::PhoneOptions),
    /// Measure latency, load and memory across tandem nodes sharing Redis (loopback only).
    Bench(tandem_dev::bench::Options),
    /// Desk accounts on a running node.
    #[command(subcommand)]
    Agent(tandem_dev::agent::AgentCommand),
}

fn main() -> std::process::ExitCode {
    let result = match Cli::parse().command {
        Command::Node(command) => command.run(),
        Command::Demo(options) => quiet_runtime(|| tandem_dev::demo::run(options)),
        Command::Phone(options) => quiet_runtime(|| tandem_dev::phone::cli::run(options)),
        Command::Agent(command) => runtime()
            .context("agent")
            .and_then(|rt| rt.block_on(tandem_dev::agent::run(command))),
        Command::Bench(options) => runtime()
            .context("benchmark")
            .and_then(|rt| rt.block_on(tandem_dev::bench::run(options))),
    };
    match result {
        Ok(()) => std::process::ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("tandem: {e:#}");
            std::process::ExitCode::FAILURE
        }
    }
}

/// The terminal is the phone's screen: only warnings from the server reach it.
fn quiet_runtime<F: Future<Output = anyhow::Result<()>>>(
    job: impl FnOnce() -> F,
) -> anyhow::Result<()> {
    let filter = EnvFilter::try_from_default_env().unwrap_or_else(|_| EnvFilter::new("warn"));
    tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        .with_ansi(tandem::cli::colour_for(&std::io::stderr()))
        .init();
    let rt = runtime()?;
    let result = rt.block_on(job());
    // A read of the keyboard may still be waiting on a blocking thread; do not wait for it.
    rt.shutdown_timeout(std::time::Duration::from_millis(200));
    result
}
