//! Local processes for the benchmark and the tests: a private redis-server and `tandem serve`
//! nodes, each on a free loopback port, each stopped when dropped.

use std::{
    io::{BufRead, BufReader},
    net::TcpListener,
    process::{Child, Command, Stdio},
    sync::{Arc, Mutex},
};

use anyhow::{Context, bail};

/// A redis-server of our own, saving nothing to disk.
pub struct LocalRedis {
    child: Child,
    pub port: u16,
}

impl LocalRedis {
    pub fn start() -> anyhow::Result<Self> {
        // A port found free can be taken before redis binds it; then try another.
        for _ in 0..5 {
            if let Some(redis) = Self::try_start(free_port()?)? {
                return Ok(redis);
            }
        }
        bail!("redis-server did not start on any of 5 free ports")
    }

    fn try_start(port: u16) -> anyhow::Result<Option<Self>> {
        let mut child = Command::new("redis-server")
            .args([
                "--port",
                &port.to_string(),
                "--bind",
                "127.0.0.1",
                "--save",
                "",
                "--appendonly",
                "no",
            ])
            .args(["--logfile", "", "--maxclients", "20000"])
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .context("starting redis-server (apt-get install redis-server)")?;
        // Ready when it says so, not after a guessed delay.
        if wait_for(&mut child, &["Ready to accept connections"], None) {
            return Ok(Some(Self { child, port }));
        }
        let _ = child.kill();
        let _ = child.wait();
        Ok(None)
    }

    pub fn url(&self) -> String {
        format!("redis://127.0.0.1:{}/", self.port)
    }

    pub fn pid(&self) -> u32 {
        self.child.id()
    }
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
    log: Arc<Mutex<Vec<String>>>,
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
            .stderr(Stdio::null());
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
        let log = Arc::new(Mutex::new(Vec::new()));
        if !wait_for(&mut child, &ready, Some(log.clone())) {
            let _ = child.kill();
            bail!("tandem on port {port} exited before it was ready");
        }
        Ok(Self {
            child,
            base: format!("http://127.0.0.1:{port}"),
            log,
        })
    }

    /// The node's log lines so far (the most recent 10,000).
    pub fn log(&self) -> Vec<String> {
        self.log.lock().unwrap_or_else(|p| p.into_inner()).clone()
    }

    pub fn pid(&self) -> u32 {
        self.child.id()
    }
}

impl Drop for LocalNode {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Reads the child's output until every marker has appeared; keeps draining it afterwards (into
/// `keep`, when given) so the child never blocks on a full pipe.
fn wait_for(child: &mut Child, markers: &[&str], keep: Option<Arc<Mutex<Vec<String>>>>) -> bool {
    let Some(stdout) = child.stdout.take() else {
        return false;
    };
    let mut lines = BufReader::new(stdout).lines();
    let mut seen = vec![false; markers.len()];
    let store = move |line: String| {
        if let Some(keep) = &keep {
            let mut kept = keep.lock().unwrap_or_else(|p| p.into_inner());
            if kept.len() >= 10_000 {
                kept.remove(0);
            }
            kept.push(line);
        }
    };
    for line in lines.by_ref().map_while(Result::ok) {
        for (i, marker) in markers.iter().enumerate() {
            seen[i] |= line.contains(marker);
        }
        store(line);
        if seen.iter().all(|s| *s) {
            std::thread::spawn(move || lines.map_while(Result::ok).for_each(store));
            return true;
        }
    }
    false
}

pub fn free_port() -> anyhow::Result<u16> {
    Ok(TcpListener::bind("127.0.0.1:0")?.local_addr()?.port())
}
