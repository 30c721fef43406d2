//! The node's own commands (`serve`, `check`), shared by the server binary and the full
//! command line in `dev`, so both run a node exactly the same way.

use std::path::PathBuf;

use anyhow::Context;
use clap::Subcommand;
use tokio_util::sync::CancellationToken;
use tracing_subscriber::EnvFilter;

#[derive(Subcommand, Debug)]
pub enum NodeCommand {
    /// Run a node (configured by TANDEM_* environment variables).
    Serve,
    /// Check IVR scripts and report every problem found.
    Check {
        /// Script files; defaults to every script in TANDEM_SCRIPTS_DIR.
        files: Vec<PathBuf>,
    },
}

impl NodeCommand {
    pub fn run(self) -> anyhow::Result<()> {
        match self {
            NodeCommand::Serve => serve(),
            NodeCommand::Check { files } => check(files),
        }
    }
}

pub fn runtime() -> anyhow::Result<tokio::runtime::Runtime> {
    tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .context("starting the async runtime")
}

fn serve() -> anyhow::Result<()> {
    let config = crate::config::Config::from_env()?;
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
        crate::app::run(config, listener, shutdown).await
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
        let dir = crate::config::Config::from_env()?.scripts_dir;
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
        match crate::script::Script::parse_all(&file.display().to_string(), &text) {
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
