//! What the benches of answering and of many instances share: the JSON report of a
//! finished `wabot replay-events`.

use std::process::Output;

/// The report of a `replay-events` run, which must have succeeded.
pub fn report(out: std::io::Result<Output>) -> serde_json::Value {
    let out = out.expect("run wabot replay-events");
    assert!(
        out.status.success(),
        "wabot replay-events failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    serde_json::from_slice(&out.stdout).expect("replay-events prints JSON")
}
