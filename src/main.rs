//! The `tandem` binary: parse the command line, set up logging, hand over to the library.

use std::path::PathBuf;

use anyhow::Context;
use clap::{Parser, Subcommand};
use tokio_util::sync::CancellationToken;
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
    /// Run a node (configured by TANDEM_* environment variables).
    Serve,
    /// Try everything on this machine: a node, a sample alert, and a call on the dev phone.
    Demo(tandem::demo::DemoOptions),
    /// The dev phone: play Twilio against a running tandem (calls, texts, live updates).
    Phone(tandem::phone::cli::PhoneOptions),
    /// Check IVR scripts and report every problem found.
    Check {
        /// Script files; defaults to every script in TANDEM_SCRIPTS_DIR.
        files: Vec<PathBuf>,
    },
    /// Measure latency, load and memory across tandem nodes sharing Redis (loopback only).
    Bench(tandem::bench::Options),
}

fn main() -> std::process::ExitCode {
    let cli = Cli::parse();
    let result = match cli.command {
        Command::Serve => serve(),
        Command::Check { files } => check(files),
        Command::Demo(options) => quiet_runtime(|| tandem::demo::run(options)),
        Command::Phone(options) => quiet_runtime(|| tandem::phone::cli::run(options)),
        Command::Bench(options) => {
            runtime().and_then(|rt| rt.block_on(tandem::bench::run(options)))
        }
    };
    match result {
        Ok(()) => std::process::ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("tandem: {e:#}");
            std::process::ExitCode::FAILURE
        }
    }
}

fn runtime() -> anyhow::Result<tokio::runtime::Runtime> {
    tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .context("starting the async runtime")
}

/// The terminal is the phone's screen: only warnings from the server reach it.
fn quiet_runtime<F: Future<Output = anyhow::Result<()>>>(
    job: impl FnOnce() -> F,
) -> anyhow::Result<()> {
    let filter = EnvFilter::try_from_default_env().unwrap_or_else(|_| EnvFilter::new("warn"));
    tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        .init();
    let rt = runtime()?;
    let result = rt.block_on(job());
    // A read of the keyboard may still be waiting on a blocking thread; do not wait for it.
    rt.shutdown_timeout(std::time::Duration::from_millis(200));
    result
}

fn serve() -> anyhow::Result<()> {
    let config = tandem::config::Config::from_env()?;
    init_tracing(config.log_json);
    // Every page is an open socket: take all the files the system allows this process.
    match rlimit::increase_nofile_limit(u64::MAX) {
        Ok(files) => tracing::info!(files, "open-files limit"),
        Err(e) => tracing::warn!(error = %e, "could not raise the open-files limit"),
    }
    runtime()?.block_on(async move {
        let listener = tokio::net::TcpListener::bind(config.listen)
            .await
            .with_context(|| format!("binding {}", config.listen))?;
        let shutdown = CancellationToken::new();
        tokio::spawn(stop_on_signal(shutdown.clone()));
        tandem::app::run(config, listener, shutdown).await
    })
}

async fn stop_on_signal(shutdown: CancellationToken) {
    let mut term = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate())
        .expect("SIGTERM handler");
    tokio::select! {
        _ = term.recv() => {}
        _ = tokio::signal::ctrl_c() => {}
    }
    tracing::info!("shutting down");
    shutdown.cancel();
    // In-flight requests get a bounded grace period, then the process exits regardless.
    tokio::time::sleep(std::time::Duration::from_secs(15)).await;
    tracing::warn!("shutdown grace period over; exiting");
    std::process::exit(0);
}

fn init_tracing(json: bool) {
    let filter = EnvFilter::try_from_default_env()
        .unwrap_or_else(|_| EnvFilter::new("info,tower_http=warn"));
    let builder = tracing_subscriber::fmt().with_env_filter(filter);
    if json {
        builder.json().init();
    } else {
        builder.init();
    }
}

fn check(files: Vec<PathBuf>) -> anyhow::Result<()> {
    let files = if files.is_empty() {
        let dir = tandem::config::Config::from_env()?.scripts_dir;
        let mut found: Vec<PathBuf> = std::fs::read_dir(&dir)
            .with_context(|| format!("reading {}", dir.display()))?
            .filter_map(|e| e.ok().map(|e| e.path()))
            .filter(|p| p.extension().is_some_and(|x| x == "json") && !p.ends_with("schema.json"))
            .collect();
        found.sort();
        found
    } else {
        files
    };
    let mut failed = 0;
    for file in &files {
        let text =
            std::fs::read_to_string(file).with_context(|| format!("reading {}", file.display()))?;
        match tandem::script::Script::parse_all(&file.display().to_string(), &text) {
            Ok(script) => println!("ok    {} ({} states)", file.display(), script.states.len()),
            Err(problems) => {
                failed += 1;
                for problem in problems {
                    println!("error {problem}");
                }
            }
        }
    }
    anyhow::ensure!(
        failed == 0,
        "{failed} of {} scripts have errors",
        files.len()
    );
    Ok(())
}
