//! WhatsApp message ids chosen by wabot before a message is queued, so a resend after a
//! crash carries the same id and the echo is recognised.

use sha2::{Digest, Sha256};

/// A fresh WhatsApp-style message id (`3EB0` + 20 hex digits), as WhatsApp Web uses.
pub fn new() -> String {
    let mut id = String::from("3EB0");
    for _ in 0..20 {
        id.push(char::from_digit(fastrand::u32(0..16), 16).unwrap_or('0'));
    }
    id.to_ascii_uppercase()
}

/// A message id derived from `key`, so queuing the same thing twice yields one row.
pub fn stable(key: &str) -> String {
    let digest = hex::encode(Sha256::digest(key.as_bytes()));
    format!("3EB0{}", digest[..20].to_ascii_uppercase())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ids_look_like_whatsapp_ids() {
        let id = new();
        assert_eq!(id.len(), 24);
        assert!(id.starts_with("3EB0") && id.chars().all(|c| c.is_ascii_hexdigit()));
        assert_ne!(new(), id);
        assert_eq!(stable("k"), stable("k"));
        assert_ne!(stable("k"), stable("l"));
    }
}
