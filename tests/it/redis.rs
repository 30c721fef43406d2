//! A private redis-server per test, on a free port, gone when the test ends.

use tandem::bench::local::LocalRedis;

pub struct RedisServer(LocalRedis, Option<std::path::PathBuf>);

impl Drop for RedisServer {
    fn drop(&mut self) {
        self.0.kill();
        if let Some(dir) = &self.1 {
            let _ = std::fs::remove_dir_all(dir);
        }
    }
}

impl RedisServer {
    pub fn start() -> Self {
        Self(
            LocalRedis::start().expect("redis-server starts (scripts/test.sh installs it)"),
            None,
        )
    }

    /// With an append-only file in a fresh folder, so it survives a restart.
    pub fn start_with_aof() -> Self {
        let dir = std::env::temp_dir().join(format!("tandem-aof-{}", uuid::Uuid::new_v4()));
        std::fs::create_dir_all(&dir).unwrap();
        Self(
            LocalRedis::start_with_aof(&dir).expect("redis-server starts"),
            Some(dir),
        )
    }

    pub fn url(&self) -> String {
        self.0.url()
    }

    pub fn kill(&mut self) {
        self.0.kill();
    }

    pub fn restart(&mut self) {
        self.0.restart().expect("redis-server comes back");
    }
}

pub fn free_port() -> u16 {
    tandem::bench::local::free_port().expect("a free port")
}
