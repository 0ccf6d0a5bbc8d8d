//! `wabot import --format whatsapp-export`: the variants phones write, from files the
//! tests write, plus the two shared samples.

use crate::common;

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

// Issue 20: what phones really write. Each test names the case it covers; every
// fixture line is written here.

fn import_bytes(sandbox: &Sandbox, name: &str, bytes: &[u8], extra: &[&str]) -> common::Run {
    let path = sandbox.path(name);
    std::fs::write(&path, bytes).unwrap();
    let mut args = vec![
        "import",
        "--format",
        "whatsapp-export",
        path.to_str().unwrap(),
        "--json",
    ];
    args.extend_from_slice(extra);
    sandbox.run(&args)
}

fn report_of(run: &common::Run) -> Value {
    assert_eq!(run.code(), 0, "{}", run.stderr());
    serde_json::from_str(&run.stdout()).unwrap()
}

/// Case 1: a text that starts with U+200E is a message like any other.
#[test]
fn case01_messages_starting_with_a_direction_mark_are_kept() {
    let sandbox = Sandbox::new();
    let text = "\u{200e}[3/27/22, 21:41:55] Zoe Park: \u{200e}Location: https://maps.example.org/?q=48.1,11.5\n\
                [3/27/22, 21:42:10] Zoe Park: \u{200e}Not sure yet\n";
    let (report, rows) = import(&sandbox, text, &["--chat", ALICE, "--timezone", "UTC"]);
    assert_eq!(report["imported"], 2, "{report}");
    assert_eq!(rows[0].2, "Location: https://maps.example.org/?q=48.1,11.5");
    assert_eq!(rows[1].2, "Not sure yet");
    let sandbox = Sandbox::new();
    let text = "27/03/2022, 21:47 - Zoe Park: \u{200e}plan.vcf (file attached)\n\
                27/03/2022, 21:48 - Zoe Park: \u{200e}No idea either\n";
    let (report, rows) = import(&sandbox, text, &["--chat", ALICE, "--timezone", "UTC"]);
    assert_eq!(report["imported"], 2, "{report}");
    assert_eq!(
        (rows[0].5.as_str(), rows[0].2.as_str()),
        ("contact", "[contact] plan.vcf")
    );
    assert_eq!(rows[1].2, "No idea either");
}

/// Case 2: `Name:` with nothing after it is an (empty) message.
#[test]
fn case02_an_empty_message_is_stored() {
    let sandbox = Sandbox::new();
    let text = "2/3/21, 10:00 - Ann Lee: look at this\n2/3/21, 10:01 - Ben Cho:\n2/3/21, 10:02 - Ann Lee: gone already\n";
    let (report, rows) = import(&sandbox, text, &["--chat", ALICE]);
    assert_eq!(report["imported"], 3, "{report}");
    assert_eq!(
        (rows[1].1.as_deref(), rows[1].2.as_str()),
        (Some("Ben Cho"), "")
    );
}

/// Case 3: layouts that used to import nothing.
#[test]
fn case03_layouts_of_many_locales() {
    let cases = [
        (
            "[21:41:35, 3/27/22] Lan Vu: xin chào\n",
            "2022-03-27T21:41:35Z",
        ),
        (
            "[27/3/2022\u{060c} 21:41:35] Omar: marhaba\n",
            "2022-03-27T21:41:35Z",
        ),
        (
            "[\u{0662}\u{0667}\u{200f}/\u{0663}\u{200f}/\u{0662}\u{0660}\u{0662}\u{0662}\u{060c} \u{0669}:\u{0664}\u{0661}:\u{0663}\u{0665}\u{a0}\u{0645}] Omar: digits\n",
            "2022-03-27T21:41:35Z",
        ),
        (
            "13.6.2018 klo 21.25.15 - Aino: moi\n",
            "2018-06-13T21:25:15Z",
        ),
        ("13. 6. 2018. 21:25:15 Marko: bok\n", "2018-06-13T21:25:15Z"),
        (
            "[3/27/2565 BE, 21:41:35] Somchai: sawasdee\n",
            "2022-03-27T21:41:35Z",
        ),
        (
            "[3/27/R4, 21:41:35] Yuki: konnichiwa\n",
            "2022-03-27T21:41:35Z",
        ),
        (
            "06/2018/13, 21:25 - Sam: odd order\n",
            "2018-06-13T21:25:00Z",
        ),
    ];
    for (text, when) in cases {
        let sandbox = Sandbox::new();
        let (report, rows) = import(&sandbox, text, &["--chat", ALICE, "--timezone", "UTC"]);
        assert_eq!(report["imported"], 1, "{text:?}: {report}");
        assert_eq!(rows[0].3, utc(when), "{text:?}");
        assert!(
            !rows[0].2.is_empty() && rows[0].1.is_some(),
            "{text:?}: {rows:?}"
        );
    }
}

/// Case 4: day periods in words move the hour and stay out of the name.
#[test]
fn case04_day_periods_in_words() {
    let sandbox = Sandbox::new();
    // Day-first: 3 and 5 January are closer than 1 March and 1 May.
    let text = "03/01/2021, 9:15 in the morning - Jane Roe: early\n\
                05/01/2021, 3:07 in the afternoon - Jane Roe: later\n\
                05/01/2021, 11:40 at night - Jane Roe: late\n";
    let (report, rows) = import(&sandbox, text, &["--chat", ALICE, "--timezone", "UTC"]);
    assert_eq!(report["imported"], 3, "{report}");
    assert_eq!(rows[1].3, utc("2021-01-05T15:07:00Z"));
    assert_eq!(rows[2].3, utc("2021-01-05T23:40:00Z"));
    assert!(
        rows.iter().all(|r| r.1.as_deref() == Some("Jane Roe")),
        "{rows:?}"
    );
}

/// Case 5: placeholders and deleted-message notices in other languages.
#[test]
fn case05_placeholders_and_deletions_in_other_languages() {
    let sandbox = Sandbox::new();
    let lines = [
        ("\u{2039}Без медиафайлов>", "media"),
        ("<Media weggelaten>", "media"),
        ("<Multimedia omitido>", "media"),
        ("\u{2039}Mídia oculta>", "media"),
        ("<Media omessi>", "media"),
        ("<Medya dahil edilmedi>", "media"),
        ("<Media tidak disertakan>", "media"),
        ("\u{200e}Bild weggelassen", "image"),
        ("\u{200e}imagen omitida", "image"),
        ("Данное сообщение удалено", "revoked"),
        ("Dit bericht is verwijderd", "revoked"),
    ];
    let text: String = lines
        .iter()
        .enumerate()
        .map(|(i, (body, _))| format!("[15/01/2024, 10:{i:02}:00] Kim: {body}\n"))
        .collect();
    let (report, rows) = import(&sandbox, &text, &["--chat", ALICE]);
    assert_eq!(report["imported"], lines.len(), "{report}");
    for ((body, kind), row) in lines.iter().zip(&rows) {
        assert_eq!(row.5, *kind, "{body:?}");
        assert!(
            !row.2.contains("omit") && !row.2.contains("Без"),
            "{body:?} kept as {:?}",
            row.2
        );
    }
}

/// Case 6: attachments written as file names, and captions after a placeholder.
#[test]
fn case06_attachments_named_by_file() {
    let sandbox = Sandbox::new();
    let text = "23/03/2022, 13:32 - Eva: IMG-20220323-WA0007.jpg (file attached)\n\
                23/03/2022, 13:33 - Eva: Budget.xlsx \u{200e}<attached: 00000051-Budget.xlsx>\n\
                23/03/2022, 13:34 - Eva: Minutes.docx \u{200e}document omitted\n\
                23/03/2022, 13:35 - Eva: <Media omitted>\n\
                the view from the top\n";
    let (report, rows) = import(&sandbox, text, &["--chat", ALICE]);
    assert_eq!(report["imported"], 4, "{report}");
    assert_eq!(
        (rows[0].5.as_str(), rows[0].2.as_str()),
        ("image", "[image] IMG-20220323-WA0007.jpg")
    );
    assert_eq!(
        (rows[1].5.as_str(), rows[1].2.as_str()),
        ("document", "[document] 00000051-Budget.xlsx")
    );
    assert_eq!(
        (rows[2].5.as_str(), rows[2].2.as_str()),
        ("document", "[document] Minutes.docx")
    );
    assert_eq!(
        (rows[3].5.as_str(), rows[3].2.as_str()),
        ("media", "the view from the top")
    );
    assert_eq!(
        report["media"]["missing"], 3,
        "a text export has no files: {report}"
    );
}

/// Case 6 (zip): a zip export's files land in the media store, linked to their messages.
#[test]
fn case06_a_zip_export_keeps_its_media() {
    use std::io::Write;
    let sandbox = Sandbox::new();
    let photo = b"\xff\xd8\xff\xe0 not really a jpeg".to_vec();
    let chat = "[3/27/22, 21:41:35] Eva: morning\n\
                \u{200e}[3/27/22, 21:41:55] Eva: \u{200e}<attached: 00000012-PHOTO-2022-03-27-21-41-55.jpg>\n\
                \u{200e}[3/27/22, 21:42:00] Eva: \u{200e}<attached: 00000013-AUDIO-2022-03-27-21-42-00.opus>\n";
    let mut zip = zip::ZipWriter::new(std::io::Cursor::new(Vec::new()));
    let stored =
        zip::write::SimpleFileOptions::default().compression_method(zip::CompressionMethod::Stored);
    zip.start_file("_chat.txt", stored).unwrap();
    zip.write_all(chat.as_bytes()).unwrap();
    zip.start_file("00000012-PHOTO-2022-03-27-21-41-55.jpg", stored)
        .unwrap();
    zip.write_all(&photo).unwrap();
    let bytes = zip.finish().unwrap().into_inner();
    let run = import_bytes(
        &sandbox,
        "WhatsApp Chat - Eva.zip",
        &bytes,
        &["--chat", ALICE],
    );
    let report = report_of(&run);
    assert_eq!(report["imported"], 3, "{report}");
    assert_eq!(report["archive_chat"], "_chat.txt");
    assert_eq!(
        (
            report["media"]["stored"].as_i64(),
            report["media"]["missing"].as_i64()
        ),
        (Some(1), Some(1))
    );
    let conn = rusqlite::Connection::open(sandbox.db_path()).unwrap();
    let (kind, state, path, sha): (String, String, String, String) = conn
        .query_row(
            "SELECT f.media_type, f.download_state, f.local_path, f.sha256 FROM media_files f
             JOIN messages m ON m.chat_jid = f.chat_jid AND m.id = f.message_id
             WHERE m.message_type = 'image'",
            [],
            |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?)),
        )
        .unwrap();
    assert_eq!((kind.as_str(), state.as_str()), ("image", "done"));
    assert!(path.starts_with("media/") && path.contains(&sha), "{path}");
    let kept = sandbox.path("store").join(&path);
    assert_eq!(std::fs::read(kept).unwrap(), photo);
}

/// Case 7: the encryption notice with the chat's name in front is not a message.
#[test]
fn case07_a_named_encryption_notice_is_skipped() {
    let sandbox = Sandbox::new();
    let text = "15.04.2016, 15:04 - Hiking Club: Messages and calls are end-to-end encrypted. No one outside of this chat can read them.\n\
                15.04.2016, 15:05 - Tom: first real message\n";
    let (report, rows) = import(&sandbox, text, &["--chat", GROUP]);
    assert_eq!(report["imported"], 1, "{report}");
    assert_eq!(report["skipped"]["system_notice"], 1);
    assert_eq!(rows[0].2, "first real message");
}

/// Case 8: the old iOS layout with a colon after the time.
#[test]
fn case08_old_ios_layout_splits_the_author() {
    let sandbox = Sandbox::new();
    let text = "7/1/16, 5:13:36 PM: Maria K.: Hello from the old days\n7/1/16, 5:14:02 PM: Maria K.: second\n";
    let (report, rows) = import(&sandbox, text, &["--chat", ALICE, "--timezone", "UTC"]);
    assert_eq!(report["layout"], "old-ios");
    assert_eq!(rows[0].1.as_deref(), Some("Maria K."));
    assert_eq!(rows[0].2, "Hello from the old days");
    assert_eq!(rows[0].3, utc("2016-07-01T17:13:36Z"));
}

/// Case 9: ids do not depend on whitespace the stored text drops.
#[test]
fn case09_reimport_with_different_trailing_whitespace_stores_nothing_twice() {
    let sandbox = Sandbox::new();
    let text = "15/01/2024, 10:00 - Ann: one\n15/01/2024, 10:01 - Ann: two\nlines\n";
    let (first, _) = import(&sandbox, text, &["--chat", ALICE]);
    assert_eq!(first["imported"], 2);
    let padded =
        "15/01/2024, 10:00 - Ann: one  \r\n15/01/2024, 10:01 - Ann: two \r\nlines\t\r\n\r\n\r\n";
    let (again, rows) = import(&sandbox, padded, &["--chat", ALICE]);
    assert_eq!(
        (again["imported"].as_i64(), again["duplicates"].as_i64()),
        (Some(0), Some(2)),
        "{again}"
    );
    assert_eq!(rows.len(), 2);
    assert_eq!(rows[1].2, "two\nlines");
}

/// Case 10: unreadable input fails with exit 65 and says why; UTF-16, Latin-1 and
/// CR-only files are read.
#[test]
fn case10_unrecognised_input_is_never_silent() {
    let sandbox = Sandbox::new();
    let run = import_bytes(&sandbox, "empty.txt", b"", &["--chat", ALICE]);
    assert_eq!(run.code(), 65, "{}", run.stderr());
    assert!(run.stderr().contains("empty"), "{}", run.stderr());
    let run = import_bytes(
        &sandbox,
        "garbage.txt",
        b"\x00\x01\x02\xff\xfe\x00\x13\x37binary\x00\x00",
        &["--chat", ALICE],
    );
    assert_eq!(run.code(), 65, "{}", run.stderr());
    assert!(run.stderr().contains("not text"), "{}", run.stderr());
    let run = import_bytes(
        &sandbox,
        "notes.txt",
        b"shopping list\nmilk\n",
        &["--chat", ALICE],
    );
    assert_eq!(run.code(), 65);
    assert!(
        run.stderr().contains("line 1: \"shopping list\""),
        "names the first lines: {}",
        run.stderr()
    );

    let mut utf16 = vec![0xff, 0xfe];
    for unit in "15/01/2024, 10:00 - Ann: hello\n".encode_utf16() {
        utf16.extend(unit.to_le_bytes());
    }
    let report = report_of(&import_bytes(
        &sandbox,
        "utf16.txt",
        &utf16,
        &["--chat", ALICE],
    ));
    assert_eq!(
        (report["imported"].as_i64(), report["encoding"].as_str()),
        (Some(1), Some("UTF-16LE"))
    );

    let report = report_of(&import_bytes(
        &sandbox,
        "latin1.txt",
        b"15/01/2024, 11:00 - Ren\xe9: caf\xe9\n",
        &["--chat", ALICE],
    ));
    assert_eq!(report["encoding"], "windows-1252");
    assert_eq!(report["encoding_guessed"], true);

    let report = report_of(&import_bytes(
        &sandbox,
        "cr.txt",
        b"15/01/2024, 12:00 - Ann: a\r15/01/2024, 12:01 - Ann: b\r",
        &["--chat", ALICE],
    ));
    assert_eq!(report["imported"], 2, "{report}");
}

/// Case 11: dates that fit both orders follow the smoother timeline, and say so.
#[test]
fn case11_ambiguous_dates_are_a_reported_guess() {
    let sandbox = Sandbox::new();
    let text = "[1/5/24, 9:03:11\u{202f}PM] Ann: one\n[1/9/24, 8:00:00\u{202f}AM] Ann: two\n[2/1/24, 7:30:00\u{202f}PM] Ann: three\n";
    let path = sandbox.write("us.txt", text);
    let args = [
        "import",
        "--format",
        "whatsapp-export",
        path.to_str().unwrap(),
        "--chat",
        ALICE,
        "--timezone",
        "UTC",
        "--json",
    ];
    let run = sandbox.run(&args);
    let report = report_of(&run);
    assert_eq!(
        (
            report["date_order"].as_str(),
            report["date_order_guessed"].as_bool()
        ),
        (Some("mdy"), Some(true))
    );
    assert!(
        run.stderr().contains("month/day/year") && run.stderr().contains("guess"),
        "{}",
        run.stderr()
    );
    assert_eq!(report["first"], "2024-01-05 21:03:11");
    let sandbox = Sandbox::new();
    let (report, rows) = import(
        &sandbox,
        text,
        &["--chat", ALICE, "--timezone", "UTC", "--date-order", "dmy"],
    );
    assert_eq!(report["date_order_guessed"], false);
    assert_eq!(
        rows[0].3,
        utc("2024-01-02T19:30:00Z"),
        "forced day-first: 2 January first"
    );
}

/// Case 12: the edited marker leaves the text and becomes edited state.
#[test]
fn case12_edited_marker_is_state_not_text() {
    let sandbox = Sandbox::new();
    let text = "15/01/2024, 10:00 - Ann: see you at 8 <This message was edited>\n15/01/2024, 10:05 - Ann: ok\n";
    let (report, rows) = import(&sandbox, text, &["--chat", ALICE]);
    assert_eq!(report["edited"], 1, "{report}");
    assert_eq!(rows[0].2, "see you at 8");
    assert_eq!(
        sandbox.sql::<i64>(
            "SELECT count(*) FROM messages WHERE edited_at IS NOT NULL AND content = 'see you at 8'"
        ),
        1
    );
    assert_eq!(
        sandbox.sql::<i64>("SELECT count(*) FROM messages WHERE edited_at IS NULL"),
        1
    );
}

#[test]
fn a_group_exports_authors_are_searchable_by_name_and_as_me() {
    let sandbox = Sandbox::new();
    let text = "[15.01.24, 10:00:00] Dana Okafor: the garden needs water\n\
                [15.01.24, 10:01:00] Sam Reyes: I watered the garden yesterday\n\
                [15.01.24, 10:02:00] Me Myself: thanks, garden looks fine\n";
    let (report, _) = import(
        &sandbox,
        text,
        &["--chat", GROUP, "--me", "Me Myself", "--timezone", "UTC"],
    );
    assert_eq!(report["imported"], 3, "{report}");
    let search = |from: &str| -> Vec<Value> {
        let hits = sandbox.json(&["search", "garden", "--from", from, "--json"]);
        hits.as_array().unwrap().clone()
    };
    let dana = search("dana okafor");
    assert_eq!(dana.len(), 1, "{dana:?}");
    assert_eq!(dana[0]["sender"]["name"], "Dana Okafor");
    assert_eq!(dana[0]["author"], "other");
    assert!(dana[0]["text"].as_str().unwrap().contains("needs water"));
    let me = search("me");
    assert_eq!(me.len(), 1, "{me:?}");
    assert_eq!(me[0]["author"], "me");
    let run = sandbox.run(&["search", "garden", "--from", "Nobody Here"]);
    assert_eq!(run.code(), 2, "an unknown author is still an error");
}

#[test]
fn mistakes_do_not_pass_silently() {
    let sandbox = Sandbox::new();
    let text = "[15.01.24, 10:00:00] Max Mustermann: hallo\n\
                [15.01.24, 10:01:00] Alice: hi Max\n";
    let file = sandbox.write("chat.txt", text);
    let file = file.to_str().unwrap();
    let args = |extra: &[&str]| {
        let mut a = vec![
            "import",
            "--format",
            "whatsapp-export",
            file,
            "--chat",
            ALICE,
        ];
        a.extend_from_slice(extra);
        sandbox.run(&a)
    };
    // A typo in --me marks nothing outbound: refused, with the close author named.
    let typo = args(&["--me", "Max Musterman", "--timezone", "UTC"]);
    assert_eq!(typo.code(), 2, "{}", typo.stderr());
    assert!(
        typo.stderr().contains("did you mean \"Max Mustermann\""),
        "{}",
        typo.stderr()
    );
    assert_eq!(
        sandbox.sql::<i64>("SELECT count(*) FROM messages"),
        0,
        "nothing stored"
    );
    assert_eq!(
        args(&["--me", "max mustermann", "--timezone", "UTC"]).code(),
        0
    );
    // The same file again in the same zone stores nothing new; in another zone it would
    // double the chat at shifted times.
    assert_eq!(
        args(&["--me", "Max Mustermann", "--timezone", "UTC"]).code(),
        0
    );
    let shifted = args(&["--me", "Max Mustermann", "--timezone", "Asia/Tokyo"]);
    assert_eq!(shifted.code(), 2, "{}", shifted.stderr());
    assert!(
        shifted.stderr().contains("read in UTC"),
        "{}",
        shifted.stderr()
    );
    assert_eq!(sandbox.sql::<i64>("SELECT count(*) FROM messages"), 2);
    let forced = args(&[
        "--me",
        "Max Mustermann",
        "--timezone",
        "Asia/Tokyo",
        "--reimport",
    ]);
    assert_eq!(forced.code(), 0, "{}", forced.stderr());
    assert_eq!(
        sandbox.sql::<i64>("SELECT count(*) FROM messages"),
        4,
        "asked for"
    );
}

#[test]
fn ios_events_under_a_name_are_notices_and_missed_calls_are_calls() {
    let sandbox = Sandbox::new();
    let text = "[02.11.20, 21:47:19] Mackay: \u{200e}Mackay created this group\n\
                [02.11.20, 21:47:20] Neha: \u{200e}Neha added you\n\
                [02.11.20, 21:47:21] Mackay: \u{200e}Mackay added ~ Isabelle\n\
                [02.11.20, 21:47:22] Me: \u{200e}You created group \u{201c}Trip\u{201d}\n\
                [02.11.20, 21:47:23] Shop: \u{200e}This business uses a secure service from Meta to manage this chat.\n\
                [02.11.20, 21:47:24] Anna: \u{200e}Deine Sicherheitsnummer für Anna hat sich geändert.\n\
                [02.11.20, 21:47:25] Neha: \u{200e}Missed voice call\n\
                [02.11.20, 21:48:00] Neha: \u{200e}I added the photos to the album\n";
    let (report, rows) = import(&sandbox, text, &["--chat", GROUP, "--timezone", "UTC"]);
    assert_eq!(report["imported"], 2, "{report}");
    assert_eq!(
        (rows[0].5.as_str(), rows[0].2.as_str()),
        ("call", "[voice call, missed]")
    );
    assert_eq!(
        rows[1].2, "I added the photos to the album",
        "a typed message with the mark stays text"
    );
}

#[test]
fn an_ambiguous_date_is_settled_by_the_files_own_attachment_names() {
    let sandbox = Sandbox::new();
    let text = "[02/11/2020, 9:47:19 pm] Alice: \u{200e}<attached: 00000012-PHOTO-2020-11-02-21-47-19.jpg>\n\
                [02/11/2020, 9:48:00 pm] Alice: nice\n";
    let (report, rows) = import(&sandbox, text, &["--chat", ALICE, "--timezone", "UTC"]);
    assert_eq!(report["date_order"], "dmy", "{report}");
    assert_eq!(report["date_order_guessed"], false);
    assert_eq!(rows[1].3, utc("2020-11-02T21:48:00Z"));
}

#[test]
fn localized_media_placeholders_are_media() {
    let sandbox = Sandbox::new();
    let text = "[2020/11/02 21:47:19] Alice: <メディアなし>\n\
                [2020/11/02 21:47:20] Alice: .jpg (ファイル添付)\n\
                [2020/11/02 21:47:21] Alice: 3.jpg <\u{200e}bijgevoegd>\n";
    let (report, rows) = import(&sandbox, text, &["--chat", ALICE, "--timezone", "UTC"]);
    assert_eq!(report["imported"], 3, "{report}");
    let kinds: Vec<&str> = rows.iter().map(|r| r.5.as_str()).collect();
    assert_eq!(kinds, ["media", "image", "image"], "{rows:?}");
}
