//! Many numbers on one host: N wabot instances (one per WhatsApp number, each with its
//! own config and database) ingesting live events at the same time, through the
//! listener's own durability hook (`wabot replay-events --per-second R`, a hidden
//! command of `--features bench`). Reports their total resident memory, sampled from
//! /proc while they run, and the CPU they used.
//! `cargo bench --features bench --bench instances`; WABOT_BENCH_INSTANCES (default
//! 50), WABOT_BENCH_RATE (events a second per instance, default 2) and
//! WABOT_BENCH_SECONDS (default 60) size the run.

#[path = "support/replayed.rs"]
mod replayed;

use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

const WABOT: &str = env!("CARGO_BIN_EXE_wabot");

fn setting(name: &str, default: f64) -> f64 {
    std::env::var(name)
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

/// A process's memory now, in bytes: its resident set (`Rss`, counting the pages it
/// shares with the other instances, the binary's among them, in full) and its
/// proportional share (`Pss`, shared pages divided among their sharers: what the
/// instances really add up to). `None` once it is gone.
fn memory(pid: u32) -> Option<(u64, u64)> {
    let rollup = std::fs::read_to_string(format!("/proc/{pid}/smaps_rollup")).ok()?;
    let field = |name: &str| -> Option<u64> {
        let line = rollup.lines().find(|l| l.starts_with(name))?;
        Some(line.split_whitespace().nth(1)?.parse::<u64>().ok()? * 1024)
    };
    Some((field("Rss:")?, field("Pss:")?))
}

fn mib(bytes: f64) -> f64 {
    bytes / 1_048_576.0
}

fn start(dir: &Path, messages: usize, rate: f64) -> Child {
    std::fs::create_dir_all(dir).expect("instance dir");
    // The same shape as a production instance: its own app.json and database.
    std::fs::write(
        dir.join("app.json"),
        r#"{"database": {"path": "wabot.db"}, "whatsapp": {"store_all_chats": true}}"#,
    )
    .expect("app.json");
    Command::new(WABOT)
        .current_dir(dir)
        .env_remove("WABOT_CONFIG")
        .env_remove("WABOT_DB")
        .args(["--config", "app.json", "replay-events", "--messages"])
        .arg(messages.to_string())
        .arg("--per-second")
        .arg(rate.to_string())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("start wabot replay-events")
}

fn main() {
    let instances = setting("WABOT_BENCH_INSTANCES", 50.0) as usize;
    let rate = setting("WABOT_BENCH_RATE", 2.0);
    let seconds = setting("WABOT_BENCH_SECONDS", 60.0);
    let messages = (rate * seconds) as usize;
    let cores = std::thread::available_parallelism().map_or(1, |c| c.get());
    println!(
        "wabot instances: {instances} instances, each ingesting {rate} live events a second for {seconds} s, {cores} cores"
    );
    let root = tempfile::tempdir().expect("temp dir");
    let started = Instant::now();
    let children: Vec<Child> = (0..instances)
        .map(|i| start(&root.path().join(format!("number{i}")), messages, rate))
        .collect();
    let pids: Vec<u32> = children.iter().map(Child::id).collect();
    // Once a second, while all of them run: the instances' summed memory.
    let (mut rss, mut pss) = (Vec::new(), Vec::new());
    loop {
        std::thread::sleep(Duration::from_secs(1));
        let now: Vec<(u64, u64)> = pids.iter().filter_map(|&p| memory(p)).collect();
        if now.len() < pids.len() {
            break;
        }
        rss.push(now.iter().map(|m| m.0).sum::<u64>());
        pss.push(now.iter().map(|m| m.1).sum::<u64>());
    }
    let mut cpu = 0.0;
    let mut peaks = Vec::new();
    for child in children {
        let report = replayed::report(child.wait_with_output());
        assert_eq!(report["messages"].as_u64(), Some(messages as u64));
        cpu += report["cpu_seconds"].as_f64().expect("cpu_seconds");
        peaks.push(report["peak_rss_bytes"].as_u64().expect("peak_rss_bytes") as f64);
    }
    let wall = started.elapsed().as_secs_f64();
    peaks.sort_by(f64::total_cmp);
    for (what, mut totals) in [
        ("proportional set (Pss)", pss),
        ("resident sets (Rss)", rss),
    ] {
        totals.sort_unstable();
        let median = totals.get(totals.len() / 2).copied().unwrap_or(0) as f64;
        let max = totals.last().copied().unwrap_or(0) as f64;
        println!(
            "memory, all {instances} together, {what}: median {:.0} MiB, max {:.0} MiB over {} samples ({:.1} MiB per instance at the median)",
            mib(median),
            mib(max),
            totals.len(),
            mib(median) / instances as f64,
        );
    }
    println!(
        "each instance's own peak resident set (VmHWM): median {:.1} MiB, max {:.1} MiB",
        mib(peaks[peaks.len() / 2]),
        mib(peaks[peaks.len() - 1]),
    );
    println!(
        "CPU, all {instances} together: {cpu:.1} s over {wall:.0} s of wall time = {:.1}% of one core ({:.2} ms per event)",
        100.0 * cpu / wall,
        1000.0 * cpu / (instances * messages) as f64
    );
}
