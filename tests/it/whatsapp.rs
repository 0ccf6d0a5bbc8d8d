//! The WhatsApp commands at their boundary: no server is reachable from here, so these
//! check that every failure is clear, bounded and coded for systemd and scripts.

use crate::common;

use std::fs::File;
use std::process::Command;
use std::time::{Duration, Instant};

use common::{Run, Sandbox, changes};

#[test]
fn listen_without_a_linked_device_exits_69_and_says_what_to_do() {
    let sandbox = Sandbox::new();
    let run = sandbox.run(&["listen"]);
    assert_eq!(run.code(), 69, "{}", run.stderr());
    assert!(
        run.stderr().contains("run `wabot pair` first"),
        "{}",
        run.stderr()
    );
}

#[test]
fn a_second_connection_owner_is_refused() {
    let sandbox = Sandbox::new();
    std::fs::create_dir_all(sandbox.path("store")).unwrap();
    let lock = File::create(sandbox.path("store/wabot.db.lock")).unwrap();
    lock.try_lock().unwrap();
    for args in [&["listen"][..], &["pair"][..]] {
        let run = sandbox.run(args);
        assert_eq!(run.code(), 75, "{args:?}: {}", run.stderr());
        assert!(
            run.stderr().contains("holds the WhatsApp connection"),
            "{}",
            run.stderr()
        );
    }
}

/// In a network namespace of its own (no interfaces), so nothing leaves this machine.
#[test]
fn pair_without_network_gives_up_in_bounded_time_with_exit_75() {
    let sandbox = Sandbox::new();
    let mut cmd = sandbox.offline(&["pair", "--timeout", "5"]);
    let started = Instant::now();
    let run = Run(cmd
        .output()
        .expect("unshare (util-linux) runs the test offline"));
    let took = started.elapsed();
    assert_eq!(run.code(), 75, "{}", run.stderr());
    assert!(
        run.stderr().contains("could not reach WhatsApp"),
        "{}",
        run.stderr()
    );
    assert!(took < Duration::from_secs(60), "took {took:?}");
    use std::os::unix::fs::PermissionsExt;
    let mode = std::fs::metadata(sandbox.path("store/device.db"))
        .unwrap()
        .permissions()
        .mode();
    assert_eq!(mode & 0o777, 0o600, "the device store holds keys");
}

#[test]
fn pair_checks_the_phone_number_before_connecting() {
    let sandbox = Sandbox::new();
    let run = sandbox.run(&["pair", "--phone", "call me maybe"]);
    assert_eq!(run.code(), 2, "{}", run.stderr());
    assert!(run.stderr().contains("--phone"), "{}", run.stderr());
}

/// Offline, with a device store that claims to be linked: the listener keeps retrying,
/// writes its heartbeat, and stops within the grace period on SIGTERM with exit 0.
#[test]
fn listen_heartbeats_while_offline_and_stops_cleanly_on_sigterm() {
    let sandbox = Sandbox::new();
    let offline = |args: &[&str]| sandbox.offline(args);
    // An offline pair creates the library's device store; mark it as linked.
    assert_eq!(
        offline(&["pair", "--timeout", "1"])
            .output()
            .unwrap()
            .status
            .code(),
        Some(75)
    );
    let device = rusqlite::Connection::open(sandbox.path("store/device.db")).unwrap();
    device
        .execute(
            "UPDATE device SET pn = '15550009999:7@s.whatsapp.net' WHERE id = 1",
            [],
        )
        .unwrap();
    drop(device);

    let mut listener = offline(&["listen"]).spawn().unwrap();
    let beat = || -> Option<(bool, String)> {
        let conn = rusqlite::Connection::open(sandbox.db_path()).ok()?;
        conn.query_row("SELECT connected, state FROM listener_heartbeat", [], |r| {
            Ok((r.get(0)?, r.get(1)?))
        })
        .ok()
    };
    changes::until("the first heartbeat", &[&sandbox.changes()], || {
        beat().is_some()
    });
    assert_eq!(
        beat(),
        Some((false, "running".into())),
        "not connected, but alive"
    );
    let stats = sandbox.json(&["stats", "--json"]);
    assert_eq!(stats["listener"]["alive"], true);
    assert_eq!(stats["listener"]["connected"], false);

    let term = Command::new("kill")
        .args(["-TERM", &listener.id().to_string()])
        .status()
        .unwrap();
    assert!(term.success());
    let exit = changes::Exit::of(&listener);
    let mut status = None;
    changes::within(
        Duration::from_secs(6),
        "the stop within 6 s of SIGTERM",
        &[&exit],
        || {
            status = listener.try_wait().unwrap();
            status.is_some()
        },
    );
    let status = status.unwrap();
    assert_eq!(status.code(), Some(0));
    assert_eq!(beat().map(|b| b.1).as_deref(), Some("stopped"));
}

/// A device store that claims to be linked, made by an offline pair.
fn linked(sandbox: &Sandbox) {
    let run = sandbox
        .offline(&["pair", "--timeout", "1"])
        .output()
        .unwrap();
    assert_eq!(run.status.code(), Some(75));
    rusqlite::Connection::open(sandbox.path("store/device.db"))
        .unwrap()
        .execute(
            "UPDATE device SET pn = '15550009999:7@s.whatsapp.net' WHERE id = 1",
            [],
        )
        .unwrap();
}

#[test]
fn a_standing_ban_keeps_every_command_that_connects_from_reconnecting_and_doctor_says_until_when() {
    let sandbox = Sandbox::stocked();
    let doctor = sandbox.run(&["doctor", "--json"]);
    assert_eq!(doctor.code(), 69, "{}", doctor.stderr());
    let findings: serde_json::Value = serde_json::from_str(&doctor.stdout()).unwrap();
    let device = &findings[0];
    assert_eq!(
        (device["check"].as_str(), device["ok"].as_bool()),
        (Some("device linked"), Some(false))
    );
    assert!(device["next"].as_str().unwrap().contains("wabot pair"));

    linked(&sandbox);
    let until = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_millis() as i64
        + 3_600_000;
    sandbox.exec(&format!(
        "INSERT INTO account_state (id, banned_until, ban_reason, updated_at)
         VALUES (1, {until}, '101: blocked by users', 1)"
    ));
    let started = Instant::now();
    let listen = Run(sandbox.offline(&["listen"]).output().unwrap());
    assert_eq!(listen.code(), 69, "{}", listen.stderr());
    assert!(
        listen.stderr().contains("temporarily banned"),
        "{}",
        listen.stderr()
    );
    assert!(
        started.elapsed() < Duration::from_secs(5),
        "refused before connecting"
    );
    assert_eq!(
        sandbox.sql::<i64>("SELECT count(*) FROM listener_heartbeat"),
        0,
        "it never ran"
    );
    // Every command that connects by itself refuses the same way (issue 30).
    let started = Instant::now();
    let sync = Run(sandbox
        .offline(&["sync", "--chat", "Alice"])
        .output()
        .unwrap());
    assert_eq!(sync.code(), 69, "{}", sync.stderr());
    assert!(
        sync.stderr().contains("temporarily banned"),
        "{}",
        sync.stderr()
    );
    assert!(
        started.elapsed() < Duration::from_secs(5),
        "refused before connecting"
    );
    let doctor = sandbox.json_any(&["doctor", "--json"]);
    let standing = doctor
        .as_array()
        .unwrap()
        .iter()
        .find(|f| f["check"] == "standing")
        .unwrap()
        .clone();
    assert_eq!(standing["ok"], false);
    assert!(
        standing["next"].as_str().unwrap().starts_with("wait until"),
        "{standing}"
    );
}
