//! SnapAct webhook signatures (DESIGN §7), shared by the host, which
//! verifies them, and the sandbox, which signs what it delivers.
//!
//! `X-SnapAct-Signature: v1=<hex HMAC-SHA256(secret, "<timestamp>.<raw body>")>`,
//! several comma-separated `v1=` values while SnapAct rotates a secret;
//! `X-SnapAct-Timestamp` is unix seconds and must be within
//! [`TOLERANCE`] of the receiver's clock, in either direction.

use std::time::{Duration, SystemTime, UNIX_EPOCH};

use hmac::{Hmac, Mac};
use secrecy::{ExposeSecret, SecretString};
use sha2::Sha256;
use subtle::ConstantTimeEq;

/// Header with the signatures.
pub const SIGNATURE_HEADER: &str = "x-snapact-signature";
/// Header with the unix-seconds timestamp that was signed.
pub const TIMESTAMP_HEADER: &str = "x-snapact-timestamp";
/// Header with the event's id (the inbox key).
pub const EVENT_ID_HEADER: &str = "x-snapact-event-id";
/// Header with the event's type.
pub const EVENT_TYPE_HEADER: &str = "x-snapact-event-type";
/// How far a timestamp may be from the receiver's clock.
pub const TOLERANCE: Duration = Duration::from_secs(300);
/// The only signature scheme SnapAct defines.
const SCHEME: &str = "v1=";

/// Why a webhook was refused. The HTTP answer never says which (a bare
/// 400/401); the log does.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum VerifyError {
    /// A header is absent or not text.
    #[error("the {0} header is missing")]
    Missing(&'static str),
    /// The timestamp is not unix seconds.
    #[error("the timestamp header is not unix seconds")]
    BadTimestamp,
    /// The timestamp is too far from now.
    #[error("the timestamp is {skew_secs} s away from this host's clock (tolerance {} s)", TOLERANCE.as_secs())]
    Stale {
        /// Absolute distance from now.
        skew_secs: u64,
    },
    /// No `v1=` value matched any active secret.
    #[error("no signature matches the shop's webhook secrets")]
    Mismatch,
}

/// The header value for `body` signed at `timestamp` with `secret`.
pub fn sign(secret: &SecretString, timestamp: u64, body: &[u8]) -> String {
    format!("{SCHEME}{}", hex::encode(mac(secret, timestamp, body)))
}

/// Unix seconds of `t`.
pub fn unix_seconds(t: SystemTime) -> u64 {
    t.duration_since(UNIX_EPOCH).map_or(0, |d| d.as_secs())
}

/// Checks a delivery: the timestamp is within [`TOLERANCE`] of `now`, and
/// one of the `v1=` signatures is the HMAC of `"<timestamp>.<body>"` under
/// one of `secrets`. Comparisons are constant-time.
pub fn verify(
    secrets: &[SecretString],
    signature_header: Option<&str>,
    timestamp_header: Option<&str>,
    body: &[u8],
    now: SystemTime,
) -> Result<(), VerifyError> {
    let signatures = signature_header.ok_or(VerifyError::Missing(SIGNATURE_HEADER))?;
    let timestamp_text = timestamp_header.ok_or(VerifyError::Missing(TIMESTAMP_HEADER))?;
    let timestamp: u64 = timestamp_text
        .trim()
        .parse()
        .map_err(|_| VerifyError::BadTimestamp)?;
    let skew_secs = unix_seconds(now).abs_diff(timestamp);
    if skew_secs > TOLERANCE.as_secs() {
        return Err(VerifyError::Stale { skew_secs });
    }
    let candidates: Vec<Vec<u8>> = signatures
        .split(',')
        .filter_map(|s| s.trim().strip_prefix(SCHEME))
        .filter_map(|h| hex::decode(h).ok())
        .collect();
    let mut matched = subtle::Choice::from(0);
    for secret in secrets {
        let expected = mac(secret, timestamp, body);
        for candidate in &candidates {
            matched |= expected.as_slice().ct_eq(candidate.as_slice());
        }
    }
    if bool::from(matched) {
        Ok(())
    } else {
        Err(VerifyError::Mismatch)
    }
}

fn mac(secret: &SecretString, timestamp: u64, body: &[u8]) -> Vec<u8> {
    let mut m = Hmac::<Sha256>::new_from_slice(secret.expose_secret().as_bytes())
        .expect("HMAC accepts keys of any length");
    m.update(timestamp.to_string().as_bytes());
    m.update(b".");
    m.update(body);
    m.finalize().into_bytes().to_vec()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn secret(s: &str) -> SecretString {
        SecretString::from(s.to_string())
    }

    const BODY: &[u8] = br#"{"id":"evt_1","type":"order.paid"}"#;

    fn at(secs: u64) -> SystemTime {
        UNIX_EPOCH + Duration::from_secs(secs)
    }

    #[test]
    fn known_vector() {
        // Computed independently: printf '1700000000.{"id":"evt_1","type":"order.paid"}' \
        //   | openssl dgst -sha256 -hmac whsec_test
        let sig = sign(&secret("whsec_test"), 1_700_000_000, BODY);
        assert_eq!(
            sig,
            "v1=bd9a92a5aa31ee1da5b8176d76564bb487997bd83d82812500375b2ee9c46503"
        );
    }

    #[test]
    fn accepts_own_signature_within_tolerance_both_ways() {
        let s = secret("whsec_a");
        let sig = sign(&s, 1_000_000, BODY);
        for now in [1_000_000 - 300, 1_000_000, 1_000_000 + 300] {
            verify(
                std::slice::from_ref(&s),
                Some(&sig),
                Some("1000000"),
                BODY,
                at(now),
            )
            .expect("test setup");
        }
    }

    #[test]
    fn refuses_stale_and_future_timestamps() {
        let s = secret("whsec_a");
        let sig = sign(&s, 1_000_000, BODY);
        for now in [1_000_000 - 301, 1_000_000 + 301] {
            let err = verify(
                std::slice::from_ref(&s),
                Some(&sig),
                Some("1000000"),
                BODY,
                at(now),
            )
            .expect_err("must fail");
            assert_eq!(err, VerifyError::Stale { skew_secs: 301 });
        }
    }

    #[test]
    fn refuses_wrong_secret_tampered_body_and_other_timestamp() {
        let s = secret("whsec_a");
        let sig = sign(&s, 1_000_000, BODY);
        let now = at(1_000_000);
        let other = [secret("whsec_b")];
        assert_eq!(
            verify(&other, Some(&sig), Some("1000000"), BODY, now),
            Err(VerifyError::Mismatch)
        );
        let mine = [s];
        assert_eq!(
            verify(&mine, Some(&sig), Some("1000000"), b"{}", now),
            Err(VerifyError::Mismatch)
        );
        assert_eq!(
            verify(&mine, Some(&sig), Some("1000001"), BODY, now),
            Err(VerifyError::Mismatch)
        );
    }

    #[test]
    fn rotation_any_signature_with_any_active_secret() {
        let old = secret("whsec_old");
        let new = secret("whsec_new");
        // SnapAct signs with both while rotating; the host knows only the new one.
        let header = format!(
            "{}, {}",
            sign(&old, 1_000_000, BODY),
            sign(&new, 1_000_000, BODY)
        );
        verify(
            std::slice::from_ref(&new),
            Some(&header),
            Some("1000000"),
            BODY,
            at(1_000_000),
        )
        .expect("test setup");
        // The host has both configured; SnapAct signs with the old one only.
        let only_old = sign(&old, 1_000_000, BODY);
        verify(
            &[new, old],
            Some(&only_old),
            Some("1000000"),
            BODY,
            at(1_000_000),
        )
        .expect("test setup");
    }

    #[test]
    fn malformed_headers() {
        let s = [secret("whsec_a")];
        let now = at(1_000_000);
        assert_eq!(
            verify(&s, None, Some("1000000"), BODY, now),
            Err(VerifyError::Missing(SIGNATURE_HEADER))
        );
        assert_eq!(
            verify(&s, Some("v1=00"), None, BODY, now),
            Err(VerifyError::Missing(TIMESTAMP_HEADER))
        );
        assert_eq!(
            verify(&s, Some("v1=00"), Some("yesterday"), BODY, now),
            Err(VerifyError::BadTimestamp)
        );
        for junk in ["", "v1=", "v1=zz", "v0=abcd", "sha256=abcd", ",,,"] {
            assert_eq!(
                verify(&s, Some(junk), Some("1000000"), BODY, now),
                Err(VerifyError::Mismatch)
            );
        }
    }
}
