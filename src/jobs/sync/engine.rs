//! One chat's sync, batch by batch, against any [`HistorySource`]: the listener's live
//! client, a connection `sync` opened itself, or a test's scripted phone. The checkpoint
//! is written after every batch, so a stop at any point resumes from the last one.

use anyhow::Result;

pub use wabot_core::history::{FetchError, HistorySource};

use crate::db::{Checkpoint, Cursor, Db, Request};
use crate::sync::checkpoint::{State, Step};

/// WhatsApp serves on-demand history in batches of at most this many messages.
pub const BATCH: i64 = 50;

/// Runs the chat's `in_progress` sync until it completes, stops or is stopped from
/// outside (its checkpoint changed by another process); returns the final checkpoint.
/// `stop` is asked between batches; `progress` sees every stored batch.
pub fn run(
    db: &mut Db,
    source: &mut dyn HistorySource,
    chat: &str,
    stop: &dyn Fn() -> Option<String>,
    progress: &mut dyn FnMut(&Checkpoint),
) -> Result<Checkpoint> {
    let Some(mut checkpoint) = db.sync_checkpoint(chat)? else {
        anyhow::bail!("{chat} has no sync checkpoint");
    };
    while checkpoint.state == State::InProgress {
        if let Some(why) = stop() {
            return Ok(db.sync_transition(chat, Step::Interrupt, None, Some(&why))?);
        }
        let (Some(cursor), remaining) = (checkpoint.cursor.clone(), checkpoint.remaining()) else {
            return Ok(db.sync_transition(
                chat,
                Step::Fail,
                None,
                Some("the checkpoint has no cursor"),
            )?);
        };
        if remaining == 0 {
            return Ok(db.sync_transition(chat, Step::Complete, None, None)?);
        }
        let answer = match source.fetch(chat, &cursor, remaining.min(BATCH)) {
            Ok(answer) => answer,
            Err(FetchError::NoAnswer(why)) => {
                return Ok(db.sync_transition(chat, Step::Interrupt, None, Some(&why))?);
            }
            Err(FetchError::Refused(why)) => {
                return Ok(db.sync_transition(chat, Step::Fail, None, Some(&why))?);
            }
        };
        let (older, newer): (Vec<Cursor>, Vec<Cursor>) = answer
            .messages
            .into_iter()
            .partition(|m| is_older(m, &cursor));
        if !newer.is_empty() {
            log::warn!(
                "history of {chat}: {} message(s) of the batch are not older than the cursor \
                 (monotonicity); they were stored but not counted",
                newer.len()
            );
        }
        let Some(oldest) = older.iter().min_by_key(|m| m.timestamp_ms).cloned() else {
            // Nothing older than what we have: the beginning of the chat.
            return Ok(db.sync_transition(chat, Step::Complete, None, None)?);
        };
        let received = (older.len() as i64).min(remaining);
        match db.sync_advance(chat, &oldest, received)? {
            Some(advanced) => {
                progress(&advanced);
                checkpoint = advanced;
            }
            // Cancelled or interrupted by someone else meanwhile: their word stands.
            None => return reload(db, chat),
        }
        if answer.end_of_history {
            return Ok(db.sync_transition(chat, Step::Complete, None, None)?);
        }
    }
    Ok(checkpoint)
}

/// Performs a request queued for the listener: its transition, then the walk. A refused
/// transition fails the request with the reason, for the `sync` process waiting on it.
pub fn perform(
    db: &mut Db,
    source: &mut dyn HistorySource,
    request: &Request,
    monitored: &[String],
    stop: &dyn Fn() -> Option<String>,
) -> Result<()> {
    let chat = &request.chat_jid;
    if let Err(refused) = db.sync_transition(chat, request.step, Some(request.max_messages), None) {
        return Ok(db.finish_sync_request(request.id, Some(&format!("{refused:#}")))?);
    }
    db.refresh_sync_status(monitored)?;
    let done = run(db, source, chat, stop, &mut |c| {
        log::info!(
            "history of {chat}: {} of {} messages",
            c.messages_synced,
            c.max_messages
        );
    });
    db.refresh_sync_status(monitored)?;
    match done {
        Ok(c) => {
            log::info!(
                "history of {chat}: {} after {} messages",
                c.state,
                c.messages_synced
            );
            db.finish_sync_request(request.id, None)?;
        }
        Err(e) => db.finish_sync_request(request.id, Some(&format!("{e:#}")))?,
    }
    Ok(())
}

fn reload(db: &Db, chat: &str) -> Result<Checkpoint> {
    db.sync_checkpoint(chat)?
        .ok_or_else(|| anyhow::anyhow!("{chat} lost its sync checkpoint"))
}

fn is_older(m: &Cursor, cursor: &Cursor) -> bool {
    m.timestamp_ms < cursor.timestamp_ms
        || (m.timestamp_ms == cursor.timestamp_ms && m.id < cursor.id)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::db::RequestState;
    use crate::history::Answer;
    use crate::message::{MessageKind, MessageStatus, NewMessage, Origin};

    const CHAT: &str = "15550001111@s.whatsapp.net";
    const T0: i64 = 1_700_000_000_000;

    fn message(i: i64) -> NewMessage {
        NewMessage {
            chat_jid: CHAT.into(),
            id: format!("M{i:05}"),
            sender: CHAT.into(),
            content: format!("message {i}"),
            timestamp_ms: T0 + i * 60_000,
            is_from_me: i % 3 == 0,
            message_type: MessageKind::Text,
            push_name: None,
            mentions: vec![],
            quoted_id: None,
            origin: Origin::History,
            media: None,
            kept: Default::default(),
            transcript: None,
        }
    }

    type OnFetch = Box<dyn FnMut(&mut Db)>;

    /// A phone holding messages 0..total of the chat; what it sends is stored the way
    /// the listener stores history.
    struct Phone {
        db: Db,
        total: i64,
        asked: Vec<(String, i64)>,
        /// Calls (0-based) that get no answer.
        silent_at: Option<usize>,
        /// Also sends this many of the newest messages in every answer.
        echo_newer: usize,
        on_fetch: Option<OnFetch>,
    }

    impl Phone {
        fn new(path: &std::path::Path, total: i64) -> Self {
            Phone {
                db: Db::open(path).unwrap(),
                total,
                asked: vec![],
                silent_at: None,
                echo_newer: 0,
                on_fetch: None,
            }
        }
    }

    impl HistorySource for Phone {
        fn fetch(&mut self, chat: &str, cursor: &Cursor, count: i64) -> Result<Answer, FetchError> {
            assert_eq!(chat, CHAT);
            assert!(count <= BATCH);
            self.asked.push((cursor.id.clone(), count));
            if let Some(hook) = self.on_fetch.as_mut() {
                hook(&mut self.db);
            }
            if self.silent_at == Some(self.asked.len() - 1) {
                return Err(FetchError::NoAnswer(
                    "the phone did not answer within 30s".into(),
                ));
            }
            let before: i64 = cursor.id[1..].parse().unwrap();
            let from = (before - count).max(0);
            let mut batch: Vec<NewMessage> = (from..before).map(message).collect();
            batch.extend((self.total + 1..=self.total + self.echo_newer as i64).map(message));
            let messages = batch
                .iter()
                .map(|m| Cursor {
                    id: m.id.clone(),
                    timestamp_ms: m.timestamp_ms,
                    from_me: m.is_from_me,
                })
                .collect();
            self.db
                .ingest(batch, &|_| Some(MessageStatus::History))
                .unwrap();
            Ok(Answer {
                messages,
                end_of_history: from == 0,
            })
        }
    }

    /// A database holding only the newest message of a 0..total history.
    fn setup(total: i64) -> (tempfile::TempDir, Db, Phone) {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("w.db");
        let mut db = Db::open(&path).unwrap();
        db.ingest(vec![message(total - 1)], &|_| Some(MessageStatus::Pending))
            .unwrap();
        let phone = Phone::new(&path, total - 1);
        (dir, db, phone)
    }

    fn never() -> Option<String> {
        None
    }

    fn stored(db: &Db) -> i64 {
        db.stats().unwrap().messages.total
    }

    #[test]
    fn walks_back_to_the_beginning_in_batches_of_fifty() {
        let (_dir, mut db, mut phone) = setup(121);
        db.sync_transition(CHAT, Step::Start, Some(1000), None)
            .unwrap();
        let mut seen = vec![];
        let done = run(&mut db, &mut phone, CHAT, &never, &mut |c| {
            seen.push(c.messages_synced)
        })
        .unwrap();
        assert_eq!(done.state, State::Completed);
        assert_eq!(done.messages_synced, 120);
        assert_eq!(done.progress_percent, 100);
        assert_eq!(done.cursor.unwrap().id, "M00000");
        assert_eq!(seen, vec![50, 100, 120]);
        assert_eq!(phone.asked[0], ("M00120".to_string(), 50));
        assert_eq!(stored(&db), 121);
        assert_eq!(
            db.stats().unwrap().messages.pending,
            1,
            "history is never answered"
        );
    }

    #[test]
    fn perform_runs_a_queued_request_to_the_end_and_fails_a_refused_one() {
        let (_dir, mut db, mut phone) = setup(60);
        let monitored = [CHAT.to_string()];
        db.queue_sync_request(CHAT, Step::Start, 100).unwrap();
        let request = db.next_sync_request().unwrap().unwrap();
        perform(&mut db, &mut phone, &request, &monitored, &never).unwrap();
        assert_eq!(
            db.sync_request_state(request.id).unwrap(),
            Some(RequestState::Done)
        );
        let c = db.sync_checkpoint(CHAT).unwrap().unwrap();
        assert_eq!((c.state, c.messages_synced), (State::Completed, 59));
        assert_eq!(stored(&db), 60);
        // Resuming a completed sync is refused, and the waiting `sync` learns why.
        db.queue_sync_request(CHAT, Step::Resume, 100).unwrap();
        let refused = db.next_sync_request().unwrap().unwrap();
        perform(&mut db, &mut phone, &refused, &monitored, &never).unwrap();
        match db.sync_request_state(refused.id).unwrap() {
            Some(RequestState::Failed(why)) => assert!(why.contains("completed"), "{why}"),
            other => panic!("{other:?}"),
        }
        assert_eq!(
            phone.asked.len(),
            2,
            "the refused request asked the phone nothing"
        );
    }

    #[test]
    fn stops_at_max_with_a_partial_last_batch() {
        let (_dir, mut db, mut phone) = setup(500);
        db.sync_transition(CHAT, Step::Start, Some(70), None)
            .unwrap();
        let done = run(&mut db, &mut phone, CHAT, &never, &mut |_| {}).unwrap();
        assert_eq!((done.state, done.messages_synced), (State::Completed, 70));
        assert_eq!(
            phone.asked.iter().map(|a| a.1).collect::<Vec<_>>(),
            vec![50, 20]
        );
    }

    #[test]
    fn a_silent_phone_interrupts_and_resume_continues_from_the_stored_cursor() {
        let (_dir, mut db, mut phone) = setup(200);
        phone.silent_at = Some(1);
        db.sync_transition(CHAT, Step::Start, Some(1000), None)
            .unwrap();
        let stopped = run(&mut db, &mut phone, CHAT, &never, &mut |_| {}).unwrap();
        assert_eq!(stopped.state, State::Interrupted);
        assert!(stopped.error_message.unwrap().contains("did not answer"));
        assert_eq!(stopped.messages_synced, 50);
        let cursor = stopped.cursor.unwrap().id;
        assert_eq!(cursor, "M00149");

        phone.silent_at = None;
        db.sync_transition(CHAT, Step::Resume, None, None).unwrap();
        let done = run(&mut db, &mut phone, CHAT, &never, &mut |_| {}).unwrap();
        assert_eq!(
            phone.asked[2].0, cursor,
            "the resume asks from the stored cursor"
        );
        assert_eq!((done.state, done.messages_synced), (State::Completed, 199));
        assert_eq!(stored(&db), 200, "nothing stored twice");
    }

    #[test]
    fn a_cancel_from_another_process_stops_after_the_batch_in_flight() {
        let (dir, mut db, mut phone) = setup(400);
        let path = dir.path().join("w.db");
        phone.on_fetch = Some(Box::new(move |_| {
            let mut other = Db::open(&path).unwrap();
            if other
                .sync_checkpoint(CHAT)
                .unwrap()
                .unwrap()
                .messages_synced
                >= 50
            {
                other
                    .sync_transition(CHAT, Step::Cancel, None, Some("cancelled by the user"))
                    .unwrap();
            }
        }));
        db.sync_transition(CHAT, Step::Start, Some(1000), None)
            .unwrap();
        let done = run(&mut db, &mut phone, CHAT, &never, &mut |_| {}).unwrap();
        assert_eq!((done.state, done.messages_synced), (State::Cancelled, 50));
        assert_eq!(phone.asked.len(), 2, "no batch after the cancel");
    }

    #[test]
    fn newer_messages_in_a_batch_are_a_warning_not_an_error() {
        let (_dir, mut db, mut phone) = setup(80);
        phone.echo_newer = 3;
        db.sync_transition(CHAT, Step::Start, Some(1000), None)
            .unwrap();
        let done = run(&mut db, &mut phone, CHAT, &never, &mut |_| {}).unwrap();
        assert_eq!((done.state, done.messages_synced), (State::Completed, 79));
    }

    #[test]
    fn a_stop_request_interrupts_between_batches_and_refusals_fail() {
        let (_dir, mut db, mut phone) = setup(80);
        db.sync_transition(CHAT, Step::Start, None, None).unwrap();
        let stopping = || Some("the listener is stopping".to_string());
        let c = run(&mut db, &mut phone, CHAT, &stopping, &mut |_| {}).unwrap();
        assert_eq!(c.state, State::Interrupted);
        assert!(phone.asked.is_empty());

        struct Refusing;
        impl HistorySource for Refusing {
            fn fetch(&mut self, _: &str, _: &Cursor, _: i64) -> Result<Answer, FetchError> {
                Err(FetchError::Refused("not a chat of this account".into()))
            }
        }
        db.sync_transition(CHAT, Step::Resume, None, None).unwrap();
        let c = run(&mut db, &mut Refusing, CHAT, &never, &mut |_| {}).unwrap();
        assert_eq!(c.state, State::Failed);
        assert_eq!(
            c.error_message.as_deref(),
            Some("not a chat of this account")
        );
    }
}
