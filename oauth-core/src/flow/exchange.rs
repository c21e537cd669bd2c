//! A token exchange's answer on its way into the session, shared by the token flows: read;
//! for a refresh of an OpenID Connect login that brings a new ID token, that token validated
//! (keys fetched as needed) and checked against the login's (OIDC Core §12.2); only then
//! committed. A token that fails is not committed: the exchange fails with the check's error.

use std::time::SystemTime;

use http::Response;

use super::{Call, Flow, Step, ValidateIdToken};
use crate::error::Error;
use crate::oidc::IdTokenExpectations;
use crate::session::{ExchangeKind, ExchangeTicket, TokenSession};
use crate::token::Token;

#[derive(Debug)]
pub(crate) struct Exchanging {
    ticket: ExchangeTicket,
    check: Option<(Box<Token>, ValidateIdToken)>,
    /// The server asked for a DPoP nonce: the request goes once more at the next `poll`.
    resend: bool,
}

impl Exchanging {
    pub(crate) fn new(ticket: ExchangeTicket) -> Self {
        Self {
            ticket,
            check: None,
            resend: false,
        }
    }

    /// Whether `poll` goes on: a refreshed ID token is being checked, or the request must be
    /// sent again with a DPoP nonce.
    pub(crate) fn is_checking(&self) -> bool {
        self.check.is_some() || self.resend
    }

    /// The answer to the token request: its outcome, or `None` while a refreshed ID token is
    /// still to be checked.
    pub(crate) fn handle_token_response(
        &mut self,
        session: &mut TokenSession,
        response: &Response<Vec<u8>>,
        sent_at: SystemTime,
    ) -> Option<Result<Token, Error>> {
        if session.wants_dpop_retry(&mut self.ticket, response) {
            self.resend = true;
            return None;
        }
        let token = match session.read_token_response(&self.ticket, response, sent_at) {
            Ok(token) => token,
            Err(error) => return Some(Err(error)),
        };
        let refreshed_id_token = token.id_token().cloned().filter(|_| {
            self.ticket.kind() == ExchangeKind::Refresh && session.id_token_claims().is_some()
        });
        match refreshed_id_token {
            Some(id_token) => {
                // §12.2: no nonce is expected (one that comes must be the login's, checked
                // with the other claims below).
                let expectations = IdTokenExpectations::default();
                let access_token = Some(token.access_token().clone());
                let validate = ValidateIdToken::new(id_token, expectations, access_token);
                self.check = Some((Box::new(token), validate));
                None
            }
            None => {
                let committed = session.commit_token(&self.ticket, token);
                Some(committed.map(|update| update.new_token().clone()))
            }
        }
    }

    /// The check of a refreshed ID token, step by step; `Done` once committed or failed.
    pub(crate) fn poll(&mut self, session: &mut TokenSession, now: SystemTime) -> Step<Token> {
        if self.resend {
            self.resend = false;
            return match session.rebuild_exchange(&self.ticket, now) {
                Ok(request) => Step::Send(
                    Call::new(request, super::Purpose::token(&self.ticket))
                        .shared(self.ticket.kind() != ExchangeKind::Fetch)
                        .consuming(true),
                ),
                Err(error) => Step::Done(Err(session.fail_exchange(&self.ticket, error))),
            };
        }
        let Some((_, validate)) = &mut self.check else {
            return Step::TransportFailed;
        };
        let validated = match validate.poll(session, now).pass() {
            Ok(Step::TransportFailed) => {
                session.handle_exchange_failure(&self.ticket);
                self.check = None;
                return Step::TransportFailed;
            }
            Ok(step) => return step,
            Err(validated) => validated,
        };
        let Some((token, _)) = self.check.take() else {
            return Step::TransportFailed;
        };
        let checked = validated.and_then(|claims| {
            if let Some(login) = session.id_token_claims() {
                login.check_refreshed(&claims)?;
            }
            Ok(claims)
        });
        Step::Done(match checked {
            Ok(claims) => session
                .commit_login(&self.ticket, *token, Some(claims))
                .map(|update| update.new_token().clone()),
            Err(error) => Err(session.fail_exchange(&self.ticket, error)),
        })
    }

    /// The answer to a key fetch of the check.
    pub(crate) fn handle_check_response(
        &mut self,
        session: &mut TokenSession,
        response: Response<Vec<u8>>,
        sent_at: SystemTime,
    ) {
        if let Some((_, validate)) = &mut self.check {
            validate.handle_response(session, response, sent_at);
        }
    }

    /// A call of this exchange got no answer: the token request itself, or a key fetch.
    pub(crate) fn handle_failure(&mut self, session: &mut TokenSession, now: SystemTime) {
        match &mut self.check {
            Some((_, validate)) => validate.handle_failure(session, now),
            None => session.handle_exchange_failure(&self.ticket),
        }
    }

    /// Hands `response` to the exchange in `slot` (the token answer, or a key set for its
    /// check): the outcome once the exchange ended, which empties `slot`.
    pub(crate) fn respond(
        slot: &mut Option<Self>,
        session: &mut TokenSession,
        response: Response<Vec<u8>>,
        sent_at: SystemTime,
    ) -> Option<Result<Token, Error>> {
        let exchanging = slot.as_mut()?;
        if exchanging.check.is_some() {
            exchanging.handle_check_response(session, response, sent_at);
            return None;
        }
        let outcome = exchanging.handle_token_response(session, &response, sent_at);
        if outcome.is_some() {
            *slot = None;
        }
        outcome
    }

    /// Reports that the call of the exchange in `slot` got no answer: `true` when that ended
    /// the exchange (its token request failed), which empties `slot`; a failed key fetch ends
    /// it at the next `poll`.
    pub(crate) fn fail(
        slot: &mut Option<Self>,
        session: &mut TokenSession,
        now: SystemTime,
    ) -> bool {
        let Some(exchanging) = slot.as_mut() else {
            return false;
        };
        exchanging.handle_failure(session, now);
        let ended = !exchanging.is_checking();
        if ended {
            *slot = None;
        }
        ended
    }
}
