//! PEM (RFC 7468) as keys and certificates come: labelled base64 blocks.

use base64::Engine as _;
use zeroize::Zeroizing;

use crate::error::ConfigError;

/// Every block of `text`: its label (`PRIVATE KEY`, `CERTIFICATE`, …) and DER bytes; `None`
/// when a block is unterminated or not base64.
pub(crate) fn blocks(text: &str) -> Option<Vec<(String, Zeroizing<Vec<u8>>)>> {
    let mut found = Vec::new();
    let mut rest = text;
    while let Some(begin) = rest.find("-----BEGIN ") {
        let after = &rest[begin + 11..];
        let label_end = after.find("-----")?;
        let label = &after[..label_end];
        let body = &after[label_end + 5..];
        let end_marker = format!("-----END {label}-----");
        let end = body.find(&end_marker)?;
        let base64: Zeroizing<String> = Zeroizing::new(
            body[..end]
                .chars()
                .filter(|c| !c.is_ascii_whitespace())
                .collect(),
        );
        let der = base64::engine::general_purpose::STANDARD
            .decode(base64.as_bytes())
            .ok()?;
        found.push((label.to_owned(), Zeroizing::new(der)));
        rest = &body[end + end_marker.len()..];
    }
    Some(found)
}

/// The DER of every `CERTIFICATE` block of `pem` (a CA bundle, say).
///
/// # Errors
/// [`ConfigError::InvalidCertificate`] when the text holds no certificate or a malformed block.
pub fn certificates(pem: &[u8]) -> Result<Vec<Vec<u8>>, ConfigError> {
    let text = std::str::from_utf8(pem).map_err(|_| ConfigError::InvalidCertificate)?;
    let certificates: Vec<Vec<u8>> = blocks(text)
        .ok_or(ConfigError::InvalidCertificate)?
        .into_iter()
        .filter(|(label, _)| label == "CERTIFICATE")
        .map(|(_, der)| der.to_vec())
        .collect();
    if certificates.is_empty() {
        return Err(ConfigError::InvalidCertificate);
    }
    Ok(certificates)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn certificates_are_read_from_a_bundle_and_garbage_is_refused() {
        let bundle = "junk\n-----BEGIN CERTIFICATE-----\nAAEC\n-----END CERTIFICATE-----\n\
                      -----BEGIN PRIVATE KEY-----\nAwQ=\n-----END PRIVATE KEY-----\n\
                      -----BEGIN CERTIFICATE-----\nBQY=\n-----END CERTIFICATE-----\n";
        assert_eq!(
            certificates(bundle.as_bytes()).expect("two"),
            vec![vec![0, 1, 2], vec![5, 6]]
        );
        assert!(certificates(b"no pem here").is_err());
        assert!(
            certificates(b"-----BEGIN CERTIFICATE-----\n!!\n-----END CERTIFICATE-----").is_err()
        );
        assert!(certificates(b"-----BEGIN CERTIFICATE-----\nAAEC").is_err());
    }
}
