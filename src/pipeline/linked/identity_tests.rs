//! Test code only (declared `#[cfg(test)]` in pipeline/linked/mod.rs).
//! Issue 30 on the linked device: one person is one chat, nobody rewrites what someone
//! else wrote. The library's real values go through the listener's functions into a
//! real database.

use wabot_whatsapp::testing::whatsapp_rust;
use whatsapp_rust::prelude::*;

use super::tests::{GROUP, OWN, db, info};
use crate::db::{ClaimRequest, Db};
use crate::pipeline::ingest;
use crate::policy::Policy;

const OWN_LID: &str = "555000111222333@lid";
const DANA: &str = "15550003333@s.whatsapp.net";

/// A group message from Dana mentioning `mentioned`, as a migrated group sends it.
fn mentioning(db: &mut Db, policy: &Policy, id: &str, mentioned: &str) {
    let user = mentioned.split('@').next().unwrap_or_default();
    let message = wa::Message {
        extended_text_message: MessageField::some(wa::message::ExtendedTextMessage {
            text: Some(format!("@{user} what do you think?")),
            context_info: MessageField::some(wa::ContextInfo {
                mentioned_jid: vec![mentioned.to_string()],
                ..Default::default()
            }),
            ..Default::default()
        }),
        ..Default::default()
    };
    let item = crate::whatsapp::convert::receive(&info(GROUP, DANA, id), &message);
    ingest::store(db, policy, vec![item]).unwrap();
}

fn claimed_mentions(db: &mut Db) -> Vec<String> {
    let monitored = [GROUP.to_string()];
    let claimed = db
        .claim_turns(&ClaimRequest {
            monitored: &monitored,
            self_jid: Some(OWN),
            batch: 10,
            now: crate::clock::now_ms(),
            lease_until: crate::clock::now_ms() + 60_000,
            token: "t",
            preview: false,
        })
        .unwrap();
    claimed
        .turns
        .into_iter()
        .flat_map(|t| t.messages)
        .flat_map(|m| m.mentions)
        .collect()
}

#[test]
fn mentions_of_the_bots_lid_in_migrated_groups_reach_the_bot() {
    let (_dir, mut db) = db();
    let policy = Policy::for_tests(&[GROUP], Some(OWN), false);
    // Stored before the listener learnt its own LID: resolved when the turn is judged.
    mentioning(&mut db, &policy, "EARLY", OWN_LID);
    db.record_lid(OWN_LID, OWN).unwrap();
    assert_eq!(claimed_mentions(&mut db), [OWN]);
    // Stored after: resolved as it is stored.
    mentioning(&mut db, &policy, "LATER", OWN_LID);
    let row = db.stored(GROUP, "LATER").unwrap().unwrap();
    assert_eq!(row.mentions.as_deref(), Some(r#"["15550009999@s.whatsapp.net"]"#));
    assert!(policy.mentions_bot("@555000111222333 what do you think?", &[OWN.to_string()]));
}
