//! Local processes for the benchmark and the tests: a private redis-server and `tandem serve`
//! nodes, each on a free loopback port, each stopped when dropped.

mod cluster;

pub use cluster::LocalCluster;

use std::{
    io::{BufRead, BufReader},
    net::TcpListener,
    process::{Child, Command, Stdio},
    sync::{Arc, Mutex},
};

use anyhow::{Context, bail};

/// A redis-server of our own: saving nothing to disk, or with an append-only file in `aof`.
pub struct LocalRedis {
    child: Child,
    pub port: u16,
    aof: Option<std::path::PathBuf>,
}

impl LocalRedis {
    pub fn start() -> anyhow::Result<Self> {
        Self::start_in(None)
    }

    /// Writes every command to an append-only file in `dir` before answering it, so a
    /// restart (even after SIGKILL) comes back with everything it acknowledged.
    pub fn start_with_aof(dir: &std::path::Path) -> anyhow::Result<Self> {
        Self::start_in(Some(dir.to_owned()))
    }

    fn start_in(aof: Option<std::path::PathBuf>) -> anyhow::Result<Self> {
        // A port found free can be taken before redis binds it; then try another.
        for _ in 0..5 {
            let port = free_port()?;
            if let Some(child) = spawn_redis(port, aof.as_deref())? {
                return Ok(Self { child, port, aof });
            }
        }
        bail!("redis-server did not start on any of 5 free ports")
    }

    /// Kills the server at once (SIGKILL), as a crash would.
    pub fn kill(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }

    /// Starts the server again on the same port (and the same append-only file).
    pub fn restart(&mut self) -> anyhow::Result<()> {
        self.kill();
        self.child = spawn_redis(self.port, self.aof.as_deref())?
            .ok_or_else(|| anyhow::anyhow!("redis-server did not come back on {}", self.port))?;
        Ok(())
    }

    pub fn url(&self) -> String {
        format!("redis://127.0.0.1:{}/", self.port)
    }

    pub fn pid(&self) -> u32 {
        self.child.id()
    }
}

fn spawn_redis(port: u16, aof: Option<&std::path::Path>) -> anyhow::Result<Option<Child>> {
    let mut cmd = Command::new("redis-server");
    cmd.args([
        "--port",
        &port.to_string(),
        "--bind",
        "127.0.0.1",
        "--save",
        "",
    ])
    .args(["--logfile", "", "--maxclients", "20000"])
    // Tests stall the server with DEBUG SLEEP, from loopback only.
    .args(["--enable-debug-command", "local"]);
    match aof {
        Some(dir) => cmd
            .args(["--appendonly", "yes", "--appendfsync", "always", "--dir"])
            .arg(dir),
        None => cmd.args(["--appendonly", "no"]),
    };
    let mut child = cmd
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .context("starting redis-server (apt-get install redis-server)")?;
    // Ready when it says so, not after a guessed delay.
    if wait_for(&mut child, &["Ready to accept connections"], None).is_some() {
        return Ok(Some(child));
    }
    let _ = child.kill();
    let _ = child.wait();
    Ok(None)
}

impl Drop for LocalRedis {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// A `tandem serve` process.
pub struct LocalNode {
    child: Child,
    pub base: String,
    log: Arc<Log>,
    reader: Option<std::thread::JoinHandle<()>>,
}

/// A child's output lines, and a bell that rings at each new one.
#[derive(Default)]
struct Log {
    lines: Mutex<Vec<String>>,
    new_line: tokio::sync::Notify,
}

impl LocalNode {
    /// Starts the binary at `exe` on `port` with the given `TANDEM_*` settings and waits until it
    /// listens and, on Redis, has subscribed to the bus.
    pub fn start(exe: &std::path::Path, port: u16, env: &[(&str, String)]) -> anyhow::Result<Self> {
        let mut cmd = Command::new(exe);
        cmd.arg("serve")
            .env("TANDEM_LISTEN", format!("127.0.0.1:{port}"))
            .env("TANDEM_LOG_FORMAT", "json")
            .env(
                "RUST_LOG",
                "warn,tandem::app=info,tandem::store::redis=info",
            )
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit());
        for (k, v) in env {
            cmd.env(k, v);
        }
        let on_redis = env.iter().any(|(k, _)| *k == "TANDEM_REDIS_URL");
        let mut child = cmd
            .spawn()
            .with_context(|| format!("starting {}", exe.display()))?;
        let mut ready = vec!["tandem node listening"];
        if on_redis {
            ready.push("subscribed to the wake-up bus");
        }
        let log = Arc::new(Log::default());
        let Some(reader) = wait_for(&mut child, &ready, Some(log.clone())) else {
            let _ = child.kill();
            bail!("tandem on port {port} exited before it was ready");
        };
        Ok(Self {
            child,
            base: format!("http://127.0.0.1:{port}"),
            log,
            reader: Some(reader),
        })
    }

    /// The node's log lines so far (the most recent 10,000).
    pub fn log(&self) -> Vec<String> {
        self.log
            .lines
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .clone()
    }

    /// Waits up to `within` for a log line holding every one of `parts`; the line.
    pub async fn wait_log(
        &self,
        parts: &[&str],
        within: std::time::Duration,
    ) -> anyhow::Result<String> {
        let deadline = tokio::time::Instant::now() + within;
        loop {
            // Armed before looking, so a line written in between still wakes us.
            let rung = self.log.new_line.notified();
            tokio::pin!(rung);
            rung.as_mut().enable();
            if let Some(line) = self
                .log()
                .into_iter()
                .find(|l| parts.iter().all(|p| l.contains(p)))
            {
                return Ok(line);
            }
            if tokio::time::timeout_at(deadline, rung).await.is_err() {
                bail!(
                    "no line with {parts:?} in the log of {} within {within:?}",
                    self.base
                );
            }
        }
    }

    pub fn pid(&self) -> u32 {
        self.child.id()
    }

    /// Ends the node at once (SIGKILL), as a crash or an OOM kill would.
    pub fn kill(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }

    /// Asks the node to stop (SIGTERM), as an orchestrator does before a deploy.
    pub fn terminate(&self) -> anyhow::Result<()> {
        let status = Command::new("kill")
            .args(["-TERM", &self.child.id().to_string()])
            .status()
            .context("running kill")?;
        anyhow::ensure!(status.success(), "kill -TERM failed");
        Ok(())
    }

    /// Waits up to `within` for the process to exit; its exit status, or `None` if it is
    /// still running.
    /// Asynchronous, so whatever else the caller's runtime carries (a balancer in front of
    /// this node, say) goes on meanwhile.
    pub async fn wait_exit(
        &mut self,
        within: std::time::Duration,
    ) -> Option<std::process::ExitStatus> {
        let deadline = tokio::time::Instant::now() + within;
        loop {
            match self.child.try_wait() {
                Ok(Some(status)) => return Some(status),
                Ok(None) if tokio::time::Instant::now() < deadline => {
                    tokio::time::sleep(std::time::Duration::from_millis(10)).await;
                }
                _ => return None,
            }
        }
    }
}

impl Drop for LocalNode {
    fn drop(&mut self) {
        // A failing test shows what the node saw, which is most of the diagnosis.
        if std::thread::panicking() {
            // Everything it wrote, up to its end.
            let _ = self.child.kill();
            let _ = self.child.wait();
            if let Some(reader) = self.reader.take() {
                let _ = reader.join();
            }
            let log = self.log();
            eprintln!("--- log of the node at {} (last 200 lines) ---", self.base);
            for line in &log[log.len().saturating_sub(200)..] {
                eprintln!("{line}");
            }
        }
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Reads the child's output until every marker has appeared; keeps draining it afterwards (into
/// `keep`, when given) so the child never blocks on a full pipe.
fn wait_for(
    child: &mut Child,
    markers: &[&str],
    keep: Option<Arc<Log>>,
) -> Option<std::thread::JoinHandle<()>> {
    let stdout = child.stdout.take()?;
    let mut lines = BufReader::new(stdout).lines();
    let mut seen = vec![false; markers.len()];
    let store = move |line: String| {
        if let Some(keep) = &keep {
            {
                let mut kept = keep.lines.lock().unwrap_or_else(|p| p.into_inner());
                if kept.len() >= 10_000 {
                    kept.remove(0);
                }
                kept.push(line);
            }
            keep.new_line.notify_waiters();
        }
    };
    for line in lines.by_ref().map_while(Result::ok) {
        for (i, marker) in markers.iter().enumerate() {
            seen[i] |= line.contains(marker);
        }
        store(line);
        if seen.iter().all(|s| *s) {
            return Some(std::thread::spawn(move || {
                lines.map_while(Result::ok).for_each(store);
            }));
        }
    }
    None
}

/// A port for a server this process is about to start. Taken below the kernel's ephemeral range
/// (which starts at 32768) and never handed out twice, so no `bind(0)` in this process and no
/// other call of this function can claim it between now and the server's own bind.
pub fn free_port() -> anyhow::Result<u16> {
    use std::sync::atomic::{AtomicU32, Ordering};
    const FIRST: u16 = 20_000;
    const SPAN: u16 = 12_000;
    // Processes started side by side begin in different places.
    static NEXT: AtomicU32 = AtomicU32::new(0);
    // Scrambled, so processes with neighbouring ids do not walk the same ports.
    let offset = std::process::id().wrapping_mul(2_654_435_761);
    for _ in 0..SPAN {
        let n = offset.wrapping_add(NEXT.fetch_add(1, Ordering::Relaxed));
        let port = FIRST + u16::try_from(n % u32::from(SPAN))?;
        if TcpListener::bind(("127.0.0.1", port)).is_ok() {
            return Ok(port);
        }
    }
    bail!("no free port between {FIRST} and {}", FIRST + SPAN)
}
