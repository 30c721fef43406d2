//! What the benchmark measures: latency histograms with their samples over time, and the
//! servers' resources (RSS and CPU per node from /proc, Redis commands per second).

use std::{
    collections::BTreeMap,
    sync::{Arc, Mutex},
    time::{Duration, Instant},
};

use hdrhistogram::Histogram;
use serde::Serialize;

/// The latencies a run records, by name.
pub const WEBHOOK: &str = "webhook_answer";
pub const LINK_TO_IVR: &str = "link_open_to_ivr";
pub const CLICK_TO_SPEECH: &str = "click_to_speech";
/// A page's tap to the decision on a desk following the session from another node.
pub const CLICK_TO_DESK: &str = "click_to_desk";
pub const JOURNEY: &str = "journey";

/// Every latency sample of a run, shared by its tasks.
#[derive(Clone)]
pub struct Recorder {
    started: Instant,
    inner: Arc<Mutex<Samples>>,
}

#[derive(Default)]
struct Samples {
    by_metric: BTreeMap<&'static str, Vec<(f64, f64)>>,
    completed: u64,
    errors: Vec<String>,
}

impl Recorder {
    pub fn new() -> Self {
        Self {
            started: Instant::now(),
            inner: Arc::default(),
        }
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Samples> {
        self.inner.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// `took` for `metric`, observed at `at` (for latency over time).
    pub fn record(&self, metric: &'static str, at: Instant, took: Duration) {
        let t = at.saturating_duration_since(self.started).as_secs_f64();
        let ms = took.as_secs_f64() * 1000.0;
        self.lock()
            .by_metric
            .entry(metric)
            .or_default()
            .push((t, ms));
    }

    pub fn completed(&self) {
        self.lock().completed += 1;
    }

    pub fn error(&self, e: impl std::fmt::Display) {
        let mut s = self.lock();
        if s.errors.len() < 1000 {
            s.errors.push(e.to_string());
        }
    }

    pub fn counts(&self) -> (u64, usize) {
        let s = self.lock();
        (s.completed, s.errors.len())
    }

    pub fn elapsed(&self) -> Duration {
        self.started.elapsed()
    }

    /// Samples of `metric` since `since` seconds into the run.
    pub fn since(&self, metric: &str, since: f64) -> Vec<f64> {
        self.lock()
            .by_metric
            .get(metric)
            .map(|v| {
                v.iter()
                    .filter(|(t, _)| *t >= since)
                    .map(|(_, ms)| *ms)
                    .collect()
            })
            .unwrap_or_default()
    }

    pub fn finish(&self) -> Measured {
        let s = self.lock();
        let latencies = s
            .by_metric
            .iter()
            .map(|(name, samples)| (name.to_string(), Summary::of(samples)))
            .collect();
        Measured {
            latencies,
            completed: s.completed,
            errors: s.errors.clone(),
        }
    }
}

impl Default for Recorder {
    fn default() -> Self {
        Self::new()
    }
}

#[derive(Debug, Serialize)]
pub struct Measured {
    pub latencies: BTreeMap<String, Summary>,
    pub completed: u64,
    pub errors: Vec<String>,
}

/// Percentiles of one latency, in milliseconds, with the samples behind them.
#[derive(Debug, Serialize)]
pub struct Summary {
    pub count: u64,
    pub p50: f64,
    pub p90: f64,
    pub p99: f64,
    pub p999: f64,
    pub max: f64,
    pub mean: f64,
    /// Latency over time in up to 150 slices of the run: (slice start in seconds into the
    /// run, samples, p50 ms, p99 ms).
    pub over_time: Vec<(f64, u64, f64, f64)>,
    /// (seconds into the run, milliseconds): kept for the charts, too many for the report.
    #[serde(skip)]
    pub samples: Vec<(f64, f64)>,
}

/// Slices of a run for latency over time.
const SLICES: f64 = 150.0;

impl Summary {
    pub fn of(samples: &[(f64, f64)]) -> Self {
        let values: Vec<f64> = samples.iter().map(|(_, ms)| *ms).collect();
        let hist = histogram(&values);
        let ms = |q: f64| hist.value_at_quantile(q) as f64 / 1000.0;
        Self {
            count: hist.len(),
            p50: ms(0.50),
            p90: ms(0.90),
            p99: ms(0.99),
            p999: ms(0.999),
            max: hist.max() as f64 / 1000.0,
            mean: hist.mean() / 1000.0,
            over_time: over_time(samples),
            samples: samples.to_vec(),
        }
    }
}

fn over_time(samples: &[(f64, f64)]) -> Vec<(f64, u64, f64, f64)> {
    let (first, last) = samples
        .iter()
        .fold((f64::MAX, 0.0_f64), |(lo, hi), (t, _)| {
            (lo.min(*t), hi.max(*t))
        });
    if samples.is_empty() {
        return Vec::new();
    }
    let width = ((last - first) / SLICES).max(0.01);
    let mut slices: BTreeMap<u64, Vec<f64>> = BTreeMap::new();
    for (t, ms) in samples {
        slices
            .entry(((t - first) / width) as u64)
            .or_default()
            .push(*ms);
    }
    slices
        .into_iter()
        .map(|(i, values)| {
            let hist = histogram(&values);
            let ms = |q: f64| hist.value_at_quantile(q) as f64 / 1000.0;
            (first + i as f64 * width, hist.len(), ms(0.5), ms(0.99))
        })
        .collect()
}

/// Microsecond HDR histogram (1 µs to 10 min, 3 significant digits) of millisecond values.
pub fn histogram(ms: &[f64]) -> Histogram<u64> {
    let mut hist = Histogram::<u64>::new_with_bounds(1, 600_000_000, 3).expect("valid bounds");
    for v in ms {
        hist.saturating_record(((v * 1000.0) as u64).max(1));
    }
    hist
}

pub fn p99(ms: &[f64]) -> f64 {
    histogram(ms).value_at_quantile(0.99) as f64 / 1000.0
}

/// One process's CPU time and resident memory, read from /proc.
#[derive(Clone, Copy, Debug)]
pub struct ProcSample {
    pub cpu_secs: f64,
    pub rss_bytes: u64,
}

pub fn proc_sample(pid: u32) -> Option<ProcSample> {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    // Fields after the command name (which may hold spaces) start after the last ')'.
    let rest = &stat[stat.rfind(')')? + 2..];
    let fields: Vec<&str> = rest.split_whitespace().collect();
    let (utime, stime): (f64, f64) = (fields.get(11)?.parse().ok()?, fields.get(12)?.parse().ok()?);
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).ok()?;
    let rss_kib: u64 = status
        .lines()
        .find(|l| l.starts_with("VmRSS:"))?
        .split_whitespace()
        .nth(1)?
        .parse()
        .ok()?;
    Some(ProcSample {
        cpu_secs: (utime + stime) / clock_ticks(),
        rss_bytes: rss_kib * 1024,
    })
}

/// /proc reports CPU time in USER_HZ ticks, which Linux fixes at 100 for user space.
fn clock_ticks() -> f64 {
    100.0
}

/// Redis's count of commands processed since it started.
pub async fn redis_commands(conn: &mut redis::aio::MultiplexedConnection) -> Option<u64> {
    redis_counters(conn).await.map(|c| c.commands)
}

/// Redis's own totals since it started.
#[derive(Clone, Copy, Debug)]
pub struct RedisCounters {
    /// Commands run, including those run by Lua scripts.
    pub commands: u64,
    /// Requests read off client sockets: round trips.
    pub reads: u64,
}

pub async fn redis_counters(conn: &mut redis::aio::MultiplexedConnection) -> Option<RedisCounters> {
    let info: String = redis::cmd("INFO")
        .arg("stats")
        .query_async(conn)
        .await
        .ok()?;
    let field = |name: &str| -> Option<u64> {
        info.lines()
            .find_map(|l| l.strip_prefix(name)?.strip_prefix(':'))?
            .trim()
            .parse()
            .ok()
    };
    Some(RedisCounters {
        commands: field("total_commands_processed")?,
        reads: field("total_reads_processed")?,
    })
}

/// Resources over a run, sampled once a second.
#[derive(Debug, Default, Serialize)]
pub struct Resources {
    /// Per process (the nodes, redis-server, this driver): seconds into the run, RSS in MiB,
    /// CPU in percent of one core.
    pub processes: BTreeMap<String, Vec<(f64, f64, f64)>>,
    /// Seconds into the run, Redis commands per second.
    pub redis_ops: Vec<(f64, f64)>,
}

/// Samples the nodes and Redis every second until dropped.
pub struct Sampler {
    task: tokio::task::JoinHandle<()>,
    out: Arc<Mutex<Resources>>,
}

impl Sampler {
    pub fn start(
        recorder: &Recorder,
        nodes: Vec<(String, u32)>,
        redis: Option<redis::aio::MultiplexedConnection>,
    ) -> Self {
        let out = Arc::new(Mutex::new(Resources::default()));
        let (shared, started) = (out.clone(), recorder.started);
        let task = tokio::spawn(async move {
            let mut redis = redis;
            let mut last: Vec<Option<ProcSample>> =
                nodes.iter().map(|(_, pid)| proc_sample(*pid)).collect();
            let mut last_ops = match &mut redis {
                Some(c) => redis_commands(c).await,
                None => None,
            };
            let mut last_at = Instant::now();
            let mut tick = tokio::time::interval(Duration::from_secs(1));
            tick.tick().await;
            loop {
                tick.tick().await;
                let now = Instant::now();
                let (t, dt) = (
                    now.duration_since(started).as_secs_f64(),
                    now.duration_since(last_at).as_secs_f64(),
                );
                {
                    let mut res = shared.lock().unwrap_or_else(|p| p.into_inner());
                    for (i, (name, pid)) in nodes.iter().enumerate() {
                        let Some(sample) = proc_sample(*pid) else {
                            continue;
                        };
                        let cpu =
                            last[i].map_or(0.0, |l| (sample.cpu_secs - l.cpu_secs) / dt * 100.0);
                        res.processes.entry(name.clone()).or_default().push((
                            t,
                            sample.rss_bytes as f64 / 1_048_576.0,
                            cpu,
                        ));
                        last[i] = Some(sample);
                    }
                }
                if let Some(c) = &mut redis
                    && let Some(ops) = redis_commands(c).await
                {
                    if let Some(prev) = last_ops {
                        let rate = ops.saturating_sub(prev) as f64 / dt;
                        shared
                            .lock()
                            .unwrap_or_else(|p| p.into_inner())
                            .redis_ops
                            .push((t, rate));
                    }
                    last_ops = Some(ops);
                }
                last_at = now;
            }
        });
        Self { task, out }
    }

    pub fn finish(self) -> Resources {
        self.task.abort();
        std::mem::take(&mut *self.out.lock().unwrap_or_else(|p| p.into_inner()))
    }
}
