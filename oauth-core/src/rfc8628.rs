//! The device authorization grant (RFC 8628): the device authorization request (§3.1), its
//! answer (§3.2), and the polling rules (§3.4, §3.5) that [`DeviceToken`](crate::flow::DeviceToken)
//! follows.

use std::fmt;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, SystemTime};

use http::{Request, Response};
use serde_json::{Map, Value};

use crate::client::ClientConfig;
use crate::error::Error;
use crate::rfc6749::response::{ResponseView, take_text};
use crate::rfc6749::{Grant, PreparedPost};
use crate::rfc7523::Mint;
use crate::secret::SecretParam;
use crate::token::seconds;

/// `grant_type` of the device access token request (§3.4).
pub const DEVICE_CODE_GRANT_TYPE: &str = "urn:ietf:params:oauth:grant-type:device_code";

/// The polling interval when the server names none (§3.2).
pub const DEFAULT_INTERVAL: Duration = Duration::from_secs(5);

/// What a `slow_down` answer adds to the interval (§3.5).
pub const SLOW_DOWN_INCREMENT: Duration = Duration::from_secs(5);

/// Builds the device authorization request (§3.1): the client's authentication and the
/// scope (`scope`, else the configured default).
///
/// # Errors
/// [`crate::ConfigError`] when the device authorization endpoint is missing or insecure;
/// [`crate::UsageError::MintUnavailable`] for a client that authenticates with a JWT (use
/// [`device_authorization_request_with`]).
pub fn device_authorization_request(
    config: &ClientConfig,
    scope: Option<&str>,
) -> Result<Request<Vec<u8>>, Error> {
    device_authorization_request_with(config, scope, &Mint::NONE)
}

/// [`device_authorization_request`] for a client that authenticates with a JWT minted now.
///
/// # Errors
/// As [`device_authorization_request`].
pub fn device_authorization_request_with(
    config: &ClientConfig,
    scope: Option<&str>,
    mint: &Mint<'_>,
) -> Result<Request<Vec<u8>>, Error> {
    prepare_device_authorization(config, scope)?.finish(config, mint)
}

pub(crate) fn prepare_device_authorization(
    config: &ClientConfig,
    scope: Option<&str>,
) -> Result<PreparedPost, Error> {
    let scope = scope.or(config.scope.as_deref());
    PreparedPost::new(
        config,
        "device authorization",
        config.device_authorization_endpoint.as_ref(),
        |form| {
            if let Some(scope) = scope {
                form.append_pair("scope", scope);
            }
        },
    )
}

/// The server's answer to a device authorization request (§3.2): what to show the user, and
/// the device code the client polls with.
///
/// `Debug` shows everything but the device code. Clones share one cancellation flag.
#[derive(Clone)]
pub struct DeviceAuthorization {
    device_code: SecretParam,
    user_code: String,
    verification_uri: String,
    verification_uri_complete: Option<String>,
    expires_at: SystemTime,
    interval: Duration,
    cancelled: Arc<AtomicBool>,
}

impl fmt::Debug for DeviceAuthorization {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("DeviceAuthorization")
            .field("user_code", &self.user_code)
            .field("verification_uri", &self.verification_uri)
            .field("verification_uri_complete", &self.verification_uri_complete)
            .field("expires_at", &self.expires_at)
            .field("interval", &self.interval)
            .finish_non_exhaustive()
    }
}

impl DeviceAuthorization {
    /// The code the user enters at the verification URI.
    #[must_use]
    pub fn user_code(&self) -> &str {
        &self.user_code
    }

    /// Where the user goes to enter the code.
    #[must_use]
    pub fn verification_uri(&self) -> &str {
        &self.verification_uri
    }

    /// The verification URI with the code already in it, if the server gave one (for a QR
    /// code or a link that opens the browser on the right page).
    #[must_use]
    pub fn verification_uri_complete(&self) -> Option<&str> {
        self.verification_uri_complete.as_deref()
    }

    /// When the device code expires (the request's send time plus `expires_in`).
    #[must_use]
    pub fn expires_at(&self) -> SystemTime {
        self.expires_at
    }

    /// The polling interval the server asked for (default [`DEFAULT_INTERVAL`]).
    #[must_use]
    pub fn interval(&self) -> Duration {
        self.interval
    }

    /// Stops the polling of this authorization (from any thread): the next poll ends with
    /// [`UsageError::Cancelled`](crate::UsageError::Cancelled), without sending.
    pub fn cancel(&self) {
        self.cancelled.store(true, Ordering::Release);
    }

    /// Whether [`cancel`](Self::cancel) was called on this authorization or a clone of it.
    #[must_use]
    pub fn is_cancelled(&self) -> bool {
        self.cancelled.load(Ordering::Acquire)
    }

    /// The device access token request's grant (§3.4).
    #[must_use]
    pub fn grant(&self) -> Grant {
        Grant::custom(DEVICE_CODE_GRANT_TYPE).secret_param("device_code", self.device_code.secret())
    }
}

/// Reads the answer to a device authorization request; `sent_at` is when the request was
/// sent (the device code's lifetime counts from then).
///
/// # Errors
/// [`Error::OAuth`] for an error answer, [`Error::Response`] naming
/// the missing or malformed member.
pub fn parse_device_authorization_response<B: AsRef<[u8]>>(
    response: &Response<B>,
    sent_at: SystemTime,
) -> Result<DeviceAuthorization, Error> {
    let view = ResponseView::of(response);
    let mut map: Map<String, Value> = view.decode_success()?;
    let mut text = |name: &'static str| {
        take_text(&mut map, name).map_err(|name| view.malformed(format!("{name} is not a string")))
    };
    let device_code = text("device_code")?;
    let user_code = text("user_code")?;
    // Google names it `verification_url`.
    let verification_uri = match text("verification_uri")? {
        Some(uri) => Some(uri),
        None => text("verification_url")?,
    };
    let verification_uri_complete = text("verification_uri_complete")?;
    let (Some(device_code), Some(user_code), Some(verification_uri)) =
        (device_code, user_code, verification_uri)
    else {
        return Err(view
            .malformed("device_code, user_code or verification_uri is missing")
            .into());
    };
    let mut duration = |name: &'static str| match map.remove(name) {
        None | Some(Value::Null) => Ok(None),
        Some(v) => seconds(&v, name)
            .map(Some)
            .map_err(|_| view.malformed(format!("{name} is not a number of seconds"))),
    };
    let expires_in =
        duration("expires_in")?.ok_or_else(|| view.malformed("expires_in is missing"))?;
    let interval = duration("interval")?
        .unwrap_or(DEFAULT_INTERVAL)
        .max(Duration::from_secs(1));
    let expires_at = sent_at
        .checked_add(expires_in)
        .ok_or_else(|| view.malformed("expires_in is out of range"))?;
    Ok(DeviceAuthorization {
        device_code: SecretParam::new(device_code),
        user_code,
        verification_uri,
        verification_uri_complete,
        expires_at,
        interval,
        cancelled: Arc::new(AtomicBool::new(false)),
    })
}
