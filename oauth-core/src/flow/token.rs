//! Token flows: an explicit fetch or refresh (RFC 6749 §4, §6), and the bearer for one
//! resource request with automatic renewal (RFC 6750), waiting, the renewal cap and the
//! fallback to a still-valid token.

use std::time::SystemTime;

use http::Response;

use super::exchange::Exchanging;
use super::store::{Go, Held, StoreSync};
use super::{Answer, Call, Flow, Step};
use crate::error::{Error, UsageError};
use crate::rfc6749::Grant;
use crate::rfc6750::Bearer;
use crate::session::{
    Authorization, ExchangeKind, MAX_RENEWALS_PER_REQUEST, Pending, TokenSession,
};
use crate::token::Token;

/// `fetch_token(grant)` or `refresh_token()`: one token request whose answer becomes the
/// session's token. With a store, a refresh takes the fleet's lease first (a newer token
/// another replica stored is the answer) and commits under it; a new grant's token is put in
/// the store whatever it held (an explicit login wins). If the store fails, the flow ends with
/// its error while the session keeps the token (and stores it at the next request).
#[derive(Debug)]
pub struct Fetch {
    start: Option<Start>,
    exchanging: Option<Exchanging>,
    answer: Answer<Token>,
    store: StoreSync,
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

    /// Carries out the store's decision.
    fn go(&mut self, go: Go, session: &mut TokenSession, now: SystemTime) -> Step<Token> {
        match go {
            Go::Store(request) => Step::Store(request),
            Go::Send(held) => self.send(held),
            Go::Again => self.poll(session, now),
            Go::Fail(error) => Step::Done(Err(error)),
        }
    }

    fn send(&mut self, Held { ticket, request }: Held) -> Step<Token> {
        let renewal = ticket.kind() != ExchangeKind::Fetch;
        let purpose = super::Purpose::token(&ticket);
        self.exchanging = Some(Exchanging::new(ticket));
        Step::Send(Call::new(request, purpose).shared(renewal).consuming(true))
    }

    fn starting(start: Start) -> Self {
        Self {
            start: Some(start),
            exchanging: None,
            answer: Answer::None,
            store: StoreSync::explicit(),
        }
    }
}

impl Flow for Fetch {
    type Output = Token;

    fn poll(&mut self, session: &mut TokenSession, now: SystemTime) -> Step<Token> {
        if let Some(go) = self.store.resume(session, now) {
            return match (go, self.store.shared()) {
                (Go::Again, Some(token)) => Step::Done(Ok(token)),
                (go, _) => self.go(go, session, now),
            };
        }
        match std::mem::take(&mut self.answer) {
            Answer::Read(Ok(token)) => {
                // The new token goes to the store (a commit under the lease, else a put).
                return self.store.share(session, token);
            }
            Answer::None => {}
            failed => {
                // A failed renewal gives its lease back first.
                self.answer = failed;
                if let Some(go) = self.store.after_renewal(session, false) {
                    return self.go(go, session, now);
                }
                return self.answer.take_step().unwrap_or(Step::TransportFailed);
            }
        }
        if let Some(exchanging) = self.exchanging.as_mut().filter(|e| e.is_checking()) {
            return match exchanging.poll(session, now) {
                Step::Done(result) => {
                    // Checked and committed: on to the store, as any answer.
                    self.exchanging = None;
                    self.answer = Answer::Read(result);
                    self.poll(session, now)
                }
                step @ Step::TransportFailed => {
                    self.exchanging = None;
                    step
                }
                step => step,
            };
        }
        let exchange = match self.start.take() {
            Some(Start::Grant(grant)) => session.fetch(&grant, now),
            Some(Start::Refresh) => session.refresh(now),
            // Ended by a store step: a newer token another replica stored answers a refresh.
            None if self.exchanging.is_none() => {
                return Step::Done(session.token().cloned().ok_or(UsageError::NoToken.into()));
            }
            None => Err(UsageError::CallOutstanding.into()),
        };
        match exchange {
            Ok(exchange) => {
                let (ticket, request) = exchange.into_parts();
                let held = Held { ticket, request };
                if held.ticket.kind() == ExchangeKind::Fetch {
                    return self.send(held);
                }
                // A refresh shares the fleet's lease: never the same refresh token twice.
                let go = self.store.begin(session, held, now);
                self.go(go, session, now)
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
        if self.store.is_asking() {
            self.store.abandon(session, now);
        } else if Exchanging::fail(&mut self.exchanging, session, now) {
            self.answer = Answer::Failed;
        }
    }

    super::store_answers_to_field!();
}

/// The bearer for one resource request: the current token while it is fresh; else a renewal
/// first (at most [`MAX_RENEWALS_PER_REQUEST`]), or a wait for another caller's. A renewal
/// this flow ran that fails does not fail the request while the old token is still valid
/// (the session backs off and serves it); otherwise the request ends with that failure and
/// never starts another renewal. With a store, the renewal is shared with the other replicas
/// (see [`crate::store`]).
#[derive(Debug, Default)]
pub struct Authorize {
    renewals: u32,
    pending: Option<Pending>,
    exchanging: Option<Exchanging>,
    failure: Answer<Bearer>,
    store: StoreSync,
    /// How this flow's renewal ended, for the store: renewed, or failed.
    renewed: Option<bool>,
}

impl Authorize {
    /// A new authorization, for a first request or a replay.
    #[must_use]
    pub fn new() -> Self {
        Self::default()
    }
}

/// The most decisions one `poll` makes before it answers: each adopts a stored token, ends
/// a store step or a renewal, so a handful suffice; more would mean a store that keeps
/// changing under the session.
const MAX_DECISIONS: u32 = 8;

impl Flow for Authorize {
    type Output = Bearer;

    fn poll(&mut self, session: &mut TokenSession, now: SystemTime) -> Step<Bearer> {
        for _ in 0..MAX_DECISIONS {
            if let Some(step) = self.decide(session, now) {
                return step;
            }
        }
        Step::Done(Err(UsageError::RenewalLoop.into()))
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
        if self.store.is_asking() {
            self.store.abandon(session, now);
            self.failure = Answer::Failed;
        } else if Exchanging::fail(&mut self.exchanging, session, now) {
            self.failure = Answer::Failed;
            self.renewed = Some(false);
        }
    }

    super::store_answers_to_field!();
}

impl Authorize {
    /// One decision: a step to answer with, or `None` to decide again.
    fn decide(&mut self, session: &mut TokenSession, now: SystemTime) -> Option<Step<Bearer>> {
        if let Some(go) = self.store.resume(session, now) {
            return self.go(go, session);
        }
        if let Some(renewed) = self.renewed.take() {
            if let Some(go) = self.store.after_renewal(session, renewed) {
                return self.go(go, session);
            }
        }
        if let Some(exchanging) = &mut self.exchanging {
            if !exchanging.is_checking() {
                return Some(Step::Done(Err(UsageError::CallOutstanding.into())));
            }
            match exchanging.poll(session, now).pass() {
                Ok(Step::TransportFailed) => {
                    self.failure = Answer::Failed;
                    self.renewed = Some(false);
                }
                Ok(step) => return Some(step),
                Err(outcome) => self.settle(outcome),
            }
            self.exchanging = None;
            return None;
        }
        if let Some(step) = self.failure.take_step() {
            if let Some(go) = self.store.release_held() {
                self.failure = step_back(step);
                return self.go(go, session);
            }
            // After this flow's renewal failed: the old token if it is still served.
            return Some(match session.usable_bearer(now) {
                Some(bearer) => Step::Done(Ok(bearer)),
                None => step,
            });
        }
        // A token whose commit failed goes to the store before anything else.
        if let Some(go) = self.store.resave(session, now) {
            return self.go(go, session);
        }
        let decision = match self.pending.take() {
            Some(pending) => session.poll_pending(pending, now),
            None => session.poll_authorization(now),
        };
        match decision {
            Authorization::Ready(bearer) => match self.store.release_held() {
                Some(go) => self.go(go, session),
                None => Some(Step::Done(Ok(bearer))),
            },
            Authorization::Refresh(exchange) | Authorization::Refetch(exchange) => {
                let (ticket, request) = exchange.into_parts();
                let go = self.store.begin(session, Held { ticket, request }, now);
                self.go(go, session)
            }
            Authorization::Wait(pending) => {
                self.pending = Some(pending);
                Some(Step::wait(now))
            }
            Authorization::Fail(error) => {
                // No token, an expired one, a refused refresh token: another replica may
                // have stored a newer token (after a new login, say).
                if let Some(go) = self.store.read(session) {
                    return self.go(go, session);
                }
                match self.store.release_held() {
                    Some(go) => {
                        self.failure = Answer::Read(Err(error));
                        self.go(go, session)
                    }
                    None => Some(Step::Done(Err(error))),
                }
            }
        }
    }

    /// Carries out the store's decision.
    fn go(&mut self, go: Go, session: &mut TokenSession) -> Option<Step<Bearer>> {
        match go {
            Go::Store(request) => Some(Step::Store(request)),
            Go::Again => None,
            Go::Fail(error) => {
                self.failure = Answer::Read(Err(error));
                None
            }
            Go::Send(Held { ticket, request }) => {
                if self.renewals == MAX_RENEWALS_PER_REQUEST {
                    // Never sent: given back, so nobody waits or backs off for it.
                    session.release_exchange(&ticket);
                    self.failure = Answer::Read(Err(UsageError::RenewalLoop.into()));
                    self.renewed = Some(false);
                    return None;
                }
                self.renewals += 1;
                let purpose = super::Purpose::token(&ticket);
                self.exchanging = Some(Exchanging::new(ticket));
                Some(Step::Send(
                    Call::new(request, purpose).shared(true).consuming(true),
                ))
            }
        }
    }

    /// Records how this flow's renewal ended: renewed, or the token replaced meanwhile (decide
    /// again), or failed.
    fn settle(&mut self, outcome: Result<Token, Error>) {
        match outcome {
            Ok(_) => self.renewed = Some(true),
            Err(Error::Usage(UsageError::Superseded)) => self.renewed = Some(false),
            Err(error) => {
                self.failure = Answer::Read(Err(error));
                self.renewed = Some(false);
            }
        }
    }
}

/// A final step put back as the answer it came from.
fn step_back<T>(step: Step<T>) -> Answer<T> {
    match step {
        Step::Done(result) => Answer::Read(result),
        _ => Answer::Failed,
    }
}
