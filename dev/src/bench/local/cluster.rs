//! A Redis Cluster of three masters on loopback, formed for the tests that run every journey
//! on a cluster.

use super::*;

/// A Redis Cluster of our own: `masters` primaries and no replicas, all slots assigned, saving
/// nothing to disk. Gone when dropped.
pub struct LocalCluster {
    nodes: Vec<Child>,
    pub ports: Vec<u16>,
    dir: std::path::PathBuf,
}

impl LocalCluster {
    pub fn start(masters: usize) -> anyhow::Result<Self> {
        Self::start_with(masters, 5000)
    }

    /// Like [`LocalCluster::start`], with the time after which the others mark a silent
    /// master failed (`cluster-node-timeout`); short only where a test waits past it.
    pub fn start_with(masters: usize, node_timeout_ms: u64) -> anyhow::Result<Self> {
        let dir = std::env::temp_dir().join(format!("tandem-cluster-{}", uuid::Uuid::new_v4()));
        std::fs::create_dir_all(&dir)?;
        let mut cluster = Self {
            nodes: Vec::new(),
            ports: Vec::new(),
            dir,
        };
        for _ in 0..masters {
            // A port found free can be taken before redis binds it; then try others.
            let mut started = None;
            for _ in 0..5 {
                // The cluster bus port is chosen too: the default (port + 10000) may be taken.
                let (port, bus) = (free_port()?, free_port()?);
                let mut child = Command::new("redis-server")
                    .args(["--port", &port.to_string(), "--bind", "127.0.0.1"])
                    .args(["--save", "", "--appendonly", "no", "--logfile", ""])
                    .args(["--cluster-enabled", "yes"])
                    .args(["--cluster-port", &bus.to_string()])
                    .args(["--cluster-node-timeout", &node_timeout_ms.to_string()])
                    .arg("--cluster-config-file")
                    .arg(cluster.dir.join(format!("nodes-{port}.conf")))
                    .stdout(Stdio::piped())
                    .stderr(Stdio::null())
                    .spawn()
                    .context("starting redis-server (apt-get install redis-server)")?;
                if wait_for(&mut child, &["Ready to accept connections"], None).is_some() {
                    started = Some((child, port));
                    break;
                }
                let _ = child.kill();
                let _ = child.wait();
            }
            let (child, port) = started.context("a cluster node did not start on 5 free ports")?;
            cluster.nodes.push(child);
            cluster.ports.push(port);
        }
        let addresses: Vec<String> = cluster
            .ports
            .iter()
            .map(|p| format!("127.0.0.1:{p}"))
            .collect();
        let created = Command::new("redis-cli")
            .args(["--cluster", "create"])
            .args(&addresses)
            .args(["--cluster-replicas", "0", "--cluster-yes"])
            .stdin(Stdio::null())
            .output()
            .context("running redis-cli --cluster create")?;
        anyhow::ensure!(
            created.status.success(),
            "redis-cli --cluster create failed: {}",
            String::from_utf8_lossy(&created.stdout)
        );
        // Every node must agree the cluster is whole before it takes commands everywhere.
        let deadline = std::time::Instant::now() + std::time::Duration::from_secs(20);
        for port in &cluster.ports {
            loop {
                let info = Command::new("redis-cli")
                    .args(["-p", &port.to_string(), "cluster", "info"])
                    .output()?;
                if String::from_utf8_lossy(&info.stdout).contains("cluster_state:ok") {
                    break;
                }
                anyhow::ensure!(
                    std::time::Instant::now() < deadline,
                    "the cluster did not form within 20 s"
                );
                std::thread::sleep(std::time::Duration::from_millis(20));
            }
        }
        Ok(cluster)
    }

    /// Kills one master at once (SIGKILL): its slots stop answering, the others go on.
    pub fn kill(&mut self, i: usize) {
        let _ = self.nodes[i].kill();
        let _ = self.nodes[i].wait();
    }

    /// Stops one master without closing anything (SIGSTOP): its sockets stay open and silent,
    /// as behind a partition or a hung host, the failure a refused connection does not show.
    pub fn freeze(&mut self, i: usize) {
        let _ = Command::new("kill")
            .args(["-STOP", &self.nodes[i].id().to_string()])
            .status();
    }

    /// Every node as a seed, comma-separated, as `TANDEM_REDIS_URL` takes a cluster.
    pub fn url(&self) -> String {
        self.ports
            .iter()
            .map(|p| format!("redis://127.0.0.1:{p}/"))
            .collect::<Vec<_>>()
            .join(",")
    }
}

impl Drop for LocalCluster {
    fn drop(&mut self) {
        for node in &mut self.nodes {
            let _ = node.kill();
            let _ = node.wait();
        }
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}
