//! A private redis-server per test, on a free port, gone when the test ends.

use tandem::bench::local::LocalRedis;

pub struct RedisServer(LocalRedis);

impl RedisServer {
    pub fn start() -> Self {
        Self(LocalRedis::start().expect("redis-server starts (scripts/test.sh installs it)"))
    }

    pub fn url(&self) -> String {
        self.0.url()
    }
}

pub fn free_port() -> u16 {
    tandem::bench::local::free_port().expect("a free port")
}
