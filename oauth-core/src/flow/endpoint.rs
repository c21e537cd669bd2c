//! One request and one parse: token revocation (RFC 7009), introspection (RFC 7662), device
//! authorization (RFC 8628 §3.1) and one-off token requests (a token exchange, RFC 8693), as
//! flows so that every driver runs them the same way as the others.

use std::time::SystemTime;

use http::Response;

use super::{Answer, Call, Flow, Purpose, Step};
use crate::client::ClientConfig;
use crate::error::{Error, UsageError};
use crate::rfc6749::{Grant, PreparedPost, parse_token_response, token_request_with};
use crate::rfc7009::{TokenRef, parse_revocation_response, prepare_revocation};
use crate::rfc7662::{Introspection, parse_introspection_response, prepare_introspection};
use crate::rfc8628::{
    DeviceAuthorization, parse_device_authorization_response, prepare_device_authorization,
};
use crate::session::TokenSession;
use crate::token::Token;

type Parser<T> = fn(&Response<Vec<u8>>, SystemTime) -> Result<T, Error>;

/// A single endpoint call: the request is prepared up front (from the configuration) and
/// authenticated when sent (a client assertion is minted then), the answer parsed by the
/// endpoint's own parser. The session's token is not touched.
pub struct EndpointCall<T> {
    request: Option<Result<Prepared, Error>>,
    parse: Parser<T>,
    purpose: Purpose,
    answer: Answer<T>,
}

enum Prepared {
    Post(PreparedPost),
    Token(Box<Grant>),
}

impl<T> std::fmt::Debug for EndpointCall<T> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("EndpointCall")
            .field("sent", &self.request.is_none())
            .finish_non_exhaustive()
    }
}

impl EndpointCall<()> {
    /// Revokes `token` (RFC 7009 §2.1).
    pub fn revocation(config: &ClientConfig, token: TokenRef<'_>) -> Self {
        Self::post(
            prepare_revocation(config, token),
            Purpose::Revocation,
            |r, _| parse_revocation_response(r),
        )
    }
}

impl EndpointCall<Introspection> {
    /// Introspects `token` (RFC 7662 §2.1).
    pub fn introspection(config: &ClientConfig, token: TokenRef<'_>) -> Self {
        Self::post(
            prepare_introspection(config, token),
            Purpose::Introspection,
            |r, _| parse_introspection_response(r),
        )
    }
}

impl EndpointCall<DeviceAuthorization> {
    /// Starts a device authorization (RFC 8628 §3.1) for `scope` (else the configured
    /// default); give the answer to [`DeviceToken`](super::DeviceToken) after showing it.
    pub fn device_authorization(config: &ClientConfig, scope: Option<&str>) -> Self {
        Self::post(
            prepare_device_authorization(config, scope),
            Purpose::DeviceAuthorization,
            parse_device_authorization_response,
        )
    }
}

impl EndpointCall<Token> {
    /// A token request whose answer is returned and *not* made the session's token: a
    /// one-off token exchange (RFC 8693), say.
    pub fn token(grant: Grant) -> Self {
        let purpose = Purpose::Token {
            grant_type: grant.grant_type().to_owned(),
            reason: None,
        };
        Self {
            request: Some(Ok(Prepared::Token(Box::new(grant)))),
            parse: parse_token_response,
            purpose,
            answer: Answer::None,
        }
    }
}

impl<T> EndpointCall<T> {
    fn post(request: Result<PreparedPost, Error>, purpose: Purpose, parse: Parser<T>) -> Self {
        Self {
            request: Some(request.map(Prepared::Post)),
            parse,
            purpose,
            answer: Answer::None,
        }
    }
}

impl<T> Flow for EndpointCall<T> {
    type Output = T;

    fn poll(&mut self, session: &mut TokenSession, now: SystemTime) -> Step<T> {
        if let Some(step) = self.answer.take_step() {
            return step;
        }
        let mint = session.mint(now);
        let request = match self.request.take() {
            Some(Ok(Prepared::Post(post))) => post.finish(session.config(), &mint),
            Some(Ok(Prepared::Token(grant))) => token_request_with(session.config(), &grant, &mint),
            Some(Err(error)) => Err(error),
            None => Err(UsageError::CallOutstanding.into()),
        };
        match request {
            Ok(request) => Step::Send(Call::new(request, self.purpose.clone())),
            Err(error) => Step::Done(Err(error)),
        }
    }

    fn handle_response(
        &mut self,
        _session: &mut TokenSession,
        response: Response<Vec<u8>>,
        sent_at: SystemTime,
    ) {
        self.answer = Answer::Read((self.parse)(&response, sent_at));
    }

    fn handle_failure(&mut self, _session: &mut TokenSession, _now: SystemTime) {
        self.answer = Answer::Failed;
    }

    super::never_asks_store!();
}
