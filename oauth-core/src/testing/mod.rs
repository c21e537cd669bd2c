//! Test doubles for code built on this crate: a manual clock and a scripted in-memory
//! authorization server, so a whole session can run without a network, deterministically.
//!
//! Enabled by the `testing` feature. The server imitates Keycloak's answers for the seed
//! scenario (password grant, refresh, removed session, bearer-protected resource); it is a test
//! double, not an authorization server to deploy.
//!
//! ```
//! use std::time::Duration;
//! use oauth_core::testing::{ManualClock, ScriptedServer};
//! use oauth_core::{Authorization, ClientConfig, Grant, TokenSession};
//!
//! let mut server = ScriptedServer::new();
//! let mut clock = ManualClock::new();
//! let config = ClientConfig::new("admin-cli").token_endpoint(ScriptedServer::TOKEN_ENDPOINT)?;
//! let mut session = TokenSession::new(config);
//!
//! let exchange = session.fetch(&Grant::password("admin", "admin"), clock.now())?;
//! let response = server.handle(exchange.request(), clock.now());
//! session.handle_token_response(exchange.ticket(), &response, clock.now())?;
//!
//! clock.advance(Duration::from_secs(45)); // past the clamped leeway of a 60 s token
//! let Authorization::Refresh(refresh) = session.poll_authorization(clock.now()) else { panic!() };
//! let response = server.handle(refresh.request(), clock.now());
//! session.handle_token_response(refresh.ticket(), &response, clock.now())?;
//! assert_eq!(server.token_requests("refresh_token"), 1);
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```

use std::collections::{HashMap, VecDeque};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use http::header::{AUTHORIZATION, CONTENT_TYPE, WWW_AUTHENTICATE};
use http::{Method, Request, Response, StatusCode};
use serde_json::json;

use crate::TokenSession;
use crate::flow::{Flow, Step};

/// A clock that moves only when told to. Starts at 2026-02-23T08:17:50Z, the moment the seed's
/// first Keycloak token was issued.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ManualClock {
    now: SystemTime,
}

impl Default for ManualClock {
    fn default() -> Self {
        Self::new()
    }
}

impl ManualClock {
    /// A clock at the seed's first `iat` (1771834670).
    #[must_use]
    pub fn new() -> Self {
        Self::at(UNIX_EPOCH + Duration::from_secs(1_771_834_670))
    }

    /// A clock at `now`.
    #[must_use]
    pub fn at(now: SystemTime) -> Self {
        Self { now }
    }

    /// The current simulated time.
    #[must_use]
    pub fn now(&self) -> SystemTime {
        self.now
    }

    /// Moves the clock forward.
    pub fn advance(&mut self, by: Duration) {
        self.now += by;
    }
}

/// A scripted in-memory authorization server and protected resource.
///
/// It answers token requests (password, refresh_token, client_credentials), revocation,
/// introspection, Keycloak's admin session removal and a bearer-protected resource, with
/// Keycloak's error texts. [`push_response`](Self::push_response) queues canned answers for
/// fault injection.
#[derive(Debug)]
pub struct ScriptedServer {
    access_token_ttl: Duration,
    rotate_refresh_tokens: bool,
    users: HashMap<String, String>,
    clients: HashMap<String, Option<String>>,
    next_id: u64,
    access_tokens: HashMap<String, (SystemTime, String)>,
    refresh_tokens: HashMap<String, String>,
    sessions: HashMap<String, bool>,
    counts: HashMap<String, usize>,
    queued: VecDeque<Response<Vec<u8>>>,
}

impl Default for ScriptedServer {
    fn default() -> Self {
        Self::new()
    }
}

impl ScriptedServer {
    /// The token endpoint URL the server answers on.
    pub const TOKEN_ENDPOINT: &'static str = "https://auth.test/token";
    /// The revocation endpoint URL.
    pub const REVOCATION_ENDPOINT: &'static str = "https://auth.test/revoke";
    /// The introspection endpoint URL.
    pub const INTROSPECTION_ENDPOINT: &'static str = "https://auth.test/introspect";
    /// A bearer-protected resource: 200 with body `1` for a live token, else 401.
    pub const RESOURCE: &'static str = "https://rs.test/users/count";
    /// Prefix of Keycloak's admin session removal; append the `session_state`.
    pub const SESSIONS: &'static str = "https://auth.test/admin/realms/master/sessions/";

    /// A server with user `admin`/`admin`, the public client `admin-cli`, 60 s access tokens
    /// (Keycloak's master realm) and no refresh-token rotation.
    #[must_use]
    pub fn new() -> Self {
        Self {
            access_token_ttl: Duration::from_secs(60),
            rotate_refresh_tokens: false,
            users: HashMap::from([("admin".to_owned(), "admin".to_owned())]),
            clients: HashMap::from([("admin-cli".to_owned(), None)]),
            next_id: 0,
            access_tokens: HashMap::new(),
            refresh_tokens: HashMap::new(),
            sessions: HashMap::new(),
            counts: HashMap::new(),
            queued: VecDeque::new(),
        }
    }

    /// Sets the access-token lifetime.
    #[must_use]
    pub fn access_token_ttl(mut self, ttl: Duration) -> Self {
        self.access_token_ttl = ttl;
        self
    }

    /// Issues a new refresh token on every refresh and refuses the old one.
    #[must_use]
    pub fn rotate_refresh_tokens(mut self, rotate: bool) -> Self {
        self.rotate_refresh_tokens = rotate;
        self
    }

    /// Adds a confidential client (it may use `client_secret_basic` or `client_secret_post`).
    #[must_use]
    pub fn confidential_client(mut self, id: &str, secret: &str) -> Self {
        self.clients.insert(id.to_owned(), Some(secret.to_owned()));
        self
    }

    /// The next request gets `response`, whatever it is (fault injection). Queued answers are
    /// used in order.
    pub fn push_response(&mut self, response: Response<Vec<u8>>) {
        self.queued.push_back(response);
    }

    /// How many token requests with this `grant_type` arrived (queued answers included).
    #[must_use]
    pub fn token_requests(&self, grant_type: &str) -> usize {
        self.counts.get(grant_type).copied().unwrap_or(0)
    }

    /// Ends a session as Keycloak's admin API does: its refresh tokens and access tokens die.
    pub fn remove_session(&mut self, session_state: &str) {
        self.sessions.insert(session_state.to_owned(), false);
    }

    /// Drives `flow` at `now`, answering each call it sends, until it asks for something else
    /// than a send: [`Step::Done`], [`Step::Wait`] (another flow holds an exchange) or
    /// [`Step::TransportFailed`] (never, here). At most 64 calls. A store step is answered
    /// [`StoreError::NotAttached`](crate::store::StoreError::NotAttached): use
    /// [`drive_with_store`](Self::drive_with_store) for a session with a store.
    pub fn drive<F: Flow>(
        &mut self,
        session: &mut TokenSession,
        flow: &mut F,
        now: SystemTime,
    ) -> Step<F::Output> {
        self.drive_inner(session, flow, None, now)
    }

    /// [`drive`](Self::drive) with a store: store steps go to `store` at `now`.
    pub fn drive_with_store<F: Flow>(
        &mut self,
        session: &mut TokenSession,
        flow: &mut F,
        store: &mut MemoryStore,
        now: SystemTime,
    ) -> Step<F::Output> {
        self.drive_inner(session, flow, Some(store), now)
    }

    fn drive_inner<F: Flow>(
        &mut self,
        session: &mut TokenSession,
        flow: &mut F,
        mut store: Option<&mut MemoryStore>,
        now: SystemTime,
    ) -> Step<F::Output> {
        for _ in 0..64 {
            match flow.poll(session, now) {
                Step::Send(call) => {
                    let response = self.handle(call.request(), now);
                    flow.handle_response(session, response, now);
                }
                Step::Store(request) => {
                    let reply = match store.as_deref_mut() {
                        Some(store) => store.execute(&request, now),
                        None => Err(crate::store::StoreError::NotAttached),
                    };
                    flow.handle_store(session, reply, now);
                }
                other => return other,
            }
        }
        Step::Done(Err(crate::UsageError::RenewalLoop.into()))
    }

    /// Answers one request at `now`.
    pub fn handle(&mut self, request: &Request<Vec<u8>>, now: SystemTime) -> Response<Vec<u8>> {
        let uri = request.uri().to_string();
        if uri == Self::TOKEN_ENDPOINT {
            let form = form(request.body());
            let grant_type = form.get("grant_type").cloned().unwrap_or_default();
            *self.counts.entry(grant_type).or_default() += 1;
        }
        if let Some(queued) = self.queued.pop_front() {
            return queued;
        }
        match (request.method(), uri.as_str()) {
            (&Method::POST, Self::TOKEN_ENDPOINT) => self.token(request, now),
            (&Method::POST, Self::REVOCATION_ENDPOINT) => self.revoke(request),
            (&Method::POST, Self::INTROSPECTION_ENDPOINT) => self.introspect(request, now),
            (&Method::DELETE, path) if path.starts_with(Self::SESSIONS) => {
                self.remove_session(&path[Self::SESSIONS.len()..]);
                reply(StatusCode::NO_CONTENT, "")
            }
            (_, Self::RESOURCE) => self.resource(request, now),
            _ => reply(StatusCode::NOT_FOUND, "not found"),
        }
    }

    fn token(&mut self, request: &Request<Vec<u8>>, now: SystemTime) -> Response<Vec<u8>> {
        let form = form(request.body());
        let Some(client_id) = self.authenticate(request, &form) else {
            return error(
                StatusCode::UNAUTHORIZED,
                "invalid_client",
                "Invalid client credentials",
            );
        };
        match form.get("grant_type").map(String::as_str) {
            Some("password") => {
                let user = form.get("username").cloned().unwrap_or_default();
                let password = form.get("password").cloned().unwrap_or_default();
                if self.users.get(&user) != Some(&password) {
                    return error(
                        StatusCode::UNAUTHORIZED,
                        "invalid_grant",
                        "Invalid user credentials",
                    );
                }
                let session = self.id("session");
                self.sessions.insert(session.clone(), true);
                self.issue(&session, true, now)
            }
            Some("refresh_token") => {
                let presented = form.get("refresh_token").cloned().unwrap_or_default();
                let Some(session) = self.refresh_tokens.get(&presented).cloned() else {
                    return error(
                        StatusCode::BAD_REQUEST,
                        "invalid_grant",
                        "Invalid refresh token",
                    );
                };
                if self.sessions.get(&session) != Some(&true) {
                    return error(
                        StatusCode::BAD_REQUEST,
                        "invalid_grant",
                        "Session not active",
                    );
                }
                if self.rotate_refresh_tokens {
                    self.refresh_tokens.remove(&presented);
                }
                self.issue(&session, self.rotate_refresh_tokens, now)
            }
            Some("client_credentials")
                if self.clients.get(&client_id).is_some_and(Option::is_some) =>
            {
                let session = self.id("session");
                self.sessions.insert(session.clone(), true);
                self.issue(&session, false, now)
            }
            _ => error(
                StatusCode::BAD_REQUEST,
                "unsupported_grant_type",
                "Unsupported grant type",
            ),
        }
    }

    fn issue(
        &mut self,
        session: &str,
        with_refresh_token: bool,
        now: SystemTime,
    ) -> Response<Vec<u8>> {
        let access_token = self.id("at");
        self.access_tokens.insert(
            access_token.clone(),
            (now + self.access_token_ttl, session.to_owned()),
        );
        let mut body = json!({
            "access_token": access_token,
            "expires_in": self.access_token_ttl.as_secs(),
            "token_type": "Bearer",
            "session_state": session,
            "scope": "email profile",
        });
        if with_refresh_token {
            let refresh_token = self.id("rt");
            self.refresh_tokens
                .insert(refresh_token.clone(), session.to_owned());
            body["refresh_token"] = json!(refresh_token);
        }
        json_reply(StatusCode::OK, &body)
    }

    fn authenticate(
        &self,
        request: &Request<Vec<u8>>,
        form: &HashMap<String, String>,
    ) -> Option<String> {
        let basic = request
            .headers()
            .get(AUTHORIZATION)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.strip_prefix("Basic "))
            .and_then(|b64| STANDARD.decode(b64).ok())
            .and_then(|raw| String::from_utf8(raw).ok())
            .and_then(|pair| {
                let (id, secret) = pair.split_once(':')?;
                let decode = |s: &str| form_urlencoded_value(s);
                Some((decode(id), Some(decode(secret))))
            });
        let (id, secret) = basic.or_else(|| {
            Some((
                form.get("client_id")?.clone(),
                form.get("client_secret").cloned(),
            ))
        })?;
        (self.clients.get(&id)? == &secret).then_some(id)
    }

    fn revoke(&mut self, request: &Request<Vec<u8>>) -> Response<Vec<u8>> {
        let form = form(request.body());
        if let Some(token) = form.get("token") {
            self.access_tokens.remove(token);
            self.refresh_tokens.remove(token);
        }
        reply(StatusCode::OK, "")
    }

    fn introspect(&self, request: &Request<Vec<u8>>, now: SystemTime) -> Response<Vec<u8>> {
        let form = form(request.body());
        let token = form.get("token").cloned().unwrap_or_default();
        match self.live_access_token(&token, now) {
            Some(exp) => json_reply(
                StatusCode::OK,
                &json!({"active": true, "scope": "email profile", "client_id": "admin-cli", "exp": unix(exp)}),
            ),
            None => json_reply(StatusCode::OK, &json!({"active": false})),
        }
    }

    fn resource(&self, request: &Request<Vec<u8>>, now: SystemTime) -> Response<Vec<u8>> {
        let token = request
            .headers()
            .get(AUTHORIZATION)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.strip_prefix("Bearer "));
        match token.and_then(|t| self.live_access_token(t, now)) {
            Some(_) => reply(StatusCode::OK, "1"),
            None => Response::builder()
                .status(StatusCode::UNAUTHORIZED)
                .header(WWW_AUTHENTICATE, r#"Bearer error="invalid_token""#)
                .body(Vec::new())
                .unwrap_or_default(),
        }
    }

    fn live_access_token(&self, token: &str, now: SystemTime) -> Option<SystemTime> {
        let (expires_at, session) = self.access_tokens.get(token)?;
        (now < *expires_at && self.sessions.get(session) == Some(&true)).then_some(*expires_at)
    }

    fn id(&mut self, prefix: &str) -> String {
        self.next_id += 1;
        format!("{prefix}-{}", self.next_id)
    }
}

fn form(body: &[u8]) -> HashMap<String, String> {
    url::form_urlencoded::parse(body).into_owned().collect()
}

fn form_urlencoded_value(value: &str) -> String {
    url::form_urlencoded::parse(format!("v={value}").as_bytes())
        .next()
        .map(|(_, v)| v.into_owned())
        .unwrap_or_default()
}

fn unix(time: SystemTime) -> u64 {
    time.duration_since(UNIX_EPOCH)
        .map(|d| d.as_secs())
        .unwrap_or(0)
}

fn reply(status: StatusCode, body: &str) -> Response<Vec<u8>> {
    Response::builder()
        .status(status)
        .body(body.as_bytes().to_vec())
        .unwrap_or_default()
}

fn json_reply(status: StatusCode, body: &serde_json::Value) -> Response<Vec<u8>> {
    Response::builder()
        .status(status)
        .header(CONTENT_TYPE, "application/json")
        .body(body.to_string().into_bytes())
        .unwrap_or_default()
}

fn error(status: StatusCode, code: &str, description: &str) -> Response<Vec<u8>> {
    json_reply(
        status,
        &json!({"error": code, "error_description": description}),
    )
}

/// Entropy for deterministic tests: [`fill`](crate::Entropy::fill) hands out the bytes
/// `start, start+1, …` (wrapping), continuing where the last call stopped, so every `jti` is
/// known in advance and each differs from the last. ECDSA and RSA signatures still draw from
/// the `ring` source given (ring takes no other), so only HMAC and Ed25519 signatures are
/// fully fixed.
pub struct FixedEntropy {
    next: std::sync::Mutex<u8>,
    signing: ring::rand::SystemRandom,
}

impl std::fmt::Debug for FixedEntropy {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("FixedEntropy").finish_non_exhaustive()
    }
}

impl FixedEntropy {
    /// Bytes counting up from `start`; signatures that need randomness draw from `signing`.
    #[must_use]
    pub fn new(start: u8, signing: ring::rand::SystemRandom) -> Self {
        Self {
            next: std::sync::Mutex::new(start),
            signing,
        }
    }
}

impl crate::Entropy for FixedEntropy {
    fn fill(&self, dest: &mut [u8]) -> Result<(), crate::EntropyUnavailable> {
        let mut next = self
            .next
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        for byte in dest {
            *byte = *next;
            *next = next.wrapping_add(1);
        }
        Ok(())
    }

    fn signing_rng(&self) -> &dyn ring::rand::SecureRandom {
        &self.signing
    }
}

mod store;
pub use store::MemoryStore;
