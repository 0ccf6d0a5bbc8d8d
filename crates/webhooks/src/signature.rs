//! The providers' request signatures, checked before anything in a request is believed.

use base64::Engine;
use hmac::{Hmac, KeyInit, Mac};
use subtle::ConstantTimeEq;

/// Twilio's `X-Twilio-Signature`: base64 HMAC-SHA1, keyed with the auth token, over the
/// URL Twilio called followed by every POST parameter sorted by name, each name
/// immediately followed by its value. A name sent more than once contributes each of
/// its distinct values once, in order, as twilio-python's `compute_signature` signs it
/// (`sorted(set(values))`).
pub fn twilio(auth_token: &str, url: &str, params: &[(String, String)]) -> Option<String> {
    let mut sorted: Vec<&(String, String)> = params.iter().collect();
    sorted.sort_by(|a, b| a.0.as_bytes().cmp(b.0.as_bytes()).then(a.1.cmp(&b.1)));
    sorted.dedup();
    let mut mac = Hmac::<sha1::Sha1>::new_from_slice(auth_token.as_bytes()).ok()?;
    mac.update(url.as_bytes());
    for (name, value) in sorted {
        mac.update(name.as_bytes());
        mac.update(value.as_bytes());
    }
    Some(base64::engine::general_purpose::STANDARD.encode(mac.finalize().into_bytes()))
}

/// Whether `given` is Twilio's signature of the request, compared in constant time.
pub fn twilio_valid(auth_token: &str, url: &str, params: &[(String, String)], given: &str) -> bool {
    twilio(auth_token, url, params)
        .is_some_and(|expected| bool::from(expected.as_bytes().ct_eq(given.trim().as_bytes())))
}

/// Meta's `X-Hub-Signature-256`: `sha256=` and the hex HMAC-SHA256 of the raw body,
/// keyed with the app secret; compared in constant time before the body is parsed.
pub fn cloud_valid(app_secret: &str, body: &[u8], header: &str) -> bool {
    let Some(given) = header
        .trim()
        .strip_prefix("sha256=")
        .and_then(|h| hex::decode(h).ok())
    else {
        return false;
    };
    let Ok(mut mac) = Hmac::<sha2::Sha256>::new_from_slice(app_secret.as_bytes()) else {
        return false;
    };
    mac.update(body);
    mac.verify_slice(&given).is_ok()
}

/// `sha256=<hex>` for a body: what Meta sends.
#[cfg(test)]
pub fn cloud(app_secret: &str, body: &[u8]) -> String {
    let mut mac = Hmac::<sha2::Sha256>::new_from_slice(app_secret.as_bytes()).unwrap();
    mac.update(body);
    format!("sha256={}", hex::encode(mac.finalize().into_bytes()))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn pairs(list: &[(&str, &str)]) -> Vec<(String, String)> {
        list.iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect()
    }

    /// Twilio's documented example ("Validating signatures from Twilio").
    #[test]
    fn twilio_documented_test_vector() {
        let params = pairs(&[
            ("CallSid", "CA1234567890ABCDE"),
            ("Caller", "+12349013030"),
            ("Digits", "1234"),
            ("From", "+12349013030"),
            ("To", "+18005551212"),
        ]);
        let url = "https://mycompany.com/myapp.php?foo=1&bar=2";
        assert_eq!(
            twilio("12345", url, &params).as_deref(),
            Some("0/KCTR6DLpKmkAf8muzZqo1nDgQ=")
        );
        assert!(twilio_valid(
            "12345",
            url,
            &params,
            "0/KCTR6DLpKmkAf8muzZqo1nDgQ="
        ));
        assert!(!twilio_valid(
            "12346",
            url,
            &params,
            "0/KCTR6DLpKmkAf8muzZqo1nDgQ="
        ));
        assert!(!twilio_valid(
            "12345",
            "https://mycompany.com/myapp.php?foo=1&bar=3",
            &params,
            "0/KCTR6DLpKmkAf8muzZqo1nDgQ="
        ));
        let mut reordered = params.clone();
        reordered.reverse();
        assert_eq!(
            twilio("12345", url, &reordered).as_deref(),
            Some("0/KCTR6DLpKmkAf8muzZqo1nDgQ="),
            "the order parameters arrive in does not matter"
        );
    }

    #[test]
    fn a_parameter_sent_twice_is_signed_once_as_twilios_library_signs_it() {
        let url = "https://bot.example.com/hooks/whatsapp";
        let once = pairs(&[("Body", "hi"), ("MediaUrl0", "https://a")]);
        let twice = pairs(&[("Body", "hi"), ("MediaUrl0", "https://a"), ("Body", "hi")]);
        assert_eq!(twilio("t", url, &once), twilio("t", url, &twice));
        let two_values = pairs(&[("Body", "b"), ("Body", "a")]);
        let mut mac = Hmac::<sha1::Sha1>::new_from_slice(b"t").unwrap();
        mac.update(format!("{url}BodyaBodyb").as_bytes());
        let expected =
            base64::engine::general_purpose::STANDARD.encode(mac.finalize().into_bytes());
        assert_eq!(twilio("t", url, &two_values), Some(expected));
    }

    #[test]
    fn cloud_signature_is_checked_on_the_raw_bytes() {
        let body = br#"{"object":"whatsapp_business_account","entry":[]}"#;
        let header = cloud("app-secret", body);
        assert!(cloud_valid("app-secret", body, &header));
        assert!(!cloud_valid("other", body, &header));
        assert!(!cloud_valid("app-secret", b"{ }", &header));
        assert!(!cloud_valid(
            "app-secret",
            body,
            &header.replace("sha256=", "sha1=")
        ));
        assert!(!cloud_valid("app-secret", body, "sha256=zz"));
        assert!(!cloud_valid("app-secret", body, ""));
    }
}
