//! Reply latency when the listener answers on arrival (`polling.on_arrival`): from a
//! question's commit by the listener's durability hook to its reply in the outbox, with
//! a local LLM stand-in that answers at once. `wabot replay-events --turns N` (a hidden
//! command of `--features bench`) delivers the questions through the listener's own
//! hook and trigger; the `process-once` children it starts do the answering, no cron.
//! `cargo bench --features bench --bench latency [-- --check]`; WABOT_BENCH_TURNS sets
//! the number of turns (default 100).

#[path = "../tests/it/common/changes.rs"]
#[allow(dead_code)]
mod changes;
#[path = "../tests/it/common/llm.rs"]
#[allow(dead_code)]
mod llm;
#[path = "support/replayed.rs"]
mod replayed;

use std::process::Command;
use std::time::Duration;

const WABOT: &str = env!("CARGO_BIN_EXE_wabot");
const CONTACTS: usize = 10;
/// The budget for the 95th percentile.
const P95_BUDGET_MS: f64 = 3000.0;

fn main() {
    let check = std::env::args().any(|a| a == "--check");
    let turns: usize = std::env::var("WABOT_BENCH_TURNS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(100);
    let stand_in = llm::StandIn::start(Duration::ZERO);
    let dir = tempfile::tempdir().expect("temp dir");
    let entities: Vec<serde_json::Value> = (0..CONTACTS)
        .map(|i| serde_json::json!({"type": "user", "phone": format!("1555400{i:04}"), "name": format!("c{i}")}))
        .collect();
    let config = serde_json::json!({
        "monitored_entities": entities,
        "perplexity": {"base_url": stand_in.url},
    });
    let app = dir.path().join("app.json");
    std::fs::write(&app, config.to_string()).expect("write app.json");
    println!(
        "wabot latency: {turns} question-to-reply turns over {CONTACTS} contacts, answered on arrival, {} cores",
        std::thread::available_parallelism().map_or(1, |c| c.get())
    );
    let result = replayed::report(
        Command::new(WABOT)
            .current_dir(dir.path())
            .env_remove("WABOT_CONFIG")
            .env_remove("WABOT_DB")
            .env("PERPLEXITY_API_KEY", llm::KEY)
            .arg("--config")
            .arg(&app)
            .args(["replay-events", "--turns", &turns.to_string()])
            .output(),
    );
    let ms = |key: &str| result[key].as_f64().unwrap_or(f64::MAX);
    let mut all: Vec<f64> = result["latencies_ms"]
        .as_array()
        .expect("latencies")
        .iter()
        .filter_map(serde_json::Value::as_f64)
        .collect();
    all.sort_by(f64::total_cmp);
    let answered = stand_in.requests().len();
    let p95 = ms("p95_ms");
    let ok = p95 <= P95_BUDGET_MS && answered == turns;
    println!(
        "commit to reply in the outbox: p50 {:.0} ms, p95 {p95:.0} ms (min {:.0}, max {:.0}; {answered} LLM calls) (budget: p95 ≤ {P95_BUDGET_MS:.0} ms) {}",
        ms("p50_ms"),
        all.first().copied().unwrap_or(0.0),
        all.last().copied().unwrap_or(0.0),
        if ok { "ok" } else { "MISSED" }
    );
    println!(
        "reference: waiting for the next tick of cron (every 60 s) or of wabot-process.timer (every 15 s), arrivals uniform over the tick: p50 30 s / 7.5 s, p95 57 s / 14.3 s, before the LLM is called"
    );
    if !ok && check {
        std::process::exit(1);
    }
}
