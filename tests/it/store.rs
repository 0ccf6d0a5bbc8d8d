//! The SQLite store: migrations, schema versions, pragmas and file modes.

use crate::common;

use std::os::unix::fs::PermissionsExt;

use common::{Sandbox, schema_version};

fn mode(path: &std::path::Path) -> u32 {
    std::fs::metadata(path).unwrap().permissions().mode() & 0o777
}

#[test]
fn first_use_creates_a_private_migrated_database() {
    // The first use that may create the database: an import.
    let sandbox = Sandbox::stocked();
    let stats = sandbox.json(&["stats", "--json"]);
    assert_eq!(stats["messages"]["total"], 6);
    assert_eq!(sandbox.sql::<i64>("PRAGMA application_id"), 0x7761_626f);
    assert_eq!(stats["database"]["schema_version"], schema_version());
    assert_eq!(mode(&sandbox.db_path()), 0o600);
    assert_eq!(mode(&sandbox.path("store")), 0o700);
    assert_eq!(sandbox.sql::<i64>("PRAGMA user_version"), schema_version());
    assert_eq!(sandbox.sql::<String>("PRAGMA journal_mode"), "wal");
    let tables: i64 = sandbox.sql(
        "SELECT count(*) FROM sqlite_master WHERE type = 'table' AND name IN
         ('messages', 'chats', 'contacts', 'chat_sessions', 'outbox', 'sync_checkpoints',
          'sync_status', 'chat_tracking', 'processing_state', 'media_files', 'config_state',
          'listener_heartbeat', 'job_runs', 'messages_fts', 'sync_requests', 'llm_calls',
          'llm_usage_days')",
    );
    assert_eq!(tables, 17);
}

#[test]
fn reopening_changes_nothing() {
    // The first use that may create the database: an import.
    let sandbox = Sandbox::stocked();
    let schema = || -> String {
        sandbox
            .sql("SELECT group_concat(sql, ';') FROM (SELECT sql FROM sqlite_master ORDER BY name)")
    };
    let before = schema();
    sandbox.json(&["stats", "--json"]);
    assert_eq!(schema(), before);
    assert_eq!(sandbox.sql::<i64>("PRAGMA user_version"), schema_version());
}

#[test]
fn a_newer_schema_is_refused_and_left_untouched() {
    let sandbox = Sandbox::new();
    std::fs::create_dir_all(sandbox.path("store")).unwrap();
    {
        let conn = rusqlite::Connection::open(sandbox.db_path()).unwrap();
        conn.execute_batch("CREATE TABLE future (x); PRAGMA user_version = 99;")
            .unwrap();
    }
    let before = std::fs::read(sandbox.db_path()).unwrap();
    let run = sandbox.run(&["stats"]);
    assert_eq!(run.code(), 1);
    assert!(
        run.stderr()
            .contains("schema version 99 was written by a newer wabot"),
        "{}",
        run.stderr()
    );
    assert_eq!(std::fs::read(sandbox.db_path()).unwrap(), before);
    assert!(
        !sandbox.path("store/wabot.db-wal").exists(),
        "journal mode was changed"
    );
}

#[test]
fn a_file_that_is_not_a_database_gets_a_clear_error() {
    let sandbox = Sandbox::new();
    sandbox.write(
        "store/wabot.db",
        "these are not the bytes you are looking for, not at all\n",
    );
    let run = sandbox.run(&["stats"]);
    assert_eq!(run.code(), 1);
    assert!(
        run.stderr().contains("not an SQLite database"),
        "{}",
        run.stderr()
    );
}

#[test]
fn the_replay_generator_is_not_in_the_product() {
    let sandbox = Sandbox::new();
    let run = sandbox.run(&["replay-events", "--messages", "3"]);
    if cfg!(feature = "bench") {
        return;
    }
    assert_eq!(run.code(), 2, "{}", run.stderr());
    assert!(!sandbox.db_path().exists(), "nothing written");
}

#[test]
fn help_lists_every_subcommand() {
    let sandbox = Sandbox::new();
    let help = sandbox.run(&["--help"]).stdout();
    for command in [
        "pair",
        "listen",
        "process-once",
        "cleanup",
        "vitality",
        "sync",
        "stats",
        "backup",
        "vacuum",
        "import",
        "config",
    ] {
        assert!(
            help.contains(&format!("  {command}")),
            "--help lacks {command}"
        );
    }
    let run = sandbox.run(&["stats", "--bogus"]);
    assert_eq!(run.code(), 2, "usage errors exit 2");
}

#[test]
fn a_version_1_database_is_upgraded_without_losing_anything() {
    let sandbox = Sandbox::new();
    std::fs::create_dir_all(sandbox.path("store")).unwrap();
    let v1 = std::fs::read_to_string(
        std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("crates/store/migrations/0001_init.sql"),
    )
    .unwrap();
    let conn = rusqlite::Connection::open(sandbox.db_path()).unwrap();
    conn.execute_batch(&v1).unwrap();
    conn.execute_batch(
        "PRAGMA user_version = 1;
         INSERT INTO messages (chat_jid, id, sender, content, timestamp, created_at)
         VALUES ('15550001111@s.whatsapp.net', 'OLD1', '15550001111@s.whatsapp.net', 'kept', 1700000000000, 1);
         INSERT INTO sync_requests (chat_jid, action, max_messages, created_at, updated_at)
         VALUES ('15550001111@s.whatsapp.net', 'start', 50, 1, 1);",
    )
    .unwrap();
    drop(conn);
    let stats = sandbox.json(&["stats", "--json"]);
    assert_eq!(stats["database"]["schema_version"], schema_version());
    assert_eq!(stats["messages"]["total"], 1);
    assert_eq!(
        sandbox.sql::<String>("SELECT coalesce(error, 'none') FROM sync_requests"),
        "none",
        "the queued request survived and gained the error column"
    );
}

/// The benchmark's generator (built with `--features bench` only; CI runs it).
#[cfg(feature = "bench")]
#[test]
fn replayed_live_events_are_all_stored_with_their_media() {
    let sandbox = Sandbox::new();
    let replayed = sandbox.json(&["replay-events", "--messages", "300"]);
    assert_eq!(replayed["messages"], 300);
    assert!(replayed["peak_rss_bytes"].as_u64().unwrap() > 0);
    assert_eq!(sandbox.sql::<i64>("SELECT count(*) FROM messages"), 300);
    assert_eq!(
        sandbox.sql::<i64>("SELECT count(*) FROM media_files"),
        30,
        "every tenth event is an image"
    );
}
