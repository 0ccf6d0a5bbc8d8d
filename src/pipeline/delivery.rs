//! One delivery event for every transport: the linked device's acks, refusals and
//! receipts and the official APIs' status callbacks are all
//! [`crate::outbox::DeliveryUpdate`]s, applied here to the outbox.

use anyhow::Result;

use crate::db::Db;
use crate::outbox::{Delivery, DeliveryUpdate};

/// Applies `updates`; returns how many matched an outbox row. `own_jid` is the account
/// a confirmed row's message is stored under.
pub fn apply(db: &mut Db, updates: &[DeliveryUpdate], own_jid: &str) -> Result<usize> {
    let mut matched = 0;
    for update in updates {
        let row = update.own_id.as_ref().or(update.provider_id.as_ref());
        if !db.apply_delivery(update, own_jid)? {
            log::debug!("a delivery update for {row:?} matched no outbox row");
            continue;
        }
        matched += 1;
        let why = update.error.as_deref().unwrap_or("no reason given");
        match update.delivery {
            Delivery::Failed => log::warn!("outbox message {row:?} failed: {why}"),
            Delivery::Retry => log::warn!("outbox message {row:?}: {why}"),
            _ => {}
        }
    }
    Ok(matched)
}
