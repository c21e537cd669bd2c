//! The device access token request (RFC 8628 §3.4, §3.5): polling until the user approves.

use std::time::{Duration, SystemTime};

use http::Response;

use super::token::Fetch;
use super::{Flow, Step, WAIT_SLICE};
use crate::error::UsageError;
use crate::rfc8628::{DeviceAuthorization, SLOW_DOWN_INCREMENT};
use crate::session::TokenSession;
use crate::store::{StoreError, StoreReply};
use crate::token::Token;

/// Polls the token endpoint with a device code until the user approves (the token becomes
/// the session's, as with a fetch) or the authorization ends.
///
/// The schedule is the core's: the first poll one interval after the flow starts, the next
/// one interval after each answer; `authorization_pending` polls again, `slow_down` adds
/// [`SLOW_DOWN_INCREMENT`] to the interval for good (§3.5), any other error (`access_denied`,
/// `expired_token`) ends the flow. It ends with
/// [`UsageError::DeviceCodeExpired`] once the code's `expires_in` has passed, and with
/// [`UsageError::Cancelled`] after [`DeviceAuthorization::cancel`] (noticed within a
/// [`WAIT_SLICE`]). A request that gets no answer ends the flow with the transport error.
#[derive(Debug)]
pub struct DeviceToken {
    authorization: DeviceAuthorization,
    interval: Duration,
    next_poll: Option<SystemTime>,
    fetch: Option<Fetch>,
}

impl DeviceToken {
    /// Polls for `authorization`'s token.
    #[must_use]
    pub fn new(authorization: DeviceAuthorization) -> Self {
        Self {
            interval: authorization.interval(),
            authorization,
            next_poll: None,
            fetch: None,
        }
    }

    /// The current interval (grown by `slow_down` answers).
    #[must_use]
    pub fn interval(&self) -> Duration {
        self.interval
    }
}

impl Flow for DeviceToken {
    type Output = Token;

    fn poll(&mut self, session: &mut TokenSession, now: SystemTime) -> Step<Token> {
        if let Some(fetch) = self.fetch.as_mut() {
            let error = match fetch.poll(session, now).pass() {
                Ok(step) => return step,
                Err(Ok(token)) => return Step::Done(Ok(token)),
                Err(Err(error)) => error,
            };
            self.fetch = None;
            match error.oauth_error().map(|e| e.error()) {
                Some("authorization_pending") => {}
                Some("slow_down") => self.interval += SLOW_DOWN_INCREMENT,
                _ => return Step::Done(Err(error)),
            }
            self.next_poll = Some(now + self.interval);
        }
        if self.authorization.is_cancelled() {
            return Step::Done(Err(UsageError::Cancelled.into()));
        }
        let expires_at = self.authorization.expires_at();
        if now >= expires_at {
            return Step::Done(Err(UsageError::DeviceCodeExpired.into()));
        }
        let next_poll = *self.next_poll.get_or_insert(now + self.interval);
        if now < next_poll {
            let until = next_poll.min(expires_at).min(now + WAIT_SLICE);
            return Step::Wait { until };
        }
        let fetch = self.fetch.insert(Fetch::grant(self.authorization.grant()));
        fetch.poll(session, now)
    }

    fn handle_response(
        &mut self,
        session: &mut TokenSession,
        response: Response<Vec<u8>>,
        sent_at: SystemTime,
    ) {
        if let Some(fetch) = self.fetch.as_mut() {
            fetch.handle_response(session, response, sent_at);
        }
    }

    fn handle_failure(&mut self, session: &mut TokenSession, now: SystemTime) {
        if let Some(fetch) = self.fetch.as_mut() {
            fetch.handle_failure(session, now);
        }
    }

    fn handle_store(
        &mut self,
        session: &mut TokenSession,
        reply: Result<StoreReply, StoreError>,
        now: SystemTime,
    ) {
        if let Some(fetch) = self.fetch.as_mut() {
            fetch.handle_store(session, reply, now);
        }
    }
}
