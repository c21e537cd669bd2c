//! Token flows: an explicit fetch or refresh (RFC 6749 §4, §6), and the bearer for one
//! resource request with automatic renewal (RFC 6750), waiting, the renewal cap and the
//! fallback to a still-valid token.

use std::time::SystemTime;

use http::Response;

use super::exchange::Exchanging;
use super::{Answer, Call, Flow, Step};
use crate::error::{Error, UsageError};
use crate::rfc6749::Grant;
use crate::rfc6750::Bearer;
use crate::session::{
    Authorization, ExchangeKind, MAX_RENEWALS_PER_REQUEST, Pending, TokenSession,
};
use crate::token::Token;

/// `fetch_token(grant)` or `refresh_token()`: one token request whose answer becomes the
/// session's token.
#[derive(Debug)]
pub struct Fetch {
    start: Option<Start>,
    exchanging: Option<Exchanging>,
    answer: Answer<Token>,
}

#[derive(Debug)]
enum Start {
    Grant(Grant),
    Refresh,
}

impl Fetch {
    /// Requests a token with `grant` (password, client credentials, a custom grant, …).
    #[must_use]
    pub fn grant(grant: Grant) -> Self {
        Self::starting(Start::Grant(grant))
    }

    /// Refreshes now (or re-fetches client credentials), even a fresh token, even after an
    /// `invalid_grant`; fails with [`UsageError::RefreshInFlight`] while another refresh is in
    /// flight.
    #[must_use]
    pub fn refresh() -> Self {
        Self::starting(Start::Refresh)
    }

    fn starting(start: Start) -> Self {
        Self {
            start: Some(start),
            exchanging: None,
            answer: Answer::None,
        }
    }
}

impl Flow for Fetch {
    type Output = Token;

    fn poll(&mut self, session: &mut TokenSession, now: SystemTime) -> Step<Token> {
        if let Some(step) = self.answer.take_step() {
            return step;
        }
        if let Some(exchanging) = self.exchanging.as_mut().filter(|e| e.is_checking()) {
            let step = exchanging.poll(session, now);
            if matches!(step, Step::Done(_) | Step::TransportFailed) {
                self.exchanging = None;
            }
            return step;
        }
        let exchange = match self.start.take() {
            Some(Start::Grant(grant)) => session.fetch(&grant, now),
            Some(Start::Refresh) => session.refresh(now),
            None => Err(UsageError::CallOutstanding.into()),
        };
        match exchange {
            Ok(exchange) => {
                let (ticket, request) = exchange.into_parts();
                let renewal = ticket.kind() != ExchangeKind::Fetch;
                let purpose = super::Purpose::token(&ticket);
                self.exchanging = Some(Exchanging::new(ticket));
                Step::Send(Call::new(request, purpose).shared(renewal).consuming(true))
            }
            Err(error) => Step::Done(Err(error)),
        }
    }

    fn handle_response(
        &mut self,
        session: &mut TokenSession,
        response: Response<Vec<u8>>,
        sent_at: SystemTime,
    ) {
        if let Some(outcome) = Exchanging::respond(&mut self.exchanging, session, response, sent_at)
        {
            self.answer = Answer::Read(outcome);
        }
    }

    fn handle_failure(&mut self, session: &mut TokenSession, now: SystemTime) {
        if Exchanging::fail(&mut self.exchanging, session, now) {
            self.answer = Answer::Failed;
        }
    }
}

/// The bearer for one resource request: the current token while it is fresh; else a renewal
/// first (at most [`MAX_RENEWALS_PER_REQUEST`]), or a wait for another caller's. A renewal
/// this flow ran that fails does not fail the request while the old token is still valid
/// (the session backs off and serves it); otherwise the request ends with that failure and
/// never starts another renewal.
#[derive(Debug, Default)]
pub struct Authorize {
    renewals: u32,
    pending: Option<Pending>,
    exchanging: Option<Exchanging>,
    failure: Answer<Bearer>,
}

impl Authorize {
    /// A new authorization, for a first request or a replay.
    #[must_use]
    pub fn new() -> Self {
        Self::default()
    }
}

impl Flow for Authorize {
    type Output = Bearer;

    fn poll(&mut self, session: &mut TokenSession, now: SystemTime) -> Step<Bearer> {
        if let Some(exchanging) = &mut self.exchanging {
            if !exchanging.is_checking() {
                return Step::Done(Err(UsageError::CallOutstanding.into()));
            }
            match exchanging.poll(session, now).pass() {
                Ok(Step::TransportFailed) => self.failure = Answer::Failed,
                Ok(step) => return step,
                Err(outcome) => self.settle(outcome),
            }
            self.exchanging = None;
        }
        if let Some(step) = self.failure.take_step() {
            // After this flow's renewal failed: the old token if it is still served.
            return match session.usable_bearer(now) {
                Some(bearer) => Step::Done(Ok(bearer)),
                None => step,
            };
        }
        let decision = match self.pending.take() {
            Some(pending) => session.poll_pending(pending, now),
            None => session.poll_authorization(now),
        };
        match decision {
            Authorization::Ready(bearer) => Step::Done(Ok(bearer)),
            Authorization::Refresh(exchange) | Authorization::Refetch(exchange) => {
                let (ticket, request) = exchange.into_parts();
                if self.renewals == MAX_RENEWALS_PER_REQUEST {
                    // Never sent: given back, so nobody waits or backs off for it.
                    session.release_exchange(&ticket);
                    return Step::Done(Err(UsageError::RenewalLoop.into()));
                }
                self.renewals += 1;
                let purpose = super::Purpose::token(&ticket);
                self.exchanging = Some(Exchanging::new(ticket));
                Step::Send(Call::new(request, purpose).shared(true).consuming(true))
            }
            Authorization::Wait(pending) => {
                self.pending = Some(pending);
                Step::wait(now)
            }
            Authorization::Fail(error) => Step::Done(Err(error)),
        }
    }

    fn handle_response(
        &mut self,
        session: &mut TokenSession,
        response: Response<Vec<u8>>,
        sent_at: SystemTime,
    ) {
        if let Some(outcome) = Exchanging::respond(&mut self.exchanging, session, response, sent_at)
        {
            self.settle(outcome);
        }
    }

    fn handle_failure(&mut self, session: &mut TokenSession, now: SystemTime) {
        if Exchanging::fail(&mut self.exchanging, session, now) {
            self.failure = Answer::Failed;
        }
    }
}

impl Authorize {
    /// Records how this flow's renewal ended: renewed, or the token replaced meanwhile (decide
    /// again), or failed.
    fn settle(&mut self, outcome: Result<Token, Error>) {
        match outcome {
            Ok(_) | Err(Error::Usage(UsageError::Superseded)) => {}
            Err(error) => self.failure = Answer::Read(Err(error)),
        }
    }
}
