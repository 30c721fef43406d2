//! A private redis-server per test, on a free port, gone when the test ends.

use std::{
    io::{BufRead, BufReader},
    net::TcpListener,
    process::{Child, Command, Stdio},
    sync::Once,
};

pub struct RedisServer {
    child: Child,
    pub port: u16,
}

static CHECK: Once = Once::new();

impl RedisServer {
    pub fn start() -> Self {
        CHECK.call_once(|| {
            let found = Command::new("redis-server").arg("--version").output().is_ok();
            assert!(found, "redis-server is not installed: run .ci/run (it installs it) or apt-get install redis-server");
        });
        // A port found free can be taken before redis binds it; then try another.
        (0..5)
            .find_map(|_| Self::try_start(free_port()))
            .expect("redis-server failed to start on 5 ports")
    }

    fn try_start(port: u16) -> Option<Self> {
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
            .args(["--loglevel", "notice", "--logfile", ""])
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .expect("redis-server starts");
        // Ready when it says so; no guessing with sleeps.
        let stdout = child.stdout.take().expect("piped stdout");
        let mut lines = BufReader::new(stdout).lines();
        let ready = lines
            .by_ref()
            .map_while(Result::ok)
            .any(|l| l.contains("Ready to accept connections"));
        if !ready {
            let _ = child.kill();
            let _ = child.wait();
            return None;
        }
        // Keep draining its output so it never blocks on a full pipe.
        std::thread::spawn(move || lines.for_each(drop));
        Some(Self { child, port })
    }

    pub fn url(&self) -> String {
        format!("redis://127.0.0.1:{}/", self.port)
    }
}

impl Drop for RedisServer {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

pub fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .expect("a free port")
}
