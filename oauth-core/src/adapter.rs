//! For adapter authors: the public API every adapter's session shares, generated once so the
//! three adapters speak the same words with the same documentation. Each method is a one-liner
//! over the adapter's driver (`drive`) and the core's flows.

/// Adds the session methods every adapter shares (`fetch_token`, `refresh_token`,
/// `revoke_token`, `introspect_token`, `exchange_token`, `device_authorization`,
/// `device_token`, `token`, `set_token`, `refresh_at`, `from_issuer`, `authorization_url`,
/// `exchange_code`, `id_token_claims`, `userinfo`, `validate_id_token`).
///
/// Invoke it as `session_methods!()` in a blocking session, whose `self` has `drive(flow)`
/// (returning `Result<_, Error>`), `lock()` (the `TokenSession`) and `wake_all()`; and as
/// `session_methods!(async, await, driver)` in an async one, whose `self.driver` has those
/// (`drive` returning a future). The session must have `config()` and `builder(client_id)`
/// with a `discover(issuer)`; its `Error` must have an `Entropy` variant and convert from the
/// core's errors. The operating system's randomness is drawn with `ring`.
#[macro_export]
macro_rules! session_methods {
    ($($async:ident, $await:ident, $driver:ident)?) => {
        /// A builder for `client_id` configured by OpenID Connect Discovery from `issuer`
        /// (the document's `issuer` must equal `issuer` exactly).
        ///
        /// # Errors
        /// A transport error, or a document that is not metadata for this issuer
        /// ([`ResponseError::IssuerMismatch`]($crate::ResponseError::IssuerMismatch)).
        pub $($async)? fn from_issuer(
            issuer: &str,
            client_id: impl Into<String>,
        ) -> Result<SessionBuilder, Error> {
            Self::builder(client_id).discover(issuer)$(.$await)?
        }

        /// Requests a token with `grant` (password, client credentials, JWT bearer, token
        /// exchange, a custom grant, …) and makes it the session's token
        /// ([`Fetch::grant`]($crate::flow::Fetch::grant)). A repeatable grant (client
        /// credentials, JWT bearer, token exchange) is sent again when the token is due and
        /// no refresh token came. The claims of an earlier OpenID Connect login are cleared.
        /// Once sent, the exchange is applied even if an async caller goes away.
        ///
        /// # Errors
        /// The server's OAuth error (`invalid_grant: Invalid user credentials`, say), an
        /// unexpected response, or a transport error. The previous token is kept on any error.
        pub $($async)? fn fetch_token(&self, grant: $crate::Grant) -> Result<$crate::Token, Error> {
            self$(.$driver)?.drive($crate::flow::Fetch::grant(grant))$(.$await)?
        }

        /// Refreshes the token now (or fetches a new client-credentials token), even if it is
        /// still fresh, and even after an `invalid_grant`
        /// ([`Fetch::refresh`]($crate::flow::Fetch::refresh)). The login's claims are kept:
        /// a refresh continues the same grant.
        ///
        /// # Errors
        /// As [`fetch_token`](Self::fetch_token), nothing lost;
        /// [`UsageError::RefreshInFlight`]($crate::UsageError::RefreshInFlight) while another
        /// refresh is in flight (nothing is sent: two refreshes with one refresh token would
        /// make a rotating server revoke the grant; its result is the session's token soon).
        pub $($async)? fn refresh_token(&self) -> Result<$crate::Token, Error> {
            self$(.$driver)?.drive($crate::flow::Fetch::refresh())$(.$await)?
        }

        /// Revokes a token (RFC 7009). The session keeps its token until told otherwise.
        ///
        /// # Errors
        /// The server's OAuth error, an unexpected response, or a transport error.
        pub $($async)? fn revoke_token(&self, token: $crate::TokenRef<'_>) -> Result<(), Error> {
            self$(.$driver)?.drive($crate::flow::EndpointCall::revocation(self.config(), token))$(.$await)?
        }

        /// Introspects a token (RFC 7662).
        ///
        /// # Errors
        /// The server's OAuth error, an unexpected response, or a transport error.
        pub $($async)? fn introspect_token(
            &self,
            token: $crate::TokenRef<'_>,
        ) -> Result<$crate::Introspection, Error> {
            self$(.$driver)?.drive($crate::flow::EndpointCall::introspection(self.config(), token))$(.$await)?
        }

        /// A token request whose token is returned and *not* made the session's
        /// ([`EndpointCall::token`]($crate::flow::EndpointCall::token)): a one-off token
        /// exchange (RFC 8693) for another audience, say. The answer's
        /// [`issued_token_type`]($crate::Token::issued_token_type) says what was issued.
        ///
        /// # Errors
        /// The server's OAuth error, an unexpected response, or a transport error.
        pub $($async)? fn exchange_token(
            &self,
            grant: impl Into<$crate::Grant>,
        ) -> Result<$crate::Token, Error> {
            self$(.$driver)?.drive($crate::flow::EndpointCall::token(grant.into()))$(.$await)?
        }

        /// Starts a device authorization (RFC 8628 §3.1) for `scope` (else the configured
        /// default). Show the user its
        /// [`user_code`]($crate::rfc8628::DeviceAuthorization::user_code) and
        /// [`verification_uri`]($crate::rfc8628::DeviceAuthorization::verification_uri), then
        /// wait with [`device_token`](Self::device_token).
        ///
        /// # Errors
        /// [`ConfigError`]($crate::ConfigError) without a device authorization endpoint; the
        /// server's OAuth error, an unexpected response, or a transport error.
        pub $($async)? fn device_authorization(
            &self,
            scope: Option<&str>,
        ) -> Result<$crate::rfc8628::DeviceAuthorization, Error> {
            let flow = $crate::flow::EndpointCall::device_authorization(self.config(), scope);
            self$(.$driver)?.drive(flow)$(.$await)?
        }

        /// Waits until the user approves `authorization` and makes the token the session's
        /// ([`DeviceToken`]($crate::flow::DeviceToken): the server's interval, `slow_down`
        /// honoured). Cancel it from elsewhere with
        /// [`DeviceAuthorization::cancel`]($crate::rfc8628::DeviceAuthorization::cancel)
        /// (async callers may also drop the future).
        ///
        /// # Errors
        /// The server's `access_denied` or `expired_token`;
        /// [`UsageError::DeviceCodeExpired`]($crate::UsageError::DeviceCodeExpired) or
        /// [`UsageError::Cancelled`]($crate::UsageError::Cancelled); a transport error.
        pub $($async)? fn device_token(
            &self,
            authorization: &$crate::rfc8628::DeviceAuthorization,
        ) -> Result<$crate::Token, Error> {
            self$(.$driver)?.drive($crate::flow::DeviceToken::new(authorization.clone()))$(.$await)?
        }

        /// The current token.
        #[must_use]
        pub fn token(&self) -> Option<$crate::Token> {
            self$(.$driver)?.lock().token().cloned()
        }

        /// Replaces the token (a persisted one, say; the update hooks are not called: the
        /// caller knows). An exchange in flight is superseded (its answer is dropped) and the
        /// claims of an earlier login are cleared.
        pub fn set_token(&self, token: $crate::Token) {
            let _ = self$(.$driver)?.lock().set_token(token);
            self$(.$driver)?.wake_all();
        }

        /// When the session will refresh its token (`expires_at` minus the clamped leeway).
        #[must_use]
        pub fn refresh_at(&self) -> Option<::std::time::SystemTime> {
            self$(.$driver)?.lock().refresh_at()
        }

        /// The URL to send the user's browser to (authorization code flow with PKCE S256,
        /// `state` and, for the `openid` scope, `nonce`, drawn from the operating system), and
        /// what to keep until the callback.
        ///
        /// # Errors
        /// [`ConfigError`]($crate::ConfigError) when the authorization endpoint or redirect
        /// URI is missing; `Error::Entropy` when the operating system has no randomness.
        pub fn authorization_url(
            &self,
            request: &$crate::oidc::AuthorizationRequest,
        ) -> Result<($crate::url::Url, $crate::oidc::PendingAuthorization), Error> {
            use ::ring::rand::SecureRandom as _;
            let mut entropy = [0u8; $crate::oidc::AUTHORIZATION_ENTROPY];
            let system = ::ring::rand::SystemRandom::new();
            system.fill(&mut entropy).map_err(|_| Error::Entropy)?;
            let mint = $crate::rfc7523::Mint::new(::std::time::SystemTime::now(), &system);
            Ok($crate::oidc::authorization_url_with(self.config(), request, &entropy, &mint)?)
        }

        /// Pushes the authorization request to the provider first (PAR, RFC 9126; as a
        /// signed request object when the client signs them) and returns the URL to send
        /// the browser to, which carries only `client_id` and `request_uri`
        /// ([`PushAuthorization`]($crate::flow::PushAuthorization)). Providers that require
        /// pushed requests (discovery's `require_pushed_authorization_requests`) accept only
        /// these.
        ///
        /// # Errors
        /// [`ConfigError`]($crate::ConfigError) without a pushed authorization request
        /// endpoint or redirect URI; the provider's OAuth error; a transport error.
        pub $($async)? fn pushed_authorization_url(
            &self,
            request: &$crate::oidc::AuthorizationRequest,
        ) -> Result<($crate::url::Url, $crate::oidc::PendingAuthorization), Error> {
            let flow = $crate::flow::PushAuthorization::new(request.clone());
            self$(.$driver)?.drive(flow)$(.$await)?
        }

        /// Handles the redirect back from the provider ([`Login`]($crate::flow::Login)):
        /// checks it (`iss`, `state`, `error`), exchanges the code with the PKCE verifier,
        /// validates the ID token (fetching the provider's keys as needed), and only then
        /// makes the token and the login's claims the session's. Once the code is sent, the
        /// login completes even if an async caller goes away (the code is single-use).
        ///
        /// # Errors
        /// [`Error::Callback`]($crate::Error::Callback) for a forged or stale redirect, the
        /// provider's OAuth error (`access_denied`), [`Error::IdToken`]($crate::Error::IdToken)
        /// naming a failed check, or a transport error. Nothing changes on any error.
        pub $($async)? fn exchange_code(
            &self,
            pending: $crate::oidc::PendingAuthorization,
            callback_url: &str,
        ) -> Result<$crate::Token, Error> {
            self$(.$driver)?.drive($crate::flow::Login::new(pending, callback_url)?)$(.$await)?
        }

        /// The claims of the ID token validated by the last
        /// [`exchange_code`](Self::exchange_code), while the session holds that login's grant:
        /// [`set_token`](Self::set_token) and [`fetch_token`](Self::fetch_token) clear them; a
        /// refresh keeps them.
        #[must_use]
        pub fn id_token_claims(&self) -> Option<$crate::oidc::IdTokenClaims> {
            self$(.$driver)?.lock().id_token_claims().cloned()
        }

        /// The user's claims from the userinfo endpoint ([`Userinfo`]($crate::flow::Userinfo)),
        /// with the session's token (renewed first when due, replayed after a `401`
        /// `invalid_token`); their `sub` must be the login's.
        ///
        /// # Errors
        /// [`UsageError::NoIdToken`]($crate::UsageError::NoIdToken) without a login's claims;
        /// the server's OAuth error; a response about another subject; a transport error.
        pub $($async)? fn userinfo(&self) -> Result<$crate::oidc::UserInfo, Error> {
            self$(.$driver)?.drive($crate::flow::Userinfo::new())$(.$await)?
        }

        /// Validates an ID token against the provider's keys
        /// ([`ValidateIdToken`]($crate::flow::ValidateIdToken)): fetched when missing or
        /// stale, once more when the token names an unknown `kid` (at most once per
        /// `jwks_cache` interval), one fetch shared by concurrent callers.
        ///
        /// # Errors
        /// [`Error::IdToken`]($crate::Error::IdToken) naming the failed check, or a transport
        /// error.
        pub $($async)? fn validate_id_token(
            &self,
            id_token: &$crate::IdToken,
            expectations: &$crate::oidc::IdTokenExpectations,
            access_token: Option<&$crate::AccessToken>,
        ) -> Result<$crate::oidc::IdTokenClaims, Error> {
            let flow = $crate::flow::ValidateIdToken::new(
                id_token.clone(),
                expectations.clone(),
                access_token.cloned(),
            );
            self$(.$driver)?.drive(flow)$(.$await)?
        }
    };
}

/// Declares an adapter's `Error`: the variants every adapter shares (`Core`, `Transport` with
/// the adapter's transport error, `Entropy`), then the adapter's own (`$($extra)*`, variants
/// with their `#[error]` attributes), the helpers callers use instead of matching nested
/// enums, and conversions from the core's error types. Needs `thiserror` in the adapter.
#[macro_export]
macro_rules! adapter_error {
    (transport: $transport:ty; $($extra:tt)*) => {
        /// Everything a session call can fail with. No variant's `Display` or `Debug` shows a
        /// token, a secret or a password; the helpers are the same in every adapter.
        #[derive(Debug, thiserror::Error)]
        #[non_exhaustive]
        pub enum Error {
            /// A protocol error from the core: an OAuth error from the server (`Display` is
            /// `"{error}: {error_description}"`), an unexpected response, an ID token or
            /// callback that failed a check, configuration or misuse.
            #[error(transparent)]
            Core(#[from] $crate::Error),
            /// The HTTP exchange itself failed: connection refused or dropped, timeout, TLS.
            /// The session's token is unchanged; retrying later may help.
            #[error("transport error: {0}")]
            Transport(#[from] $transport),
            /// The operating system gave no randomness for `state`, PKCE and `nonce`; nothing
            /// was sent.
            #[error("the operating system's random number generator failed")]
            Entropy,
            $($extra)*
        }

        impl Error {
            /// The protocol core's error, if this is one.
            #[must_use]
            pub fn core_error(&self) -> Option<&$crate::Error> {
                match self {
                    Self::Core(e) => Some(e),
                    _ => None,
                }
            }

            /// The OAuth error the server sent, if this is one (`e.oauth_error().map(|e|
            /// e.error())` is `Some("invalid_grant")` for a removed session).
            #[must_use]
            pub fn oauth_error(&self) -> Option<&$crate::OAuthError> {
                self.core_error().and_then($crate::Error::oauth_error)
            }

            /// The caller's misuse or the session's state, if this is one (no token, a
            /// refresh already in flight, …).
            #[must_use]
            pub fn usage_error(&self) -> Option<&$crate::UsageError> {
                self.core_error().and_then($crate::Error::usage_error)
            }

            /// The shared token store's failure, if this is one (unreachable, or a record this
            /// session's key cannot open).
            #[must_use]
            pub fn store_error(&self) -> Option<&$crate::store::StoreError> {
                self.core_error().and_then($crate::Error::store_error)
            }

            /// True when the user must authenticate again (see
            /// [`oauth_core::Error::requires_reauthentication`]($crate::Error::requires_reauthentication)).
            #[must_use]
            pub fn requires_reauthentication(&self) -> bool {
                self.core_error()
                    .is_some_and($crate::Error::requires_reauthentication)
            }

            /// True when the HTTP exchange itself failed (no answer was read).
            #[must_use]
            pub fn is_transport(&self) -> bool {
                matches!(self, Self::Transport(_))
            }

            /// True when discovery found metadata for another issuer.
            #[must_use]
            pub fn is_issuer_mismatch(&self) -> bool {
                self.core_error().is_some_and($crate::Error::is_issuer_mismatch)
            }

            /// True when an ID token failed validation.
            #[must_use]
            pub fn is_id_token_error(&self) -> bool {
                self.core_error().is_some_and($crate::Error::is_id_token_error)
            }

            /// True when the authorization response (the redirect back) failed a check.
            #[must_use]
            pub fn is_callback_error(&self) -> bool {
                self.core_error().is_some_and($crate::Error::is_callback_error)
            }
        }

        impl From<$crate::ConfigError> for Error {
            fn from(e: $crate::ConfigError) -> Self {
                Self::Core(e.into())
            }
        }

        impl From<$crate::UsageError> for Error {
            fn from(e: $crate::UsageError) -> Self {
                Self::Core(e.into())
            }
        }
    };
}

/// Declares a buffered `RequestBuilder` over [`ResourceRequest`](crate::resource::ResourceRequest)
/// for a session type `$session`, with `header`, `query`, `timeout` and a `Debug` that shows
/// no query and no header value. The adapter adds its own `call`/`send` methods.
#[macro_export]
macro_rules! buffered_request_builder {
    ($session:ty) => {
        /// A resource request under construction. Nothing is sent until `call`, `send`,
        /// `send_json` or `send_form`. Bodies are buffered, so that a request refused with
        /// `401 invalid_token` can be replayed once after a refresh.
        ///
        /// `Debug` shows the method, the URL without its query, and header names only.
        #[must_use = "a request is sent only by call() or one of the send methods"]
        pub struct RequestBuilder {
            session: $session,
            request: $crate::resource::ResourceRequest,
        }

        impl ::std::fmt::Debug for RequestBuilder {
            fn fmt(&self, f: &mut ::std::fmt::Formatter<'_>) -> ::std::fmt::Result {
                self.request.fmt(f)
            }
        }

        impl RequestBuilder {
            pub(crate) fn new(session: $session, method: $crate::http::Method, url: &str) -> Self {
                let request = $crate::resource::ResourceRequest::new(method, url);
                Self { session, request }
            }

            /// Adds a header. An invalid name or value is reported when the request is sent.
            pub fn header(mut self, name: &str, value: &str) -> Self {
                self.request.header(name, value);
                self
            }

            /// Appends a query parameter (form-encoded).
            pub fn query(mut self, name: &str, value: &str) -> Self {
                self.request.query(name, value);
                self
            }

            /// A timeout for this request alone: the whole call (not a refresh it has to
            /// wait for first). Default: the session's.
            pub fn timeout(mut self, timeout: ::std::time::Duration) -> Self {
                self.request.timeout(timeout);
                self
            }

            /// The body of `send_form`, and its content type set.
            fn form_body<'a>(
                &mut self,
                pairs: impl IntoIterator<Item = (&'a str, &'a str)>,
            ) -> Vec<u8> {
                self.request
                    .content_type($crate::rfc6749::FORM_CONTENT_TYPE);
                $crate::url::form_urlencoded::Serializer::new(String::new())
                    .extend_pairs(pairs)
                    .finish()
                    .into_bytes()
            }

            /// The body of `send_json`, and its content type set.
            fn json_body(&mut self, value: &impl ::serde::Serialize) -> Result<Vec<u8>, Error> {
                let body = ::serde_json::to_vec(value)?;
                self.request.content_type("application/json");
                Ok(body)
            }
        }
    };
}

/// Declares a private module `trace` with the driver's logs, on the adapter's `tracing`
/// feature (the core itself never logs: it hands out values — a [`Call`]'s
/// [`Purpose`](crate::flow::Purpose) and origin, a renewal's reason — that these log).
///
/// A span `oauth.call` per endpoint call (`purpose`, `grant_type`, `reason`, `origin`,
/// `status`, `duration_ms`, `outcome`), an event when a renewal is decided and why, an event
/// when a caller waits for another's renewal, and one when an operation ends (its error, whose
/// text never holds a secret). No token, secret, assertion, code or password is ever a field.
///
/// [`Call`]: crate::flow::Call
#[macro_export]
macro_rules! driver_tracing {
    () => {
        /// The driver's logs (feature `tracing`); no-ops without it.
        mod trace {
            /// An endpoint call being logged.
            #[cfg(feature = "tracing")]
            pub(crate) struct CallSpan {
                span: ::tracing::Span,
                started: ::std::time::Instant,
            }

            /// An endpoint call (no logs without the `tracing` feature).
            #[cfg(not(feature = "tracing"))]
            pub(crate) struct CallSpan;

            /// Opens the call's span (and logs a renewal's decision).
            pub(crate) fn call(call: &$crate::flow::Call) -> CallSpan {
                #[cfg(feature = "tracing")]
                {
                    let (grant_type, reason) = match call.purpose() {
                        $crate::flow::Purpose::Token { grant_type, reason } => {
                            (Some(grant_type.as_str()), reason.map(|r| r.as_str()))
                        }
                        _ => (None, None),
                    };
                    let origin = call.origin();
                    if let Some(reason) = reason {
                        ::tracing::info!(grant_type, reason, origin = %origin, "oauth: token renewal decided");
                    }
                    let span = ::tracing::info_span!(
                        "oauth.call",
                        purpose = call.purpose().name(),
                        grant_type,
                        reason,
                        origin = %origin,
                        status = ::tracing::field::Empty,
                        duration_ms = ::tracing::field::Empty,
                        outcome = ::tracing::field::Empty,
                    );
                    CallSpan {
                        span,
                        started: ::std::time::Instant::now(),
                    }
                }
                #[cfg(not(feature = "tracing"))]
                {
                    let _ = call;
                    CallSpan
                }
            }

            impl CallSpan {
                /// Records the answer's status and the call's duration.
                pub(crate) fn answered<E>(
                    self,
                    answer: &Result<$crate::http::Response<Vec<u8>>, E>,
                ) {
                    #[cfg(feature = "tracing")]
                    {
                        let millis = self.started.elapsed().as_secs_f64() * 1000.0;
                        self.span.record("duration_ms", millis);
                        match answer {
                            Ok(response) => {
                                self.span.record("status", response.status().as_u16());
                                let outcome = if response.status().is_success() {
                                    "answered"
                                } else {
                                    "refused"
                                };
                                self.span.record("outcome", outcome);
                            }
                            Err(_) => {
                                self.span.record("outcome", "no answer");
                            }
                        }
                        let _entered = self.span.enter();
                        ::tracing::debug!("oauth: call ended");
                    }
                    #[cfg(not(feature = "tracing"))]
                    let _ = answer;
                }
            }

            /// A store step and its answer (the step's name and the reply's kind, never a
            /// record's contents).
            pub(crate) fn stored(
                request: &$crate::store::StoreRequest,
                reply: &Result<$crate::store::StoreReply, $crate::store::StoreError>,
            ) {
                #[cfg(feature = "tracing")]
                match reply {
                    Ok(reply) => {
                        let reply = match reply {
                            $crate::store::StoreReply::Record(_) => "record",
                            $crate::store::StoreReply::Acquired(_) => "acquired",
                            $crate::store::StoreReply::Busy(_) => "busy",
                            $crate::store::StoreReply::Committed { .. } => "committed",
                            $crate::store::StoreReply::Conflict(_) => "conflict",
                            $crate::store::StoreReply::Released => "released",
                            $crate::store::StoreReply::Changed => "changed",
                            $crate::store::StoreReply::Unchanged => "unchanged",
                            _ => "other",
                        };
                        ::tracing::debug!(step = request.name(), reply, "oauth: store step")
                    }
                    Err(error) => ::tracing::warn!(
                        step = request.name(),
                        error = %error,
                        "oauth: store step failed"
                    ),
                }
                #[cfg(not(feature = "tracing"))]
                let _ = (request, reply);
            }

            /// A caller waits for another's renewal or key fetch.
            pub(crate) fn waiting() {
                #[cfg(feature = "tracing")]
                ::tracing::debug!("oauth: waiting for another caller's renewal or key fetch");
            }

            /// An operation ended.
            pub(crate) fn ended<T, E: ::std::fmt::Display>(result: &Result<T, E>) {
                #[cfg(feature = "tracing")]
                match result {
                    Ok(_) => ::tracing::debug!(outcome = "ok", "oauth: operation ended"),
                    Err(error) => {
                        ::tracing::warn!(outcome = "error", error = %error, "oauth: operation failed")
                    }
                }
                #[cfg(not(feature = "tracing"))]
                let _ = result;
            }
        }
    };
}
