//! The answer rule as a table of cases: arrival status and answer decision.

use super::*;
use crate::message::Origin;

const ALICE: &str = "15550001111@s.whatsapp.net";
const FAMILY: &str = "120363041234567890@g.us";
const OPEN_GROUP: &str = "120363000000000002@g.us";
const STRANGER: &str = "15550007777@s.whatsapp.net";
const OWN: &str = "15550009999@s.whatsapp.net";

fn entity(kind: EntityKind, jid: &str, require_mention: bool) -> Entity {
    Entity {
        kind,
        jid: jid.into(),
        name: jid.into(),
        prompt: "p".into(),
        persona: String::new(),
        debug: false,
        require_mention,
    }
}

fn policy(store_all: bool) -> Policy {
    let entities = vec![
        entity(EntityKind::User, ALICE, false),
        entity(EntityKind::Group, FAMILY, true),
        entity(EntityKind::Group, OPEN_GROUP, false),
        entity(EntityKind::User, OWN, false),
    ];
    Policy {
        monitored: entities.iter().map(|e| e.jid.clone()).collect(),
        entities,
        self_jid: Some(OWN.into()),
        bot_name: Some("wabot".into()),
        store_all,
        download_media: false,
        store_statuses: false,
        keep_deleted: true,
        history: false,
    }
}

fn message(chat: &str, from_me: bool, kind: &str) -> NewMessage {
    NewMessage {
        sender: if from_me { OWN } else { chat }.into(),
        is_from_me: from_me,
        message_type: kind.parse().expect("a kind in the table"),
        ..NewMessage::text(Origin::Import, chat, "m", 1_700_000_000_000, "hello")
    }
}

/// chat, from me, message type, store_all, history, expected status.
type ArrivalCase = (
    &'static str,
    bool,
    &'static str,
    bool,
    bool,
    Option<MessageStatus>,
);
/// chat, text, mentions, expected decision.
type AnswerCase<'a> = (
    &'static str,
    &'static str,
    &'a [String],
    Result<(), SkipReason>,
);

#[test]
fn arrival_table() {
    use MessageStatus::{History, Pending};
    #[rustfmt::skip]
    let cases: [ArrivalCase; 12] = [
        // chat,     from me, type,       store_all, history, expected
        (ALICE,      false,   "text",     false,     false,   Some(Pending)),
        (ALICE,      true,    "text",     false,     false,   Some(History)),  // the owner typing in a contact's chat
        (ALICE,      false,   "reaction", false,     false,   Some(History)),  // reactions are never turns
        (ALICE,      false,   "image",    false,     false,   Some(Pending)),
        (ALICE,      false,   "text",     false,     true,    Some(History)),  // history sync and plain imports
        (OWN,        true,    "text",     false,     false,   Some(Pending)),  // the self chat asks
        (OWN,        true,    "reaction", false,     false,   Some(History)),
        (FAMILY,     false,   "text",     false,     false,   Some(Pending)),  // mentions are decided at answer time
        (STRANGER,   false,   "text",     false,     false,   None),
        (STRANGER,   false,   "text",     true,      false,   Some(History)),
        (STRANGER,   true,    "text",     true,      false,   Some(History)),
        (STRANGER,   false,   "text",     true,      true,    Some(History)),
    ];
    for (chat, from_me, kind, store_all, history, expected) in cases {
        let mut p = policy(store_all);
        p.history = history;
        assert_eq!(
            p.on_arrival(&message(chat, from_me, kind)),
            expected,
            "{chat} from_me={from_me} {kind} store_all={store_all} history={history}"
        );
    }
}

#[test]
fn answer_table() {
    let own_mention = vec![OWN.to_string()];
    let other_mention = vec![STRANGER.to_string()];
    #[rustfmt::skip]
    let cases: [AnswerCase; 9] = [
        (ALICE,      "hi",                    &[],             Ok(())),
        (STRANGER,   "hi",                    &[],             Err(SkipReason::NotMonitored)),
        (FAMILY,     "dinner at 8?",          &[],             Err(SkipReason::NotMentioned)),
        (FAMILY,     "dinner?",               &other_mention,  Err(SkipReason::NotMentioned)),
        (FAMILY,     "hi",                    &own_mention,    Ok(())),
        (FAMILY,     "hey @15550009999 help", &[],             Ok(())),
        (FAMILY,     "Wabot, plan dinner",    &[],             Ok(())),
        (FAMILY,     "wabotics is a word",    &[],             Err(SkipReason::NotMentioned)),
        (OPEN_GROUP, "anything",              &[],             Ok(())),
    ];
    let p = policy(false);
    for (chat, text, mentions, expected) in cases {
        let got = p
            .answers(chat, std::iter::once((text, mentions)))
            .map(|_| ());
        assert_eq!(got, expected, "{chat}: {text:?}");
    }
}

#[test]
fn imports_store_everything_and_as_new_follows_the_arrival_rule() {
    let p = policy(false);
    #[rustfmt::skip]
    let cases = [
        (ALICE,    false, "text",     true,  MessageStatus::Pending),
        (ALICE,    false, "text",     false, MessageStatus::History),
        (ALICE,    false, "reaction", true,  MessageStatus::History),
        (ALICE,    true,  "text",     true,  MessageStatus::History),
        (OWN,      true,  "text",     true,  MessageStatus::Pending),
        (STRANGER, false, "text",     true,  MessageStatus::History),
    ];
    for (chat, from_me, kind, as_new, expected) in cases {
        assert_eq!(
            p.on_import(&message(chat, from_me, kind), as_new),
            expected,
            "{chat} from_me={from_me} {kind} as_new={as_new}"
        );
    }
}

#[test]
fn skip_reasons_have_distinct_stored_spellings() {
    use SkipReason::*;
    let all = [
        OwnMessage,
        NotMonitored,
        NotMentioned,
        NoText,
        ArrivedWhileOff,
    ];
    let spellings: HashSet<&str> = all.iter().map(|r| r.as_str()).collect();
    assert_eq!(spellings.len(), all.len());
}
