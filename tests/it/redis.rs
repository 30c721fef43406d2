//! A private Redis per test, on free ports, gone when the test ends: one redis-server, or, when
//! `TANDEM_TEST_REDIS=cluster`, a three-master Redis Cluster (every app of the run then uses it,
//! even those that would otherwise use the embedded store).

use tandem_dev::bench::local::{LocalCluster, LocalRedis};

pub struct RedisServer(Server, Option<std::path::PathBuf>);

enum Server {
    Single(LocalRedis),
    Cluster(LocalCluster),
}

/// Whether this run puts every test on a Redis Cluster.
pub fn on_cluster() -> bool {
    std::env::var("TANDEM_TEST_REDIS").is_ok_and(|v| v == "cluster")
}

impl Drop for RedisServer {
    fn drop(&mut self) {
        if let Server::Single(redis) = &mut self.0 {
            redis.kill();
        }
        if let Some(dir) = &self.1 {
            let _ = std::fs::remove_dir_all(dir);
        }
    }
}

impl RedisServer {
    pub fn start() -> Self {
        let server = if on_cluster() {
            Server::Cluster(LocalCluster::start(3).expect("a three-master Redis Cluster forms"))
        } else {
            Server::Single(
                LocalRedis::start().expect("redis-server starts (scripts/test.sh installs it)"),
            )
        };
        Self(server, None)
    }

    /// One redis-server with an append-only file in a fresh folder, so it survives a restart.
    pub fn start_with_aof() -> Self {
        let dir = std::env::temp_dir().join(format!("tandem-aof-{}", uuid::Uuid::new_v4()));
        std::fs::create_dir_all(&dir).unwrap();
        Self(
            Server::Single(LocalRedis::start_with_aof(&dir).expect("redis-server starts")),
            Some(dir),
        )
    }

    pub fn url(&self) -> String {
        match &self.0 {
            Server::Single(redis) => redis.url(),
            Server::Cluster(cluster) => cluster.url(),
        }
    }

    pub fn kill(&mut self) {
        match &mut self.0 {
            Server::Single(redis) => redis.kill(),
            Server::Cluster(_) => panic!("kill is for a single redis-server"),
        }
    }

    pub fn restart(&mut self) {
        match &mut self.0 {
            Server::Single(redis) => redis.restart().expect("redis-server comes back"),
            Server::Cluster(_) => panic!("restart is for a single redis-server"),
        }
    }
}

pub fn free_port() -> u16 {
    tandem_dev::bench::local::free_port().expect("a free port")
}
