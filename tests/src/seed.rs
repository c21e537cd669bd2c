//! The seed scenario, as one table of steps every adapter's test runs against the real test
//! authorization server.
//!
//! It is the scenario the library was written for, first seen against Keycloak's `master`
//! realm: a password grant for `admin-cli`, a bearer-protected GET, an automatic refresh once
//! the token is due (RFC 6749 §6), the session removed by an administrator, a refresh refused
//! with `invalid_grant` (§5.2) that leaves the old token in place, and a fresh password grant.
//!
//! | step | checks |
//! |---|---|
//! | [`Step::FetchPassword`] | `admin`/`admin` password grant gives a token with an expiry and a refresh time |
//! | [`Step::GetWithBearer`] | `GET /resource` → 200, the server counts one more successful resource call |
//! | [`Step::WaitUntilRefreshDue`] | the wall clock reaches `refresh_at` (polled, bounded) |
//! | [`Step::GetAfterExactlyOneRefresh`] | `GET /resource` → 200 with a new access token and exactly one `refresh_token` request |
//! | [`Step::RemoveSession`] | the server ends the token's `session_state` |
//! | [`Step::RefreshFailsInvalidGrant`] | an explicit refresh fails with `invalid_grant`, displayed as `invalid_grant…` |
//! | [`Step::OldTokenKept`] | the session still holds the access and refresh token it had |
//! | [`Step::FreshTokenUsersCount`] | a new password grant, then `GET …/users/count` → 200 |
//!
//! Each adapter implements [`SeedDriver`] over its own client and session and calls
//! [`run_seed_scenario`]; the demo prints the lines given to `report`.

use std::fmt;
use std::thread;
use std::time::{Duration, Instant, SystemTime};

use oauth_core::Token;

use crate::oidc_provider::AuthServer;

/// What the scenario needs from a client under test. Synchronous: async adapters block on
/// their futures inside.
pub trait SeedDriver {
    /// Fetches a token with the password grant and makes it the session's token.
    ///
    /// # Errors
    /// Whatever the client reports.
    fn fetch_password(&mut self, username: &str, password: &str) -> Result<(), DriverError>;

    /// An authenticated GET through the session, refreshing first when the token is due;
    /// returns the HTTP status.
    ///
    /// # Errors
    /// Whatever the client reports (a failed refresh, a transport error).
    fn get(&mut self, url: &str) -> Result<u16, DriverError>;

    /// An explicit refresh (RFC 6749 §6).
    ///
    /// # Errors
    /// Whatever the client reports; an OAuth error must fill [`DriverError::oauth_error`].
    fn refresh(&mut self) -> Result<(), DriverError>;

    /// The session's current token.
    fn token(&self) -> Option<Token>;

    /// When the session will refresh the current token.
    fn refresh_at(&self) -> Option<SystemTime>;
}

/// A client's error, as the scenario looks at it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DriverError {
    /// The error's `Display`.
    pub display: String,
    /// The OAuth error code (`invalid_grant`, …) when the server refused (RFC 6749 §5.2).
    pub oauth_error: Option<String>,
}

impl DriverError {
    /// An error that is not an OAuth error.
    pub fn other(display: impl fmt::Display) -> Self {
        Self {
            display: display.to_string(),
            oauth_error: None,
        }
    }
}

impl From<oauth_core::Error> for DriverError {
    fn from(e: oauth_core::Error) -> Self {
        Self {
            display: e.to_string(),
            oauth_error: e.oauth_error().map(|o| o.error().to_owned()),
        }
    }
}

impl From<crate::HarnessError> for DriverError {
    fn from(e: crate::HarnessError) -> Self {
        Self::other(e)
    }
}

impl fmt::Display for DriverError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.display)
    }
}

impl std::error::Error for DriverError {}

/// One step of the seed scenario; see the module documentation.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Step {
    /// Password grant `admin`/`admin`.
    FetchPassword,
    /// `GET /resource` → 200.
    GetWithBearer,
    /// Poll the wall clock until the session's `refresh_at`.
    WaitUntilRefreshDue,
    /// `GET /resource` → 200 after exactly one automatic refresh.
    GetAfterExactlyOneRefresh,
    /// Remove the token's session on the server.
    RemoveSession,
    /// An explicit refresh fails with `invalid_grant`.
    RefreshFailsInvalidGrant,
    /// The failed refresh left the token alone.
    OldTokenKept,
    /// A fresh password grant, then `GET …/users/count` → 200.
    FreshTokenUsersCount,
}

/// The scenario, in order.
pub const SEED_STEPS: &[Step] = &[
    Step::FetchPassword,
    Step::GetWithBearer,
    Step::WaitUntilRefreshDue,
    Step::GetAfterExactlyOneRefresh,
    Step::RemoveSession,
    Step::RefreshFailsInvalidGrant,
    Step::OldTokenKept,
    Step::FreshTokenUsersCount,
];

/// Runs [`SEED_STEPS`] against `server` through `driver`, giving `report` one line per step.
///
/// # Errors
/// The first step that fails, as `"{step:?}: {what went wrong}"`.
pub fn run_seed_scenario(
    server: &AuthServer,
    driver: &mut dyn SeedDriver,
    report: &mut dyn FnMut(&str),
) -> Result<(), String> {
    let mut run = Run {
        server,
        driver,
        before_failed_refresh: None,
    };
    for &step in SEED_STEPS {
        let line = run.step(step).map_err(|e| format!("{step:?}: {e}"))?;
        report(&line);
    }
    Ok(())
}

/// The state a scenario carries between steps.
struct Run<'a> {
    server: &'a AuthServer,
    driver: &'a mut dyn SeedDriver,
    /// Access and refresh token before the refresh that must fail.
    before_failed_refresh: Option<(String, Option<String>)>,
}

impl Run<'_> {
    fn step(&mut self, step: Step) -> Result<String, String> {
        match step {
            Step::FetchPassword => self.fetch_password(),
            Step::GetWithBearer => self.get_with_bearer(),
            Step::WaitUntilRefreshDue => self.wait_until_refresh_due(),
            Step::GetAfterExactlyOneRefresh => self.get_after_exactly_one_refresh(),
            Step::RemoveSession => self.remove_session(),
            Step::RefreshFailsInvalidGrant => self.refresh_fails(),
            Step::OldTokenKept => self.old_token_kept(),
            Step::FreshTokenUsersCount => self.fresh_token_users_count(),
        }
    }

    fn token(&self) -> Result<Token, String> {
        self.driver
            .token()
            .ok_or_else(|| "the session holds no token".to_owned())
    }

    fn fetch_password(&mut self) -> Result<String, String> {
        self.driver
            .fetch_password("admin", "admin")
            .map_err(|e| format!("password grant failed: {e}"))?;
        let token = self.token()?;
        let now = SystemTime::now();
        let expires_in = token
            .expires_in(now)
            .ok_or("the token has no expiry (expires_in missing?)")?;
        let refresh_at = self
            .driver
            .refresh_at()
            .ok_or("the session has no refresh time")?;
        if token.refresh_token().is_none() {
            return Err("the password grant gave no refresh token".into());
        }
        let due_in = refresh_at.duration_since(now).unwrap_or(Duration::ZERO);
        Ok(format!(
            "token fetched: expires in {}, refresh due in {}",
            seconds(expires_in),
            seconds(due_in)
        ))
    }

    fn get_with_bearer(&mut self) -> Result<String, String> {
        let before = self.server.stats().map_err(|e| e.to_string())?;
        let token = self.token()?;
        let status = self
            .driver
            .get(&self.server.resource_url())
            .map_err(|e| format!("GET /resource failed: {e}"))?;
        if status != 200 {
            return Err(format!("GET /resource answered {status}, expected 200"));
        }
        let after = self.server.stats().map_err(|e| e.to_string())?;
        if after.resource_ok() != before.resource_ok() + 1 {
            return Err(format!(
                "the server counted {} successful resource calls, expected {}",
                after.resource_ok(),
                before.resource_ok() + 1
            ));
        }
        Ok(format!(
            "GET /resource with Authorization: Bearer {}: {status}",
            tail(token.access_token().secret())
        ))
    }

    fn wait_until_refresh_due(&mut self) -> Result<String, String> {
        let refresh_at = self
            .driver
            .refresh_at()
            .ok_or("the session has no refresh time")?;
        let token = self.token()?;
        let lifetime = match (token.issued_at(), token.expires_at()) {
            (Some(issued), Some(expires)) => expires.duration_since(issued).unwrap_or_default(),
            _ => self.server.access_token_ttl(),
        };
        let bound = lifetime * 2 + Duration::from_secs(10);
        let waited = wait_until(refresh_at, bound)?;
        Ok(format!(
            "waited {} until the refresh was due",
            seconds(waited)
        ))
    }

    fn get_after_exactly_one_refresh(&mut self) -> Result<String, String> {
        let before = self.token()?;
        self.server.reset_stats().map_err(|e| e.to_string())?;
        let status = self
            .driver
            .get(&self.server.resource_url())
            .map_err(|e| format!("GET /resource with a due token failed: {e}"))?;
        if status != 200 {
            return Err(format!("GET /resource answered {status}, expected 200"));
        }
        let after = self.token()?;
        if after.access_token() == before.access_token() {
            return Err("the access token did not change: no automatic refresh".into());
        }
        let stats = self.server.stats().map_err(|e| e.to_string())?;
        let refreshes = stats.token_requests("refresh_token");
        if refreshes != 1 {
            return Err(format!(
                "the server counted {refreshes} refresh_token requests, expected exactly 1"
            ));
        }
        Ok(format!(
            "automatic refresh: new access token {}, {refreshes} refresh request at the server",
            tail(after.access_token().secret())
        ))
    }

    fn remove_session(&mut self) -> Result<String, String> {
        let token = self.token()?;
        let session_state = token
            .extra()
            .get("session_state")
            .and_then(serde_json::Value::as_str)
            .ok_or("the token has no session_state")?;
        self.server
            .remove_session(session_state)
            .map_err(|e| e.to_string())?;
        Ok("session removed on the server".into())
    }

    fn refresh_fails(&mut self) -> Result<String, String> {
        let token = self.token()?;
        self.before_failed_refresh = Some(secrets(&token));
        let error = match self.driver.refresh() {
            Ok(()) => return Err("the refresh succeeded after the session was removed".into()),
            Err(e) => e,
        };
        if error.oauth_error.as_deref() != Some("invalid_grant") {
            return Err(format!(
                "expected OAuth error invalid_grant, got {:?} ({})",
                error.oauth_error, error.display
            ));
        }
        if !error.display.starts_with("invalid_grant") {
            return Err(format!(
                "the error should read \"invalid_grant…\", reads {:?}",
                error.display
            ));
        }
        Ok(format!("refresh failed: {}", error.display))
    }

    fn old_token_kept(&mut self) -> Result<String, String> {
        let before = self
            .before_failed_refresh
            .take()
            .ok_or("no token was recorded before the failed refresh")?;
        if secrets(&self.token()?) != before {
            return Err("the failed refresh replaced the session's token".into());
        }
        Ok("old token kept".into())
    }

    fn fresh_token_users_count(&mut self) -> Result<String, String> {
        self.driver
            .fetch_password("admin", "admin")
            .map_err(|e| format!("second password grant failed: {e}"))?;
        let status = self
            .driver
            .get(&self.server.users_count_url())
            .map_err(|e| format!("GET users/count failed: {e}"))?;
        if status != 200 {
            return Err(format!("GET users/count answered {status}, expected 200"));
        }
        Ok(format!("fresh token: GET users/count: {status}"))
    }
}

/// Waits until the wall clock reaches `at`, polling it (never one long sleep, so a clock that
/// jumps is noticed), for at most `bound`. Returns how long it waited.
///
/// # Errors
/// When `at` is still ahead after `bound`.
pub fn wait_until(at: SystemTime, bound: Duration) -> Result<Duration, String> {
    let started = Instant::now();
    while let Some(pause) = next_pause(at, started, bound)? {
        thread::sleep(pause);
    }
    Ok(started.elapsed())
}

/// One step of a bounded wait for the wall clock to reach `at`, for any runtime: `None` once
/// it is reached, else how long to sleep before looking again (at most 50 ms, so the wait
/// follows the clock and never sleeps a fixed time).
///
/// # Errors
/// When `at` is still ahead `bound` after `started`.
pub fn next_pause(
    at: SystemTime,
    started: Instant,
    bound: Duration,
) -> Result<Option<Duration>, String> {
    let remaining = at
        .duration_since(SystemTime::now())
        .unwrap_or(Duration::ZERO);
    if remaining.is_zero() {
        return Ok(None);
    }
    if started.elapsed() > bound {
        return Err(format!(
            "the wall clock is still {} short of the awaited time after {}",
            seconds(remaining),
            seconds(bound)
        ));
    }
    Ok(Some(remaining.min(Duration::from_millis(50))))
}

fn secrets(token: &Token) -> (String, Option<String>) {
    (
        token.access_token().secret().to_owned(),
        token.refresh_token().map(|t| t.secret().to_owned()),
    )
}

/// `…` and the last six characters of a secret (fewer for short ones: never more than half).
#[must_use]
pub fn tail(secret: &str) -> String {
    let chars: Vec<char> = secret.chars().collect();
    let shown = 6.min(chars.len() / 2);
    let tail: String = chars[chars.len() - shown..].iter().collect();
    format!("…{tail}")
}

fn seconds(d: Duration) -> String {
    format!("{:.1} s", d.as_secs_f64())
}
