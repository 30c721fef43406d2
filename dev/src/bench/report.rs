//! The benchmark's report: a table on the terminal, JSON, SVG charts, and the Redis round
//! trips each journey step costs.

use std::{path::Path, time::Instant};

use anyhow::{Context, anyhow};
use serde::Serialize;

use super::{
    BANK, Options, Rig, Scenario,
    journey::{self, Tracked},
    stats::{self, Measured, Resources},
};
use crate::phone::page::Device;

#[derive(Serialize)]
pub struct Report {
    pub scenario: Scenario,
    pub command: String,
    pub machine: Machine,
    pub nodes: usize,
    pub measured: Measured,
    pub resources: Resources,
    /// Redis cost of each journey step, measured on one journey with nothing else running.
    pub round_trips: Option<Vec<StepCost>>,
    pub extra: serde_json::Map<String, serde_json::Value>,
    pub bars: Vec<Bar>,
}

/// What one journey step asked of Redis. A round trip is one request read off a client
/// socket (a pipeline or a Lua script is one); commands count those run inside scripts too.
#[derive(Serialize)]
pub struct StepCost {
    pub step: String,
    pub round_trips: u64,
    pub commands: u64,
}

#[derive(Serialize)]
pub struct Machine {
    pub cores: usize,
    pub cpu: String,
    pub memory_gib: f64,
}

/// One of the design's performance bars, against what this run measured.
#[derive(Serialize)]
pub struct Bar {
    pub name: String,
    pub limit: f64,
    pub measured: f64,
    pub met: bool,
}

impl Machine {
    fn this() -> Self {
        let cpuinfo = std::fs::read_to_string("/proc/cpuinfo").unwrap_or_default();
        let cpu = cpuinfo
            .lines()
            .find_map(|l| l.strip_prefix("model name"))
            .map(|l| l.trim_start_matches([' ', '\t', ':']).to_owned())
            .unwrap_or_else(|| "unknown".into());
        let meminfo = std::fs::read_to_string("/proc/meminfo").unwrap_or_default();
        let kib: f64 = meminfo
            .lines()
            .find_map(|l| l.strip_prefix("MemTotal:"))
            .and_then(|l| l.split_whitespace().next()?.parse().ok())
            .unwrap_or(0.0);
        Self {
            cores: std::thread::available_parallelism().map_or(1, |n| n.get()),
            cpu,
            memory_gib: kib / 1_048_576.0,
        }
    }
}

impl Report {
    pub fn new(
        options: &Options,
        nodes: usize,
        measured: Measured,
        resources: Resources,
        round_trips: Option<Vec<StepCost>>,
        extra: serde_json::Map<String, serde_json::Value>,
    ) -> Self {
        let mut bars = Vec::new();
        let lat = |name: &str| measured.latencies.get(name);
        // The click bars are for clicks among many live sessions, not for everyone at once.
        if options.scenario == Scenario::Live
            && let Some(c) = lat(stats::CLICK_TO_SPEECH)
        {
            bars.push(bar("click-to-speech p50 (ms)", 1.0, c.p50));
            bars.push(bar("click-to-speech p99 (ms)", 5.0, c.p99));
        }
        if options.scenario == Scenario::Webhooks
            && let Some(w) = lat(stats::WEBHOOK)
        {
            bars.push(bar("webhook answer p99 (ms)", 5.0, w.p99));
        }
        if let Some(per) = extra
            .get("rss_per_websocket_bytes")
            .and_then(|v| v.as_f64())
        {
            bars.push(bar("RSS per idle websocket (bytes)", 8192.0, per));
        }
        Self {
            scenario: options.scenario,
            command: std::env::args().collect::<Vec<_>>().join(" "),
            machine: Machine::this(),
            nodes,
            measured,
            resources,
            round_trips,
            extra,
            bars,
        }
    }

    pub fn print(&self) {
        let m = &self.measured;
        println!(
            "\n{:?} on {} node(s): {} completed, {} errors ({} cores, {})",
            self.scenario,
            self.nodes,
            m.completed,
            m.errors.len(),
            self.machine.cores,
            self.machine.cpu
        );
        println!(
            "  {:<20} {:>8} {:>9} {:>9} {:>9} {:>9} {:>9}",
            "latency (ms)", "count", "p50", "p90", "p99", "p99.9", "max"
        );
        for (name, s) in &m.latencies {
            println!(
                "  {:<20} {:>8} {:>9.3} {:>9.3} {:>9.3} {:>9.3} {:>9.3}",
                name, s.count, s.p50, s.p90, s.p99, s.p999, s.max
            );
        }
        for (process, samples) in &self.resources.processes {
            let peak_rss = samples.iter().map(|s| s.1).fold(0.0, f64::max);
            let cpu: Vec<f64> = samples.iter().map(|s| s.2).collect();
            let avg = cpu.iter().sum::<f64>() / cpu.len().max(1) as f64;
            let peak = cpu.iter().copied().fold(0.0, f64::max);
            println!(
                "  {process:<14} RSS peak {peak_rss:>7.1} MiB, CPU avg {avg:>3.0}% peak {peak:>3.0}% of one core"
            );
        }
        let ops: Vec<f64> = self.resources.redis_ops.iter().map(|s| s.1).collect();
        if !ops.is_empty() {
            println!(
                "  redis: {:.0} commands/s average, {:.0} peak",
                ops.iter().sum::<f64>() / ops.len() as f64,
                ops.iter().copied().fold(0.0, f64::max)
            );
        }
        if let Some(steps) = &self.round_trips {
            let trips: u64 = steps.iter().map(|s| s.round_trips).sum();
            let commands: u64 = steps.iter().map(|s| s.commands).sum();
            println!(
                "  redis per journey step (one journey, quiet system; {trips} round trips, {commands} commands):"
            );
            println!("    {:>5} {:>8}", "trips", "commands");
            for s in steps {
                println!("    {:>5} {:>8}  {}", s.round_trips, s.commands, s.step);
            }
        }
        for (k, v) in &self.extra {
            println!("  {k}: {v}");
        }
        // An unoptimised build measures the compiler's settings, not the server: its figures
        // are printed for what they are, and no bar is judged on them.
        let judged = !cfg!(debug_assertions);
        if !judged && !self.bars.is_empty() {
            println!("  bars: not judged in a debug build (run the benchmark with --release)");
        }
        for b in self.bars.iter().filter(|_| judged) {
            println!(
                "  bar {:<32} {:>10.3} (limit {}) {}",
                b.name,
                b.measured,
                b.limit,
                if b.met { "met" } else { "NOT met" }
            );
        }
    }

    /// `<scenario>-over-time.svg` and `<scenario>-percentiles.svg` in `dir`.
    pub fn plot(&self, dir: &Path) -> anyhow::Result<()> {
        use plotters::prelude::*;
        std::fs::create_dir_all(dir).with_context(|| format!("creating {}", dir.display()))?;
        let name = format!("{:?}", self.scenario).to_lowercase();
        let colours = [RED, BLUE, GREEN, MAGENTA, CYAN, BLACK];
        let lat = &self.measured.latencies;

        let path = dir.join(format!("{name}-over-time.svg"));
        let root = SVGBackend::new(&path, (1000, 500)).into_drawing_area();
        root.fill(&WHITE)?;
        let t_max = lat
            .values()
            .flat_map(|s| s.samples.iter().map(|p| p.0))
            .fold(1.0, f64::max);
        // Logarithmic, so sub-millisecond clicks and multi-second set-ups share one chart.
        let y_max = lat.values().map(|s| s.max).fold(1.0, f64::max) * 1.5;
        let y_min = 0.05;
        let mut chart = ChartBuilder::on(&root)
            .caption(format!("{name}: latency over time"), ("sans-serif", 20))
            .margin(10)
            .x_label_area_size(40)
            .y_label_area_size(60)
            .build_cartesian_2d(0.0..t_max, (y_min..y_max).log_scale())?;
        chart
            .configure_mesh()
            .x_desc("seconds into the run")
            .y_desc("ms (log scale)")
            .draw()?;
        // Per slice of the run: p50 as a thick line, p99 as a thin one of the same colour.
        for ((metric, s), colour) in lat.iter().zip(colours) {
            let line = |pick: fn(&(f64, u64, f64, f64)) -> f64| -> Vec<(f64, f64)> {
                s.over_time
                    .iter()
                    .map(|slice| (slice.0, pick(slice).max(y_min)))
                    .collect()
            };
            chart
                .draw_series(LineSeries::new(line(|s| s.2), colour.stroke_width(2)))?
                .label(format!("{metric} p50"))
                .legend(move |(x, y)| {
                    PathElement::new(vec![(x, y), (x + 20, y)], colour.stroke_width(2))
                });
            chart
                .draw_series(LineSeries::new(line(|s| s.3), colour.stroke_width(1)))?
                .label(format!("{metric} p99"))
                .legend(move |(x, y)| PathElement::new(vec![(x, y), (x + 20, y)], colour));
        }
        chart
            .configure_series_labels()
            .position(SeriesLabelPosition::UpperLeft)
            .background_style(WHITE)
            .border_style(BLACK)
            .draw()?;
        root.present()?;

        let path = dir.join(format!("{name}-percentiles.svg"));
        let root = SVGBackend::new(&path, (1000, 500)).into_drawing_area();
        root.fill(&WHITE)?;
        let y_max = lat.values().map(|s| s.max).fold(0.1, f64::max) * 1.1;
        // x is "nines": 1 = p90, 2 = p99, 3 = p99.9.
        let mut chart = ChartBuilder::on(&root)
            .caption(format!("{name}: latency by percentile"), ("sans-serif", 20))
            .margin(10)
            .x_label_area_size(40)
            .y_label_area_size(60)
            .build_cartesian_2d(0.0..4.0, (0.01..y_max).log_scale())?;
        chart
            .configure_mesh()
            .x_desc("percentile")
            .x_labels(5)
            .x_label_formatter(&|x: &f64| match x.round() as i64 {
                0 => "p0".into(),
                1 => "p90".into(),
                2 => "p99".into(),
                3 => "p99.9".into(),
                _ => "p99.99".into(),
            })
            .y_desc("ms (log scale)")
            .draw()?;
        for ((metric, s), colour) in lat.iter().zip(colours) {
            let values: Vec<f64> = s.samples.iter().map(|p| p.1).collect();
            let hist = stats::histogram(&values);
            let points: Vec<(f64, f64)> = (0..=80)
                .map(|i| {
                    let nines = i as f64 / 20.0;
                    let q = 1.0 - 10f64.powf(-nines);
                    (
                        nines,
                        (hist.value_at_quantile(q.min(1.0)) as f64 / 1000.0).max(0.01),
                    )
                })
                .collect();
            chart
                .draw_series(LineSeries::new(points, colour.stroke_width(2)))?
                .label(metric.as_str())
                .legend(move |(x, y)| PathElement::new(vec![(x, y), (x + 20, y)], colour));
        }
        chart
            .configure_series_labels()
            .position(SeriesLabelPosition::LowerRight)
            .background_style(WHITE)
            .border_style(BLACK)
            .draw()?;
        root.present()?;
        eprintln!("charts written to {}", dir.display());
        Ok(())
    }
}

fn bar(name: &str, limit: f64, measured: f64) -> Bar {
    Bar {
        name: name.into(),
        limit,
        measured,
        met: measured <= limit,
    }
}

/// Runs one journey alone and counts the Redis commands each step costs (the INFO read that
/// takes each count is subtracted).
pub async fn round_trips(rig: &Rig) -> anyhow::Result<Vec<StepCost>> {
    let mut redis = redis::Client::open(rig.redis_url.as_str())?
        .get_multiplexed_async_connection()
        .await?;
    let rec = stats::Recorder::new();
    let from = "+15550999999";
    let mut out = Vec::new();
    let mut last = count(&mut redis).await?;
    // Each reading is itself one round trip and one command (INFO), taken off the next step.
    let mut mark = async |step: &str,
                          out: &mut Vec<StepCost>,
                          redis: &mut redis::aio::MultiplexedConnection|
           -> anyhow::Result<()> {
        let now = count(redis).await?;
        out.push(StepCost {
            step: step.to_owned(),
            round_trips: now.reads.saturating_sub(last.reads).saturating_sub(1),
            commands: now.commands.saturating_sub(last.commands).saturating_sub(1),
        });
        last = now;
        Ok(())
    };
    let alert = journey::raise_alert(rig, from, None).await?;
    mark("bank posts the alert", &mut out, &mut redis).await?;
    let mut call = Tracked::new(rig.phone.place_call(from, BANK).await, &rec);
    call.said("last four digits").await?;
    mark(
        "call arrives: session opened, greeting",
        &mut out,
        &mut redis,
    )
    .await?;
    call.call.press("4242");
    call.said("to get a text message with a link").await?;
    mark("card digits checked, menu", &mut out, &mut redis).await?;
    call.call.press("1");
    let sms = rig
        .phone
        .next_sms(from, journey::STEP)
        .await
        .ok_or_else(|| anyhow!("no text"))?;
    call.said("on its way").await?;
    mark(
        "1 pressed: link texted from the hold loop, call parked",
        &mut out,
        &mut redis,
    )
    .await?;
    let link = crate::phone::page::link_in(&sms.body).ok_or_else(|| anyhow!("no link"))?;
    let mut page = Device::new()
        .open_page(
            &link.replacen(&rig.public, rig.page_node(from), 1),
            rig.page_node(from),
            &rig.public,
        )
        .await?;
    call.said("I see you have the charges").await?;
    call.gathering().await?;
    mark(
        "page opened on the other node (claim, page, socket); call told",
        &mut out,
        &mut redis,
    )
    .await?;
    let clicked = Instant::now();
    page.tap("approve").await?;
    call.live_update("approved").await?;
    let _ = clicked;
    call.said("approved").await?;
    call.ended().await?;
    mark(
        "approve tapped: decision, live update, hang-up, history",
        &mut out,
        &mut redis,
    )
    .await?;
    let status = journey::alert_status(rig, &alert).await?;
    anyhow::ensure!(status == "approved", "the probe's alert reads {status}");
    Ok(out)
}

async fn count(
    redis: &mut redis::aio::MultiplexedConnection,
) -> anyhow::Result<stats::RedisCounters> {
    stats::redis_counters(redis)
        .await
        .ok_or_else(|| anyhow!("cannot read Redis INFO"))
}
