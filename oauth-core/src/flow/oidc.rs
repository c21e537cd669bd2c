//! OpenID Connect flows: ID token validation with the shared key fetch, the code exchange
//! (callback → token request → keys → ID token → commit), and userinfo with its replay.

use std::time::SystemTime;

use http::Response;

use super::store::{Go, StoreSync};
use super::{Answer, Authorize, Call, Flow, Step};
use crate::error::{Error, UsageError};
use crate::oidc::{
    IdTokenClaims, IdTokenStep, IdTokenVerifier, UserInfo, parse_userinfo_response,
    userinfo_request,
};
use crate::rfc6749::authorization::{CodeExchange, IdTokenExpectations, PendingAuthorization};
use crate::rfc6749::parse_token_response;
use crate::rfc6750::Bearer;
use crate::secret::{AccessToken, IdToken};
use crate::session::{ExchangeTicket, ResourceVerdict, TokenSession};
use crate::store::{StoreError, StoreReply};
use crate::token::Token;

/// Validates an ID token against the provider's keys (OIDC Core §3.1.3.7), fetching them when
/// missing or stale, and once more when the token names a `kid` the cached set lacks (at most
/// once per [`JwksCache`](crate::oidc::JwksCache) interval). Concurrent validations share one
/// fetch: while one is in flight the others wait for it.
#[derive(Debug)]
pub struct ValidateIdToken {
    id_token: IdToken,
    expectations: IdTokenExpectations,
    access_token: Option<AccessToken>,
    just_fetched: bool,
    fetching: bool,
    answer: Answer<IdTokenClaims>,
}

impl ValidateIdToken {
    /// Validates `id_token` against `expectations` (nonce, `max_age`) and, when given, the
    /// access token it was issued with (`at_hash`).
    #[must_use]
    pub fn new(
        id_token: IdToken,
        expectations: IdTokenExpectations,
        access_token: Option<AccessToken>,
    ) -> Self {
        Self {
            id_token,
            expectations,
            access_token,
            just_fetched: false,
            fetching: false,
            answer: Answer::None,
        }
    }
}

impl Flow for ValidateIdToken {
    type Output = IdTokenClaims;

    fn poll(&mut self, session: &mut TokenSession, now: SystemTime) -> Step<IdTokenClaims> {
        if let Some(step) = self.answer.take_step() {
            return step;
        }
        if self.fetching {
            return Step::Done(Err(UsageError::CallOutstanding.into()));
        }
        let step = IdTokenVerifier::new(session.config())
            .map_err(Error::from)
            .and_then(|verifier| {
                session.jwks().validate_id_token(
                    session.config(),
                    &verifier,
                    &self.id_token,
                    &self.expectations,
                    self.access_token.as_ref(),
                    now,
                    self.just_fetched,
                )
            });
        match step {
            Ok(IdTokenStep::Validated(claims)) => Step::Done(Ok(claims)),
            Ok(IdTokenStep::Fetch(_)) if session.jwks().fetch_in_flight(now) => Step::wait(now),
            Ok(IdTokenStep::Fetch(request)) => {
                session.jwks_mut().begin_fetch(now);
                self.fetching = true;
                Step::Send(Call::new(request, super::Purpose::Keys).shared(true))
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
        if std::mem::take(&mut self.fetching) {
            if let Err(error) = session.jwks_mut().handle_jwks_response(&response, sent_at) {
                self.answer = Answer::Read(Err(error));
            }
            self.just_fetched = true;
        }
    }

    fn handle_failure(&mut self, session: &mut TokenSession, now: SystemTime) {
        if std::mem::take(&mut self.fetching) {
            session.jwks_mut().handle_jwks_failure(now);
            self.answer = Answer::Failed;
        }
    }

    super::never_asks_store!();
}

/// The end of the authorization code flow: the code exchanged (with the PKCE verifier), the
/// ID token validated, and only then the token and the login's claims made the session's.
#[derive(Debug)]
pub struct Login {
    stage: LoginStage,
    /// With a store, the login's token is put there for the other replicas.
    store: StoreSync,
}

#[derive(Debug)]
enum LoginStage {
    Start(CodeExchange),
    Exchanging(ExchangeTicket, IdTokenExpectations),
    /// The server asked for a DPoP nonce: the code exchange goes once more.
    Resend(ExchangeTicket, IdTokenExpectations),
    Validating(ExchangeTicket, Box<Token>, ValidateIdToken),
    Ended(Answer<Token>),
}

impl Login {
    /// Checks the redirect back from the provider (`iss`, `state`, `error`, `code`) before
    /// anything is sent.
    ///
    /// # Errors
    /// [`Error::Callback`] for a forged or stale redirect, [`Error::OAuth`] for an error the
    /// provider sent back (`access_denied`).
    pub fn new(pending: PendingAuthorization, callback_url: &str) -> Result<Self, Error> {
        Ok(Self {
            stage: LoginStage::Start(pending.callback(callback_url)?),
            store: StoreSync::explicit(),
        })
    }

    /// Commits the token (with the claims) and ends.
    fn commit(
        &mut self,
        session: &mut TokenSession,
        ticket: &ExchangeTicket,
        token: Token,
        claims: Option<IdTokenClaims>,
    ) {
        let outcome = session.commit_login(ticket, token, claims);
        self.stage = LoginStage::Ended(Answer::Read(outcome.map(|u| u.new_token().clone())));
    }
}

impl Flow for Login {
    type Output = Token;

    fn poll(&mut self, session: &mut TokenSession, now: SystemTime) -> Step<Token> {
        if let Some(go) = self.store.resume(session, now) {
            return Step::Done(match (go, self.store.shared()) {
                (Go::Fail(error), _) => Err(error),
                (_, Some(token)) => Ok(token),
                (_, None) => Err(UsageError::CallOutstanding.into()),
            });
        }
        let stage = std::mem::replace(&mut self.stage, LoginStage::Ended(Answer::None));
        match stage {
            // Logged in: with a store, the token goes there before the login ends.
            LoginStage::Ended(Answer::Read(Ok(token))) => self.store.share(session, token),
            LoginStage::Start(CodeExchange {
                grant,
                expectations,
            }) => match session.fetch(&grant, now) {
                Ok(exchange) => {
                    let (ticket, request) = exchange.into_parts();
                    let purpose = super::Purpose::token(&ticket);
                    self.stage = LoginStage::Exchanging(ticket, expectations);
                    Step::Send(Call::new(request, purpose).consuming(true))
                }
                Err(error) => Step::Done(Err(error)),
            },
            LoginStage::Validating(ticket, token, mut validate) => {
                match validate.poll(session, now).pass() {
                    Ok(step) => {
                        self.stage = LoginStage::Validating(ticket, token, validate);
                        step
                    }
                    Err(Ok(claims)) => {
                        self.commit(session, &ticket, *token, Some(claims));
                        self.poll(session, now)
                    }
                    Err(Err(error)) => Step::Done(Err(error)),
                }
            }
            LoginStage::Resend(ticket, expectations) => {
                match session.rebuild_exchange(&ticket, now) {
                    Ok(request) => {
                        let purpose = super::Purpose::token(&ticket);
                        self.stage = LoginStage::Exchanging(ticket, expectations);
                        Step::Send(Call::new(request, purpose).consuming(true))
                    }
                    Err(error) => Step::Done(Err(session.fail_exchange(&ticket, error))),
                }
            }
            LoginStage::Exchanging(..) => Step::Done(Err(UsageError::CallOutstanding.into())),
            LoginStage::Ended(mut answer) => answer
                .take_step()
                .unwrap_or(Step::Done(Err(UsageError::CallOutstanding.into()))),
        }
    }

    fn handle_response(
        &mut self,
        session: &mut TokenSession,
        response: Response<Vec<u8>>,
        sent_at: SystemTime,
    ) {
        match &mut self.stage {
            LoginStage::Exchanging(ticket, expectations) => {
                if session.wants_dpop_retry(ticket, &response) {
                    let (ticket, expectations) = (ticket.clone(), std::mem::take(expectations));
                    self.stage = LoginStage::Resend(ticket, expectations);
                    return;
                }
                let ticket = ticket.clone();
                let checked = parse_token_response(&response, sent_at).and_then(|token| {
                    let id_token = expectations.id_token_of(&token)?.cloned();
                    Ok((token, id_token))
                });
                match checked {
                    Ok((token, None)) => self.commit(session, &ticket, token, None),
                    Ok((token, Some(id_token))) => {
                        let expectations = std::mem::take(expectations);
                        let access_token = Some(token.access_token().clone());
                        let validate = ValidateIdToken::new(id_token, expectations, access_token);
                        self.stage = LoginStage::Validating(ticket, Box::new(token), validate);
                    }
                    Err(error) => self.stage = LoginStage::Ended(Answer::Read(Err(error))),
                }
            }
            LoginStage::Validating(_, _, validate) => {
                validate.handle_response(session, response, sent_at);
            }
            _ => {}
        }
    }

    fn handle_failure(&mut self, session: &mut TokenSession, now: SystemTime) {
        if self.store.is_asking() {
            self.store.abandon(session, now);
            return;
        }
        match &mut self.stage {
            LoginStage::Exchanging(..) => self.stage = LoginStage::Ended(Answer::Failed),
            LoginStage::Validating(_, _, validate) => validate.handle_failure(session, now),
            _ => {}
        }
    }

    super::store_answers_to_field!();
}

/// The user's claims from the userinfo endpoint (OIDC Core §5.3) with the session's token,
/// renewed first when due and replayed after a `401` `invalid_token` as the session decides;
/// their `sub` must be the login's.
#[derive(Debug, Default)]
pub struct Userinfo {
    authorize: Authorize,
    bearer: Option<Bearer>,
    calling: bool,
    replays: u32,
    uri: Option<http::Uri>,
    answer: Answer<UserInfo>,
}

impl Userinfo {
    /// Fetches the claims of the session's user.
    #[must_use]
    pub fn new() -> Self {
        Self::default()
    }
}

impl Flow for Userinfo {
    type Output = UserInfo;

    fn poll(&mut self, session: &mut TokenSession, now: SystemTime) -> Step<UserInfo> {
        if let Some(step) = self.answer.take_step() {
            return step;
        }
        if session.id_token_claims().is_none() {
            return Step::Done(Err(UsageError::NoIdToken.into()));
        }
        let bearer = match &self.bearer {
            Some(bearer) => bearer,
            None => match self.authorize.poll(session, now).pass() {
                Ok(step) => return step,
                Err(Err(error)) => return Step::Done(Err(error)),
                Err(Ok(bearer)) => self.bearer.insert(bearer),
            },
        };
        let signed = userinfo_request(session.config(), bearer.access_token()).and_then(|mut r| {
            if bearer.is_dpop() {
                r.headers_mut()
                    .insert(http::header::AUTHORIZATION, bearer.header_value().clone());
                if let Some(proof) = bearer.dpop_proof(r.method(), r.uri(), now)? {
                    r.headers_mut().insert(crate::rfc9449::DPOP_HEADER, proof);
                }
            }
            Ok(r)
        });
        match signed {
            Ok(request) => {
                self.calling = true;
                self.uri = Some(request.uri().clone());
                Step::Send(Call::new(request, super::Purpose::Userinfo))
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
        if !std::mem::take(&mut self.calling) {
            return self.authorize.handle_response(session, response, sent_at);
        }
        let Some(bearer) = self.bearer.take() else {
            return;
        };
        let uri = self.uri.take().unwrap_or_default();
        let verdict = session.handle_resource_response(
            &bearer,
            self.replays,
            &uri,
            response.status(),
            response.headers(),
        );
        if verdict == ResourceVerdict::Replay {
            self.replays += 1;
            self.authorize = Authorize::new();
            return;
        }
        let sub = session
            .id_token_claims()
            .map(|claims| claims.sub().to_owned());
        self.answer = Answer::Read(match sub {
            Some(sub) => parse_userinfo_response(&response, &sub),
            None => Err(UsageError::NoIdToken.into()),
        });
    }

    fn handle_failure(&mut self, session: &mut TokenSession, now: SystemTime) {
        if std::mem::take(&mut self.calling) {
            self.answer = Answer::Failed;
        } else {
            self.authorize.handle_failure(session, now);
        }
    }

    fn handle_store(
        &mut self,
        session: &mut TokenSession,
        reply: Result<StoreReply, StoreError>,
        now: SystemTime,
    ) {
        self.authorize.handle_store(session, reply, now);
    }
}

/// The authorization request pushed to the provider (RFC 9126, with a signed request object
/// when the client sends those): the URL to send the browser to carries only `client_id`
/// and `request_uri`. `state`, PKCE and `nonce` are drawn from the session's entropy.
#[derive(Debug)]
pub struct PushAuthorization {
    request: Option<crate::oidc::AuthorizationRequest>,
    pending: Option<PendingAuthorization>,
    answer: Answer<(url::Url, PendingAuthorization)>,
}

impl PushAuthorization {
    /// Pushes `request`.
    #[must_use]
    pub fn new(request: crate::oidc::AuthorizationRequest) -> Self {
        Self {
            request: Some(request),
            pending: None,
            answer: Answer::None,
        }
    }
}

impl Flow for PushAuthorization {
    type Output = (url::Url, PendingAuthorization);

    fn poll(&mut self, session: &mut TokenSession, now: SystemTime) -> Step<Self::Output> {
        if let Some(step) = self.answer.take_step() {
            return step;
        }
        let Some(request) = self.request.take() else {
            return Step::Done(Err(UsageError::CallOutstanding.into()));
        };
        let mut entropy = [0u8; crate::oidc::AUTHORIZATION_ENTROPY];
        let pushed = session.fill_entropy(&mut entropy).and_then(|()| {
            crate::oidc::pushed_authorization_request(
                session.config(),
                &request,
                &entropy,
                &session.mint(now),
            )
        });
        match pushed {
            Ok((http_request, pending)) => {
                self.pending = Some(pending);
                Step::Send(Call::new(http_request, super::Purpose::PushedAuthorization))
            }
            Err(error) => Step::Done(Err(error)),
        }
    }

    fn handle_response(
        &mut self,
        session: &mut TokenSession,
        response: Response<Vec<u8>>,
        _sent_at: SystemTime,
    ) {
        let outcome = crate::oidc::parse_pushed_authorization_response(&response)
            .and_then(|pushed| crate::oidc::pushed_authorization_url(session.config(), &pushed))
            .and_then(|url| {
                self.pending
                    .take()
                    .map(|pending| (url, pending))
                    .ok_or_else(|| UsageError::CallOutstanding.into())
            });
        self.answer = Answer::Read(outcome);
    }

    fn handle_failure(&mut self, _session: &mut TokenSession, _now: SystemTime) {
        self.answer = Answer::Failed;
    }

    super::never_asks_store!();
}
