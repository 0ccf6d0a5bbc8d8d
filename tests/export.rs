//! `wabot import --format whatsapp-export`: the variants phones write, from files the
//! tests write, plus the two shared samples.

mod common;

use common::{Sandbox, fixtures};
use serde_json::Value;

const ALICE: &str = "15550001111@s.whatsapp.net";
const GROUP: &str = "120363041234567890@g.us";

/// (sender, push_name, content, timestamp ms, is_from_me, message_type) in order.
type Row = (String, Option<String>, String, i64, bool, String);

fn import(sandbox: &Sandbox, text: &str, extra: &[&str]) -> (Value, Vec<Row>) {
    let file = sandbox.write("chat.txt", text);
    let mut args = vec![
        "import",
        "--format",
        "whatsapp-export",
        file.to_str().unwrap(),
        "--json",
    ];
    args.extend_from_slice(extra);
    let report = sandbox.json(&args);
    let conn = rusqlite::Connection::open(sandbox.db_path()).unwrap();
    let mut stmt = conn
        .prepare("SELECT sender, push_name, content, timestamp, is_from_me, message_type FROM messages ORDER BY timestamp, pk")
        .unwrap();
    let rows = stmt
        .query_map([], |r| {
            Ok((
                r.get(0)?,
                r.get(1)?,
                r.get(2)?,
                r.get(3)?,
                r.get(4)?,
                r.get(5)?,
            ))
        })
        .unwrap()
        .collect::<Result<_, _>>()
        .unwrap();
    (report, rows)
}

fn utc(text: &str) -> i64 {
    chrono::DateTime::parse_from_rfc3339(text)
        .unwrap()
        .timestamp_millis()
}

#[test]
fn the_android_sample() {
    let sandbox = Sandbox::new();
    let text = std::fs::read_to_string(fixtures().join("export-android.txt")).unwrap();
    let (report, rows) = import(&sandbox, &text, &["--chat", GROUP, "--timezone", "UTC"]);
    assert_eq!(report["imported"], 6, "{report}");
    assert_eq!(rows[0].1.as_deref(), Some("Alice"));
    assert_eq!(rows[0].3, utc("2024-01-15T14:30:00Z"));
    assert_eq!(
        rows[1].2, "And how does it compare\nto Flink?\n\nThanks in advance",
        "multi-line"
    );
    assert_eq!(
        (rows[2].5.as_str(), rows[2].2.as_str()),
        ("media", "[media]")
    );
    assert_eq!((rows[3].5.as_str(), rows[3].2.as_str()), ("revoked", ""));
    assert_eq!(
        rows[4].0, "15550003333@s.whatsapp.net",
        "phone senders become JIDs"
    );
    assert_eq!(rows[4].2, "Check https://example.com/a?b=c - ok");
    // The encryption notice and the subject change are system lines.
    assert!(
        rows.iter()
            .all(|r| !r.2.contains("end-to-end") && !r.2.contains("subject"))
    );
}

#[test]
fn the_ios_sample_with_its_invisible_marks() {
    let sandbox = Sandbox::new();
    let text = std::fs::read_to_string(fixtures().join("export-ios.txt")).unwrap();
    let (report, rows) = import(
        &sandbox,
        &text,
        &["--chat", GROUP, "--timezone", "Europe/Berlin"],
    );
    assert_eq!(report["imported"], 5, "{report}");
    assert_eq!(rows[0].3, utc("2024-01-15T13:30:05Z"), "read in --timezone");
    assert_eq!(rows[1].2, "Second line follows\nand here it is");
    assert_eq!(
        (rows[2].5.as_str(), rows[2].2.as_str()),
        ("image", "[image]")
    );
    assert_eq!(rows[3].2, "Sounds good: see you [at] 8");
    assert_eq!(rows[4].0, "15550003333@s.whatsapp.net");
    assert!(rows.iter().all(|r| !r.2.contains("encrypted")));
}

#[test]
fn twelve_hour_month_first_with_narrow_spaces_and_a_bom() {
    let sandbox = Sandbox::new();
    let text = "\u{feff}1/15/24, 9:03\u{202f}PM - Alice: evening\n1/15/24, 12:05\u{202f}AM - Alice: just after midnight\n1/16/24, 12:30 PM - Me Myself: lunch\n";
    let (report, rows) = import(
        &sandbox,
        text,
        &["--chat", ALICE, "--me", "me myself", "--timezone", "UTC"],
    );
    assert_eq!(report["imported"], 3);
    assert_eq!(rows[0].3, utc("2024-01-15T00:05:00Z"));
    assert_eq!(
        rows[1].3,
        utc("2024-01-15T21:03:00Z"),
        "month-first, because 15 cannot be a month"
    );
    assert_eq!(rows[2].3, utc("2024-01-16T12:30:00Z"));
    assert!(rows[2].4, "--me marks outbound");
    assert_eq!(
        rows[2].0, "15550009999@s.whatsapp.net",
        "sent by the configured account"
    );
    assert_eq!(rows[0].0, ALICE, "a 1:1 partner is the chat");
}

#[test]
fn dots_dashes_two_digit_years_and_forced_order() {
    let sandbox = Sandbox::new();
    let text = "15.01.24, 14:30 - Alice: dots\n2024-01-16, 08:00 - Alice: year first\n";
    let (_, rows) = import(&sandbox, text, &["--chat", ALICE, "--timezone", "UTC"]);
    assert_eq!(rows[0].3, utc("2024-01-15T14:30:00Z"));
    let sandbox = Sandbox::new();
    // Ambiguous dates: day-first unless told otherwise.
    let text = "03/04/2024, 10:00 - Alice: which month?\n";
    let (_, rows) = import(&sandbox, text, &["--chat", ALICE, "--timezone", "UTC"]);
    assert_eq!(rows[0].3, utc("2024-04-03T10:00:00Z"));
    let sandbox = Sandbox::new();
    let (_, rows) = import(
        &sandbox,
        text,
        &["--chat", ALICE, "--timezone", "UTC", "--date-order", "mdy"],
    );
    assert_eq!(rows[0].3, utc("2024-03-04T10:00:00Z"));
    let sandbox = Sandbox::new();
    let (_, rows) = import(
        &sandbox,
        "2024-01-16 08:00 - Alice: iso\n",
        &["--chat", ALICE, "--timezone", "UTC"],
    );
    assert_eq!(rows[0].3, utc("2024-01-16T08:00:00Z"));
}

#[test]
fn attachments_deleted_messages_and_repeated_lines() {
    let sandbox = Sandbox::new();
    let text = "[15/01/2024, 10:00:00] Alice: \u{200e}<attached: 00000012-PHOTO-2024-01-15.jpg>\n\
                [15/01/2024, 10:00:01] Alice: \u{200e}<attached: notes.pdf>\n\
                [15/01/2024, 10:00:02] Alice: ok\n\
                [15/01/2024, 10:00:02] Alice: ok\n\
                [15/01/2024, 10:01:00] Alice: \u{200e}You deleted this message.\n\
                [15/01/2024, 10:02:00] Alice: \u{200e}video omitted\n";
    let (report, rows) = import(&sandbox, text, &["--chat", ALICE]);
    assert_eq!(
        report["imported"], 6,
        "two identical lines are two messages: {report}"
    );
    assert_eq!(
        (rows[0].5.as_str(), rows[0].2.as_str()),
        ("image", "[image] 00000012-PHOTO-2024-01-15.jpg")
    );
    assert_eq!(rows[1].5, "document");
    assert_eq!(rows[4].5, "revoked");
    assert_eq!(rows[5].5, "video");
    let again = sandbox.json(&[
        "import",
        "--format",
        "whatsapp-export",
        "chat.txt",
        "--chat",
        ALICE,
        "--json",
    ]);
    assert_eq!(again["imported"], 0, "ids derive from content: {again}");
    assert_eq!(again["duplicates"], 6);
}

#[test]
fn impossible_dates_are_rejected_by_line_and_the_rest_lands() {
    let sandbox = Sandbox::new();
    let text = "31/02/2024, 10:00 - Alice: no such day\n15/01/2024, 25:00 - Alice: no such hour\n15/01/2024, 10:00 - Alice: fine\n";
    let (report, rows) = import(&sandbox, text, &["--chat", ALICE]);
    assert_eq!(report["imported"], 1);
    assert_eq!(report["errors"][0]["line"], 1);
    assert!(
        report["errors"][0]["reason"]
            .as_str()
            .unwrap()
            .contains("not a date"),
        "{report}"
    );
    assert_eq!(report["errors"][1]["line"], 2);
    assert_eq!(rows.len(), 1);
    let run = sandbox.run(&["import", "--format", "whatsapp-export", "chat.txt"]);
    assert_eq!(run.code(), 2, "--chat is required");
    let run = sandbox.run(&[
        "import",
        "--format",
        "whatsapp-export",
        "chat.txt",
        "--chat",
        ALICE,
        "--timezone",
        "Mars/Base",
    ]);
    assert_eq!(run.code(), 2);
    assert_eq!(
        sandbox.sql::<i64>("SELECT count(*) FROM messages WHERE status = 'pending'"),
        0,
        "history only"
    );
}
