//! One request and one parse: token revocation (RFC 7009) and introspection (RFC 7662), as
//! flows so that every driver runs them the same way as the others.

use std::time::SystemTime;

use http::{Request, Response};

use super::{Answer, Call, Flow, Step};
use crate::client::ClientConfig;
use crate::error::{Error, UsageError};
use crate::rfc7009::{TokenRef, parse_revocation_response, revocation_request};
use crate::rfc7662::{Introspection, introspection_request, parse_introspection_response};
use crate::session::TokenSession;

type Parser<T> = fn(&Response<Vec<u8>>) -> Result<T, Error>;

/// A single endpoint call: the request is built up front (from the configuration), the answer
/// parsed by the endpoint's own parser.
pub struct EndpointCall<T> {
    request: Option<Result<Request<Vec<u8>>, Error>>,
    parse: Parser<T>,
    answer: Answer<T>,
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
        Self::new(revocation_request(config, token), |r| {
            parse_revocation_response(r)
        })
    }
}

impl EndpointCall<Introspection> {
    /// Introspects `token` (RFC 7662 §2.1).
    pub fn introspection(config: &ClientConfig, token: TokenRef<'_>) -> Self {
        Self::new(introspection_request(config, token), |r| {
            parse_introspection_response(r)
        })
    }
}

impl<T> EndpointCall<T> {
    fn new(request: Result<Request<Vec<u8>>, Error>, parse: Parser<T>) -> Self {
        Self {
            request: Some(request),
            parse,
            answer: Answer::None,
        }
    }
}

impl<T> Flow for EndpointCall<T> {
    type Output = T;

    fn poll(&mut self, _session: &mut TokenSession, _now: SystemTime) -> Step<T> {
        if let Some(step) = self.answer.take_step() {
            return step;
        }
        match self.request.take() {
            Some(Ok(request)) => Step::Send(Call::new(request)),
            Some(Err(error)) => Step::Done(Err(error)),
            None => Step::Done(Err(UsageError::CallOutstanding.into())),
        }
    }

    fn handle_response(
        &mut self,
        _session: &mut TokenSession,
        response: Response<Vec<u8>>,
        _sent_at: SystemTime,
    ) {
        self.answer = Answer::Read((self.parse)(&response));
    }

    fn handle_failure(&mut self, _session: &mut TokenSession, _now: SystemTime) {
        self.answer = Answer::Failed;
    }
}
