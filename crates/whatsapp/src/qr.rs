//! Pairing QR codes drawn with text, so `wabot pair` works over SSH.

use qrcode::QrCode;
use qrcode::render::unicode::Dense1x2;

/// The QR code of `payload` as lines of half-block characters (two modules per line).
pub fn render(payload: &str) -> Option<String> {
    let code = QrCode::new(payload.as_bytes()).ok()?;
    Some(
        code.render::<Dense1x2>()
            .dark_color(Dense1x2::Light)
            .light_color(Dense1x2::Dark)
            .quiet_zone(true)
            .build(),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_whatsapp_pairing_payload_fits_an_80_column_terminal() {
        // Shape of a real payload: ref, noise key, identity key, adv secret (base64).
        let payload = format!(
            "2@{},{},{},{}",
            "A".repeat(84),
            "B".repeat(44),
            "C".repeat(44),
            "D".repeat(44)
        );
        let art = render(&payload).unwrap();
        let widest = art.lines().map(|l| l.chars().count()).max().unwrap();
        assert!(widest <= 80, "{widest} columns");
        assert!(art.lines().count() <= 45);
    }
}
