//! The behavioural test table: every scenario that is not about one transport, written once
//! and run on each adapter.
//!
//! * [`Adapter`] is a blocking facade over one adapter's session: each adapter module
//!   (`ureq_adapter`, `reqwest_adapter`, `async_std_adapter`) implements it, the async ones by
//!   running the session's futures on their own runtime (a tokio runtime; async-std's
//!   `block_on`). Sessions are built from [`Options`]; callers that run at the same time
//!   (threads for oauth-ureq, tasks for the async two) follow a [`Caller`] plan.
//! * The scenarios are generic functions over it: [`oauth`] (the real server), [`faults`]
//!   (the fault-injection stub), [`hostile`] (hostile servers and careless callers), [`oidc`]
//!   (OpenID Connect against the real provider), and
//!   [`async_only`] for what only an async session has (the async update hook, callers that
//!   go away).
//! * [`behaviour_table!`] generates the `#[test]` functions for one adapter, in a module
//!   `shared` of the adapter's module (`ureq_adapter::shared::seed_scenario`, …); its
//!   capability words add the scenario groups the adapter can run (`async`:
//!   [`AsyncAdapter`]; `buffered`: [`BufferedRequests`]; `debug_builder`: [`BuilderDebug`]).
//! * Helper macros keep the three facades short: [`session_facade!`] (the session's own
//!   methods), [`build_session!`] and [`apply_options!`] (the builder setters are the same in
//!   every adapter), [`caller_runner!`] (a [`Caller`]'s loop), [`adapter_error!`] (the error
//!   helpers behind [`AdapterError`]).
//!
//! What differs per transport is a trait item, never a branch on the adapter's name:
//! [`Adapter::CALLERS`], [`Adapter::FOLLOWS_REDIRECTS`], how a timeout, a body over the limit
//! or a broken exchange is reported ([`Adapter::is_timeout`], …), the pool it counts
//! ([`Adapter::pool`]).

use std::future::Future;
use std::sync::Arc;
use std::task::Poll;
use std::time::{Duration, SystemTime};

use oauth_core::jose::{Algorithm, SigningKey};
use oauth_core::oidc::{AuthorizationRequest, IdTokenClaims, PendingAuthorization, UserInfo};
use oauth_core::rfc7523::AssertionAudience;
use oauth_core::rfc8628::DeviceAuthorization;
use oauth_core::url::Url;
use oauth_core::{
    BearerPlacement, Grant, IdToken, Introspection, OAuthError, Token, TokenRef, TokenUpdate,
    UsageError,
};
use oauth_tests::browser::follow_to_callback;
use oauth_tests::fault::{Fault, FaultServer};
use oauth_tests::oidc_provider::AuthServer;
use oauth_tests::seed::{DriverError, SeedDriver};

pub(crate) mod async_only;
pub(crate) mod dpop;
pub(crate) mod faults;
pub(crate) mod grants;
pub(crate) mod hostile;
pub(crate) mod logs;
pub(crate) mod oauth;
pub(crate) mod oidc;
pub(crate) mod trust;

/// The redirect URI of the test clients (the headless browser stops there).
pub(crate) const REDIRECT_URI: &str = "http://127.0.0.1:53682/callback";

/// A blocking facade over one adapter's session: the shared public API, each call run to its
/// end on the adapter's own runtime. Clones share the session.
pub(crate) trait Adapter: Clone + Send + Sync + 'static {
    /// The adapter's error.
    type Error: AdapterError;
    /// A [`Caller`] running in the background (a thread, a task).
    type Task;

    /// How the adapter is named in messages.
    const NAME: &'static str;
    /// How many callers meet a token's renewal at once (threads or tasks).
    const CALLERS: usize;
    /// Whether a resource redirect is followed (to another origin without the bearer) or
    /// returned to the caller.
    const FOLLOWS_REDIRECTS: bool;

    /// Builds a session: discovery first when `options` names an issuer.
    ///
    /// # Errors
    /// Discovery's error, or the first configuration error.
    fn build(options: Options) -> Result<Self, Self::Error>;

    // The session's own public methods, each run to its end ([`session_facade!`]).
    fn fetch_token(&self, grant: Grant) -> Result<Token, Self::Error>;
    fn exchange_token(&self, grant: Grant) -> Result<Token, Self::Error>;
    fn device_authorization(&self, scope: Option<&str>)
    -> Result<DeviceAuthorization, Self::Error>;
    fn device_token(&self, authorization: &DeviceAuthorization) -> Result<Token, Self::Error>;
    fn refresh_token(&self) -> Result<Token, Self::Error>;
    fn revoke_token(&self, token: TokenRef<'_>) -> Result<(), Self::Error>;
    fn introspect_token(&self, token: TokenRef<'_>) -> Result<Introspection, Self::Error>;
    fn token(&self) -> Option<Token>;
    fn set_token(&self, token: Token);
    fn refresh_at(&self) -> Option<SystemTime>;
    fn authorization_url(
        &self,
        request: &AuthorizationRequest,
    ) -> Result<(Url, PendingAuthorization), Self::Error>;
    fn pushed_authorization_url(
        &self,
        request: &AuthorizationRequest,
    ) -> Result<(Url, PendingAuthorization), Self::Error>;
    fn exchange_code(
        &self,
        pending: PendingAuthorization,
        callback: &str,
    ) -> Result<Token, Self::Error>;
    fn id_token_claims(&self) -> Option<IdTokenClaims>;
    fn userinfo(&self) -> Result<UserInfo, Self::Error>;
    /// Validates with no expectations and no access token.
    fn validate_id_token(&self, id_token: &IdToken) -> Result<IdTokenClaims, Self::Error>;

    /// An authenticated `GET`, its body read to the end.
    fn get(&self, url: &str) -> Result<Reply, Self::Error>;
    /// An authenticated `POST` of `value` as JSON, the answer's body read to the end.
    fn post_json(&self, url: &str, value: &serde_json::Value) -> Result<Reply, Self::Error>;
    /// The session's `Debug`.
    fn session_debug(&self) -> String;
    /// The `Debug` of an unsent `GET` of `url` with one header added.
    fn request_debug(&self, url: &str, header: (&str, &str)) -> String;

    /// Starts `caller` in the background on a clone of the session.
    fn spawn(&self, caller: Caller<Self::Error>) -> Self::Task;
    /// Waits for a caller started with [`spawn`](Self::spawn) to end.
    fn join(&self, task: Self::Task) -> Caller<Self::Error>;

    /// The transport's timeout.
    fn is_timeout(error: &Self::Error) -> bool;
    /// An endpoint response over the body limit, and that limit.
    fn body_limit_exceeded(error: &Self::Error) -> Option<u64>;
    /// A response the server broke off mid-message, as the adapter reports it.
    fn is_broken_exchange(error: &Self::Error) -> bool;
    /// The connections the session's own pool opened, and its bound per origin, where the
    /// adapter's transport counts them.
    fn pool(&self) -> Option<Pool>;

    /// Runs `callers` at the same time and returns them with what they recorded.
    fn concurrently(&self, callers: Vec<Caller<Self::Error>>) -> Vec<Caller<Self::Error>> {
        let tasks: Vec<_> = callers.into_iter().map(|c| self.spawn(c)).collect();
        tasks.into_iter().map(|t| self.join(t)).collect()
    }
}

/// What an async adapter adds: callers that go away.
pub(crate) trait AsyncAdapter: Adapter {
    /// Cancels a caller started with [`Adapter::spawn`] (drops its future): true when it had
    /// not ended yet.
    fn cancel(&self, task: Self::Task) -> bool;
    /// Polls `action`'s future once on the runtime, then drops it: true when it had not
    /// ended in that poll.
    fn poll_once_then_drop(&self, action: Action) -> bool;
}

/// Adapters whose resource requests are built with `oauth_core::resource::ResourceRequest`
/// (`buffered_request_builder!`): their `Debug` shows no query and no header value.
pub(crate) trait BufferedRequests: Adapter {}

/// Adapters whose session builder is `Debug`.
pub(crate) trait BuilderDebug: Adapter {
    /// The `Debug` of the builder `options` make (no discovery).
    fn builder_debug(options: Options) -> String;
}

/// The helpers every adapter's `Error` has (generated by `oauth_core::adapter_error!`), for
/// the scenarios to inspect errors through.
pub(crate) trait AdapterError: std::error::Error + Send + 'static {
    fn core_error(&self) -> Option<&oauth_core::Error>;
    fn oauth_error(&self) -> Option<&OAuthError>;
    fn usage_error(&self) -> Option<&UsageError>;
    fn requires_reauthentication(&self) -> bool;
    fn is_transport(&self) -> bool;
    fn is_id_token_error(&self) -> bool;
    fn is_callback_error(&self) -> bool;
    fn is_issuer_mismatch(&self) -> bool;
}

/// Implements [`AdapterError`] for an adapter's `Error` with its own helpers.
macro_rules! adapter_error {
    ($error:ty) => {
        impl $crate::table::AdapterError for $error {
            fn core_error(&self) -> Option<&oauth_core::Error> {
                <$error>::core_error(self)
            }
            fn oauth_error(&self) -> Option<&oauth_core::OAuthError> {
                <$error>::oauth_error(self)
            }
            fn usage_error(&self) -> Option<&oauth_core::UsageError> {
                <$error>::usage_error(self)
            }
            fn requires_reauthentication(&self) -> bool {
                <$error>::requires_reauthentication(self)
            }
            fn is_transport(&self) -> bool {
                <$error>::is_transport(self)
            }
            fn is_id_token_error(&self) -> bool {
                <$error>::is_id_token_error(self)
            }
            fn is_callback_error(&self) -> bool {
                <$error>::is_callback_error(self)
            }
            fn is_issuer_mismatch(&self) -> bool {
                <$error>::is_issuer_mismatch(self)
            }
        }
    };
}
pub(crate) use adapter_error;

/// The [`Adapter`] methods that are the session's own, for a facade with a field `session`
/// and a method `wait` that runs what the session returns to its end (the identity for the
/// blocking adapter, `block_on` for the async ones); the module must have `get` and
/// `post_json` functions over its session.
macro_rules! session_facade {
    () => {
        fn fetch_token(&self, grant: oauth_core::Grant) -> Result<oauth_core::Token, Self::Error> {
            self.wait(self.session.fetch_token(grant))
        }
        fn exchange_token(
            &self,
            grant: oauth_core::Grant,
        ) -> Result<oauth_core::Token, Self::Error> {
            self.wait(self.session.exchange_token(grant))
        }
        fn device_authorization(
            &self,
            scope: Option<&str>,
        ) -> Result<oauth_core::rfc8628::DeviceAuthorization, Self::Error> {
            self.wait(self.session.device_authorization(scope))
        }
        fn device_token(
            &self,
            authorization: &oauth_core::rfc8628::DeviceAuthorization,
        ) -> Result<oauth_core::Token, Self::Error> {
            self.wait(self.session.device_token(authorization))
        }
        fn refresh_token(&self) -> Result<oauth_core::Token, Self::Error> {
            self.wait(self.session.refresh_token())
        }
        fn revoke_token(&self, token: oauth_core::TokenRef<'_>) -> Result<(), Self::Error> {
            self.wait(self.session.revoke_token(token))
        }
        fn introspect_token(
            &self,
            token: oauth_core::TokenRef<'_>,
        ) -> Result<oauth_core::Introspection, Self::Error> {
            self.wait(self.session.introspect_token(token))
        }
        fn token(&self) -> Option<oauth_core::Token> {
            self.session.token()
        }
        fn set_token(&self, token: oauth_core::Token) {
            self.session.set_token(token);
        }
        fn refresh_at(&self) -> Option<std::time::SystemTime> {
            self.session.refresh_at()
        }
        fn authorization_url(
            &self,
            request: &oauth_core::oidc::AuthorizationRequest,
        ) -> Result<(oauth_core::url::Url, oauth_core::oidc::PendingAuthorization), Self::Error> {
            self.session.authorization_url(request)
        }
        fn pushed_authorization_url(
            &self,
            request: &oauth_core::oidc::AuthorizationRequest,
        ) -> Result<(oauth_core::url::Url, oauth_core::oidc::PendingAuthorization), Self::Error> {
            self.wait(self.session.pushed_authorization_url(request))
        }
        fn exchange_code(
            &self,
            pending: oauth_core::oidc::PendingAuthorization,
            callback: &str,
        ) -> Result<oauth_core::Token, Self::Error> {
            self.wait(self.session.exchange_code(pending, callback))
        }
        fn id_token_claims(&self) -> Option<oauth_core::oidc::IdTokenClaims> {
            self.session.id_token_claims()
        }
        fn userinfo(&self) -> Result<oauth_core::oidc::UserInfo, Self::Error> {
            self.wait(self.session.userinfo())
        }
        fn validate_id_token(
            &self,
            id_token: &oauth_core::IdToken,
        ) -> Result<oauth_core::oidc::IdTokenClaims, Self::Error> {
            let expectations = oauth_core::oidc::IdTokenExpectations::default();
            self.wait(
                self.session
                    .validate_id_token(id_token, &expectations, None),
            )
        }
        fn get(&self, url: &str) -> Result<$crate::table::Reply, Self::Error> {
            self.wait(get(&self.session, url))
        }
        fn post_json(
            &self,
            url: &str,
            value: &serde_json::Value,
        ) -> Result<$crate::table::Reply, Self::Error> {
            self.wait(post_json(&self.session, url, value))
        }
        fn session_debug(&self) -> String {
            format!("{:?}", self.session)
        }
        fn request_debug(&self, url: &str, (name, value): (&str, &str)) -> String {
            format!("{:?}", self.session.get(url).header(name, value))
        }
    };
}
pub(crate) use session_facade;

/// Declares `fn run(session: OAuth2Session, caller: Caller<Error>) -> Caller<Error>`, which
/// makes a [`Caller`]'s calls one after another with the session (and the module's `get`):
/// `caller_runner!()` in the blocking adapter, `caller_runner!(async, await)` in an async one.
macro_rules! caller_runner {
    ($($async:ident, $await:ident)?) => {
        $($async)? fn run(
            session: OAuth2Session,
            mut caller: $crate::table::Caller<Error>,
        ) -> $crate::table::Caller<Error> {
            use $crate::table::{Action, Done};
            while let Some(action) = caller.next() {
                let outcome = match action {
                    Action::Get(url) => get(&session, &url)$(.$await)?.map(Done::Reply),
                    Action::Validate(id_token) => session
                        .validate_id_token(&id_token, &Default::default(), None)$(.$await)?
                        .map(Done::Claims),
                    Action::Fetch(grant) => session.fetch_token(grant)$(.$await)?.map(Done::Token),
                    Action::Exchange(pending, callback) => session
                        .exchange_code(pending, &callback)$(.$await)?
                        .map(Done::Token),
                };
                caller.record(outcome);
            }
            caller
        }
    };
}
pub(crate) use caller_runner;

/// Builds the session `options` describe with the adapter's `OAuth2Session` (in scope):
/// discovery first when they name an issuer (its result passed through `wait`, which runs an
/// async adapter's future), the async update hook when the adapter has one (its pause
/// awaited with `sleep`), then every other option; `?` on the adapter's errors.
macro_rules! build_session {
    ($options:expr, wait: $wait:expr $(, sleep: $sleep:path)?) => {{
        let mut options: $crate::table::Options = $options;
        let client_id = options.client_id.clone();
        #[allow(unused_mut, reason = "only an async adapter sets the async hook")]
        let mut builder = match options.issuer.take() {
            // A private CA must be trusted before discovery goes to the issuer.
            Some(issuer) => match &options.root_certificate {
                Some(pem) => ($wait)(
                    OAuth2Session::builder(client_id)
                        .add_root_certificate(pem)
                        .discover(&issuer),
                )?,
                None => ($wait)(OAuth2Session::from_issuer(&issuer, client_id))?,
            },
            None => OAuth2Session::builder(client_id),
        };
        let hook = options.on_update_async.take();
        $(
            if let Some(hook) = hook {
                builder = builder.on_token_update_async(move |update| {
                    let hook = hook.clone();
                    async move {
                        $sleep(hook.pause).await;
                        (hook.record)(update);
                    }
                });
            }
            let hook: Option<$crate::table::AsyncHook> = None;
        )?
        assert!(hook.is_none(), "this adapter has no async update hook");
        $crate::table::apply_options!(builder, options).build()?
    }};
}
pub(crate) use build_session;

/// Applies [`Options`] (all but the issuer and the async hook, which the adapter handles)
/// to a session builder of any adapter: their setters are the same.
macro_rules! apply_options {
    ($builder:expr, $options:expr) => {{
        let options: $crate::table::Options = $options;
        let mut builder = $builder;
        if let Some(url) = &options.token_endpoint {
            builder = builder.token_endpoint(url);
        }
        if let Some(url) = &options.revocation_endpoint {
            builder = builder.revocation_endpoint(url);
        }
        if let Some(url) = &options.introspection_endpoint {
            builder = builder.introspection_endpoint(url);
        }
        if let Some(url) = &options.authorization_endpoint {
            builder = builder.authorization_endpoint(url);
        }
        if let Some(uri) = options.redirect_uri {
            builder = builder.redirect_uri(uri);
        }
        match options.secret {
            Some($crate::table::Secret::Basic(secret)) => {
                builder = builder.client_secret_basic(secret);
            }
            Some($crate::table::Secret::Post(secret)) => {
                builder = builder.client_secret_post(secret);
            }
            Some($crate::table::Secret::Jwt(secret)) => {
                builder = builder.client_secret_jwt(secret);
            }
            Some($crate::table::Secret::PrivateKey(key)) => {
                builder = builder.private_key_jwt(key);
            }
            None => {}
        }
        if let Some(audience) = options.assertion_audience {
            builder = builder.assertion_audience(audience);
        }
        if let Some(url) = &options.device_authorization_endpoint {
            builder = builder.device_authorization_endpoint(url);
        }
        if options.dpop {
            builder = builder.dpop();
        }
        if options.signed_request_objects {
            builder = builder.signed_request_objects();
        }
        if let Some(pem) = &options.root_certificate {
            builder = builder.add_root_certificate(pem);
        }
        if let Some(leeway) = options.leeway {
            builder = builder.leeway(leeway);
        }
        if let Some(scope) = options.scope {
            builder = builder.scope(scope);
        }
        if let Some(timeout) = options.timeout {
            builder = builder.timeout(timeout);
        }
        if let Some(bytes) = options.body_limit {
            builder = builder.body_limit(bytes);
        }
        if let Some(token) = options.token {
            builder = builder.token(token);
        }
        if let Some((ttl, refetch)) = options.jwks_cache {
            builder = builder.jwks_cache(ttl, refetch);
        }
        if let Some(algorithms) = options.id_token_algorithms {
            builder = builder.id_token_algorithms(algorithms);
        }
        if let Some(placement) = options.bearer_placement {
            builder = builder.bearer_placement(placement);
        }
        if let Some(hook) = options.on_update {
            builder = builder.on_token_update(move |update| hook(update));
        }
        builder
    }};
}
pub(crate) use apply_options;

/// Generates `#[test] fn $name() { $crate::table::$module::$name::<$adapter>() }` for each
/// name.
macro_rules! scenario_tests {
    ($adapter:ty, $module:ident: $($name:ident),* $(,)?) => {
        $(
            #[test]
            fn $name() {
                $crate::table::$module::$name::<$adapter>();
            }
        )*
    };
}
pub(crate) use scenario_tests;

/// Type-checks that every future of the shared session API of the async adapter whose
/// `OAuth2Session` is in scope is `Send` (so any executor can spawn it), with `$check`
/// (a `fn(&T)` with a `T: Send` bound).
macro_rules! shared_futures_are_send {
    ($check:ident) => {{
        use oauth_core::{Grant, IdToken, Token, TokenRef};
        let session = OAuth2Session::builder("c").build().expect("session");
        let token = Token::bearer("t");
        $check(&session.fetch_token(Grant::client_credentials()));
        $check(&session.refresh_token());
        $check(&session.exchange_token(Grant::client_credentials()));
        $check(&session.device_authorization(None));
        $check(&session.revoke_token(TokenRef::Access(token.access_token())));
        $check(&session.introspect_token(TokenRef::Access(token.access_token())));
        $check(&OAuth2Session::from_issuer("https://id.example", "c"));
        $check(&OAuth2Session::builder("c").discover("https://id.example"));
        let oidc = OAuth2Session::builder("c")
            .authorization_endpoint("https://id.example/auth")
            .redirect_uri("http://127.0.0.1/cb")
            .build()
            .expect("session");
        let (_, pending) = oidc
            .authorization_url(&oauth_core::oidc::AuthorizationRequest::new())
            .expect("url");
        $check(&oidc.exchange_code(pending, "http://127.0.0.1/cb"));
        $check(&oidc.pushed_authorization_url(&oauth_core::oidc::AuthorizationRequest::new()));
        $check(&session.userinfo());
        let expectations = oauth_core::oidc::IdTokenExpectations::default();
        let id_token = IdToken::new("a.b.c");
        $check(&session.validate_id_token(&id_token, &expectations, None));
        session
    }};
}
pub(crate) use shared_futures_are_send;

/// The scenario group of one capability word of [`behaviour_table!`].
macro_rules! capability_tests {
    ($adapter:ty, async) => {
        $crate::table::scenario_tests!($adapter, async_only:
            async_update_hook_is_awaited_once_per_change_in_order,
            an_id_token_that_fails_validation_calls_neither_hook,
            a_cancelled_caller_does_not_cancel_the_refresh_others_wait_for,
            a_fetch_whose_caller_is_dropped_mid_flight_is_still_applied,
            a_login_whose_caller_gave_up_still_completes,
        );
    };
    ($adapter:ty, buffered) => {
        $crate::table::scenario_tests!($adapter, faults:
            a_requests_debug_shows_no_secret_of_the_callers,
        );
    };
    ($adapter:ty, debug_builder) => {
        $crate::table::scenario_tests!($adapter, faults:
            a_session_builders_debug_shows_no_secret,
        );
    };
}
pub(crate) use capability_tests;

/// The whole table for one adapter, as `#[test]` functions in a module `shared`:
/// `behaviour_table!(MyAdapter: async, buffered);` (the adapter type in scope where the
/// macro is invoked; capability words after the colon, see the module documentation).
macro_rules! behaviour_table {
    ($adapter:ident $(: $($capability:ident),+)?) => {
        /// The behavioural table (`crate::table`) on this adapter.
        mod shared {
            use super::$adapter;

            $crate::table::scenario_tests!($adapter, oauth:
                seed_scenario,
                wrong_password_is_invalid_grant,
                confidential_clients_basic_post_and_form_encoded_secret,
                client_credentials_token_is_fetched_again_when_due,
                rotation_on_keeps_and_reports_the_new_refresh_token_and_off_keeps_the_old,
                unauthorized_invalid_token_refreshes_once_and_replays_the_body,
                many_callers_across_the_refresh_moment_cause_exactly_one_refresh,
                many_callers_meeting_an_expired_token_share_one_refresh_and_meet_no_401,
                introspection_and_revocation,
            );
            $crate::table::scenario_tests!($adapter, faults:
                second_unauthorized_reaches_the_caller_without_a_loop,
                faults_are_typed_errors_and_lose_nothing,
                token_endpoint_redirects_are_not_followed,
                the_bearer_never_reaches_another_origin_through_a_redirect,
                plain_http_off_loopback_is_refused_and_secrets_stay_hidden,
                query_placement_signs_the_url_and_a_transport_error_hides_it,
                a_failed_refresh_inside_the_leeway_serves_the_still_valid_token_and_backs_off,
                a_failed_refresh_of_an_expired_token_is_the_requests_error,
                tokens_expired_on_arrival_end_in_a_renewal_loop_without_wedging_the_session,
                an_explicit_refresh_during_an_automatic_one_is_refused_and_sends_nothing,
                waiters_share_one_failed_refresh_and_the_old_token_stays,
                an_endpoint_call_skips_a_connection_idle_past_the_endpoint_limit,
            );
            $crate::table::scenario_tests!($adapter, grants:
                jwt_client_authentication_is_accepted_and_counted_by_the_server,
                a_wrong_secret_or_key_is_invalid_client,
                a_jwt_bearer_session_fetches_again_with_a_fresh_assertion_when_due,
                token_exchange_one_off_and_as_the_sessions_grant,
                device_login_through_the_providers_pages_honours_slow_down,
                a_denied_or_cancelled_device_login_ends_without_a_token,
            );
            $crate::table::scenario_tests!($adapter, trust:
                the_seed_scenario_over_https_behind_a_private_ca,
            );
            $crate::table::scenario_tests!($adapter, logs:
                logs_hold_no_secret_through_the_seed_scenario_a_login_and_client_secrets,
            );
            $crate::table::scenario_tests!($adapter, dpop:
                dpop_bound_tokens_refresh_and_reach_the_resource_with_proofs,
                token_endpoint_and_resource_nonces_are_answered_with_one_retry,
                code_flow_through_a_pushed_request_with_dpop_bound_tokens,
                signed_request_objects_pushed_or_in_the_url_are_accepted,
            );
            $crate::table::scenario_tests!($adapter, hostile:
                endpoint_urls_with_a_fragment_or_credentials_are_refused_when_built,
                a_huge_timeout_is_no_panic,
                server_text_is_printed_with_control_characters_escaped,
                a_port_out_of_range_is_refused_not_read_as_80,
                arbitrary_token_endpoint_answers_are_tokens_or_typed_errors,
            );
            $crate::table::scenario_tests!($adapter, oidc:
                code_flow_with_pkce_and_nonce_validates_the_id_token_and_fetches_userinfo,
                an_id_token_that_fails_validation_signs_nobody_in_and_calls_no_hook,
                key_rotation_at_the_provider_does_not_break_logins,
                a_flood_of_unknown_kids_does_not_flood_the_provider,
                concurrent_unknown_kids_on_a_cold_cache_share_one_fetch,
                state_mismatch_and_error_callbacks_are_refused,
                claims_never_outlive_the_token_of_their_login,
                a_refreshed_id_token_is_validated_and_its_claims_follow_the_token,
                userinfo_before_a_login_is_misuse,
                authorization_url_draws_fresh_state_verifier_and_nonce,
                discovery_of_another_issuers_metadata_is_refused,
            );
            $($($crate::table::capability_tests!($adapter, $capability);)+)?
        }
    };
}
pub(crate) use behaviour_table;

/// A blocking update hook.
pub(crate) type Hook = Arc<dyn Fn(&TokenUpdate) + Send + Sync>;

/// An async update hook, as data: the adapter's hook first awaits `pause` on its own runtime
/// (a slow store), then calls `record`.
#[derive(Clone)]
pub(crate) struct AsyncHook {
    pub(crate) pause: Duration,
    pub(crate) record: Arc<dyn Fn(TokenUpdate) + Send + Sync>,
}

/// How the client authenticates.
pub(crate) enum Secret {
    Basic(String),
    Post(String),
    /// `client_secret_jwt`.
    Jwt(String),
    /// `private_key_jwt`.
    PrivateKey(SigningKey),
}

/// What a session is built with; unset fields keep the adapter's defaults.
#[derive(Default)]
pub(crate) struct Options {
    pub(crate) client_id: String,
    /// Build from OpenID Connect discovery of this issuer.
    pub(crate) issuer: Option<String>,
    pub(crate) token_endpoint: Option<String>,
    pub(crate) revocation_endpoint: Option<String>,
    pub(crate) introspection_endpoint: Option<String>,
    pub(crate) authorization_endpoint: Option<String>,
    pub(crate) redirect_uri: Option<String>,
    pub(crate) secret: Option<Secret>,
    pub(crate) assertion_audience: Option<AssertionAudience>,
    pub(crate) device_authorization_endpoint: Option<String>,
    pub(crate) dpop: bool,
    pub(crate) signed_request_objects: bool,
    pub(crate) root_certificate: Option<Vec<u8>>,
    pub(crate) leeway: Option<Duration>,
    pub(crate) scope: Option<String>,
    pub(crate) timeout: Option<Duration>,
    pub(crate) body_limit: Option<u64>,
    pub(crate) token: Option<Token>,
    pub(crate) jwks_cache: Option<(Duration, Duration)>,
    pub(crate) id_token_algorithms: Option<Vec<Algorithm>>,
    pub(crate) bearer_placement: Option<BearerPlacement>,
    pub(crate) on_update: Option<Hook>,
    pub(crate) on_update_async: Option<AsyncHook>,
}

impl Options {
    pub(crate) fn new(client_id: &str) -> Self {
        Self {
            client_id: client_id.to_owned(),
            ..Self::default()
        }
    }

    /// The real server's token, revocation and introspection endpoints.
    pub(crate) fn server(mut self, server: &AuthServer) -> Self {
        self.token_endpoint = Some(server.token_endpoint());
        self.revocation_endpoint = Some(server.revocation_endpoint());
        self.introspection_endpoint = Some(server.introspection_endpoint());
        self
    }

    /// Discovery of the real provider, and the test redirect URI.
    pub(crate) fn discover(mut self, server: &AuthServer) -> Self {
        self.issuer = Some(server.issuer().to_owned());
        self.redirect_uri = Some(REDIRECT_URI.to_owned());
        self
    }

    /// The stub's `/token` as the token endpoint.
    pub(crate) fn stub(self, stub: &FaultServer) -> Self {
        self.token_endpoint(&stub.url("/token"))
    }

    pub(crate) fn token_endpoint(mut self, url: &str) -> Self {
        self.token_endpoint = Some(url.to_owned());
        self
    }

    pub(crate) fn authorization_endpoint(mut self, url: &str) -> Self {
        self.authorization_endpoint = Some(url.to_owned());
        self
    }

    pub(crate) fn redirect_uri(mut self, uri: &str) -> Self {
        self.redirect_uri = Some(uri.to_owned());
        self
    }

    pub(crate) fn secret_basic(mut self, secret: &str) -> Self {
        self.secret = Some(Secret::Basic(secret.to_owned()));
        self
    }

    pub(crate) fn secret_post(mut self, secret: &str) -> Self {
        self.secret = Some(Secret::Post(secret.to_owned()));
        self
    }

    pub(crate) fn secret_jwt(mut self, secret: &str) -> Self {
        self.secret = Some(Secret::Jwt(secret.to_owned()));
        self
    }

    pub(crate) fn private_key(mut self, key: SigningKey) -> Self {
        self.secret = Some(Secret::PrivateKey(key));
        self
    }

    pub(crate) fn assertion_audience(mut self, audience: AssertionAudience) -> Self {
        self.assertion_audience = Some(audience);
        self
    }

    pub(crate) fn dpop(mut self) -> Self {
        self.dpop = true;
        self
    }

    pub(crate) fn root_certificate(mut self, pem: &str) -> Self {
        self.root_certificate = Some(pem.as_bytes().to_vec());
        self
    }

    pub(crate) fn signed_request_objects(mut self) -> Self {
        self.signed_request_objects = true;
        self
    }

    pub(crate) fn device_endpoint(mut self, server: &AuthServer) -> Self {
        self.device_authorization_endpoint = Some(server.device_authorization_endpoint());
        self
    }

    pub(crate) fn leeway(mut self, leeway: Duration) -> Self {
        self.leeway = Some(leeway);
        self
    }

    pub(crate) fn timeout(mut self, timeout: Duration) -> Self {
        self.timeout = Some(timeout);
        self
    }

    pub(crate) fn body_limit(mut self, bytes: u64) -> Self {
        self.body_limit = Some(bytes);
        self
    }

    pub(crate) fn token(mut self, token: Token) -> Self {
        self.token = Some(token);
        self
    }

    pub(crate) fn jwks_cache(mut self, ttl: Duration, min_refetch_interval: Duration) -> Self {
        self.jwks_cache = Some((ttl, min_refetch_interval));
        self
    }

    pub(crate) fn id_token_algorithms(mut self, algorithms: Vec<Algorithm>) -> Self {
        self.id_token_algorithms = Some(algorithms);
        self
    }

    pub(crate) fn bearer_placement(mut self, placement: BearerPlacement) -> Self {
        self.bearer_placement = Some(placement);
        self
    }

    pub(crate) fn on_update(mut self, hook: impl Fn(&TokenUpdate) + Send + Sync + 'static) -> Self {
        self.on_update = Some(Arc::new(hook));
        self
    }

    pub(crate) fn on_update_async(
        mut self,
        pause: Duration,
        record: impl Fn(TokenUpdate) + Send + Sync + 'static,
    ) -> Self {
        self.on_update_async = Some(AsyncHook {
            pause,
            record: Arc::new(record),
        });
        self
    }
}

/// A resource response, its body read to the end.
#[derive(Debug, Clone)]
pub(crate) struct Reply {
    pub(crate) status: u16,
    pub(crate) headers: http::HeaderMap,
    pub(crate) body: String,
}

/// The connections a session's own pool opened, and its bound per origin.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Pool {
    pub(crate) opened: u64,
    pub(crate) bound: u64,
}

/// One call a [`Caller`] makes.
pub(crate) enum Action {
    /// [`Adapter::get`].
    Get(String),
    /// [`Adapter::validate_id_token`].
    Validate(IdToken),
    /// [`Adapter::fetch_token`].
    Fetch(Grant),
    /// [`Adapter::exchange_code`] with the callback URL.
    Exchange(PendingAuthorization, String),
}

/// What an [`Action`] gave.
#[derive(Debug)]
#[allow(
    dead_code,
    reason = "tokens and claims are read through Debug in failure messages"
)]
pub(crate) enum Done {
    Reply(Reply),
    Token(Token),
    Claims(IdTokenClaims),
}

/// A caller running beside others: its plan of calls, and what each gave with the time it
/// started. Each adapter runs it with a loop of `next()`, the call, `record()`.
pub(crate) struct Caller<E> {
    plan: Plan,
    started: SystemTime,
    pub(crate) outcomes: Vec<(SystemTime, Result<Done, E>)>,
}

enum Plan {
    Once(Option<Action>),
    /// `GET url` again and again until one has started after `crossed`; none started after
    /// `stop`; at most `left` more.
    Until {
        url: String,
        crossed: SystemTime,
        stop: SystemTime,
        left: usize,
        last: bool,
    },
}

impl<E> Caller<E> {
    /// One call.
    pub(crate) fn once(action: Action) -> Self {
        Self::with(Plan::Once(Some(action)))
    }

    /// `GET url` again and again until a request has started after `crossed`, starting none
    /// after `stop`, and at most 10,000.
    pub(crate) fn get_until(url: &str, crossed: SystemTime, stop: SystemTime) -> Self {
        Self::with(Plan::Until {
            url: url.to_owned(),
            crossed,
            stop,
            left: 10_000,
            last: false,
        })
    }

    fn with(plan: Plan) -> Self {
        Self {
            plan,
            started: SystemTime::UNIX_EPOCH,
            outcomes: Vec::new(),
        }
    }

    /// The next call to make, if any.
    pub(crate) fn next(&mut self) -> Option<Action> {
        let now = SystemTime::now();
        let action = match &mut self.plan {
            Plan::Once(action) => action.take(),
            Plan::Until {
                url,
                crossed,
                stop,
                left,
                last,
            } => {
                if *last || *left == 0 || now > *stop {
                    return None;
                }
                *left -= 1;
                *last = now > *crossed;
                Some(Action::Get(url.clone()))
            }
        };
        self.started = now;
        action
    }

    /// What the call `next()` gave.
    pub(crate) fn record(&mut self, outcome: Result<Done, E>) {
        self.outcomes.push((self.started, outcome));
    }

    /// The one outcome of a [`Caller::once`].
    pub(crate) fn into_outcome(mut self) -> Result<Done, E> {
        assert_eq!(self.outcomes.len(), 1, "one call");
        self.outcomes.pop().expect("one outcome").1
    }
}

impl<E: std::fmt::Display> Caller<E> {
    /// The outcome of a [`Caller::once`] `GET`: its reply, or the error's text.
    pub(crate) fn into_reply(self) -> Result<Reply, String> {
        match self.into_outcome() {
            Ok(Done::Reply(reply)) => Ok(reply),
            Ok(other) => panic!("a GET gave {other:?}"),
            Err(e) => Err(e.to_string()),
        }
    }
}

/// Polls `future` once, then drops it: true when it had not ended.
pub(crate) async fn poll_once_then_drop<F: Future>(future: F) -> bool {
    let mut future = std::pin::pin!(future);
    std::future::poll_fn(|cx| Poll::Ready(future.as_mut().poll(cx).is_pending())).await
}

/// The seed scenario's driver over any adapter.
pub(crate) struct SeedFacade<A>(pub(crate) A);

fn driver_error(e: &impl AdapterError) -> DriverError {
    DriverError {
        display: e.to_string(),
        oauth_error: e.oauth_error().map(|o| o.error().to_owned()),
    }
}

impl<A: Adapter> SeedDriver for SeedFacade<A> {
    fn fetch_password(&mut self, username: &str, password: &str) -> Result<(), DriverError> {
        self.0
            .fetch_token(Grant::password(username, password))
            .map(drop)
            .map_err(|e| driver_error(&e))
    }

    fn get(&mut self, url: &str) -> Result<u16, DriverError> {
        self.0
            .get(url)
            .map(|r| r.status)
            .map_err(|e| driver_error(&e))
    }

    fn refresh(&mut self) -> Result<(), DriverError> {
        self.0
            .refresh_token()
            .map(drop)
            .map_err(|e| driver_error(&e))
    }

    fn token(&self) -> Option<Token> {
        self.0.token()
    }

    fn refresh_at(&self) -> Option<SystemTime> {
        self.0.refresh_at()
    }
}

/// The front channel of a login: the authorization URL (scope `openid profile email`), and
/// the callback the headless browser reached from it.
pub(crate) struct Browsed {
    pub(crate) url: Url,
    pub(crate) pending: PendingAuthorization,
    pub(crate) callback: String,
}

impl Browsed {
    /// A query parameter of the authorization URL.
    pub(crate) fn param(&self, name: &str) -> Option<String> {
        self.url
            .query_pairs()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.into_owned())
    }
}

pub(crate) fn browse<A: Adapter>(session: &A) -> Browsed {
    let request = AuthorizationRequest::new().scope("openid profile email");
    let (url, pending) = session.authorization_url(&request).expect("url");
    let callback = follow_to_callback(url.as_str(), REDIRECT_URI).expect("headless login");
    Browsed {
        url,
        pending,
        callback,
    }
}

/// A whole login: the front channel, then the code exchange.
pub(crate) fn login<A: Adapter>(session: &A) -> Result<Token, A::Error> {
    let browsed = browse(session);
    session.exchange_code(browsed.pending, &browsed.callback)
}

/// Polls `done` every 10 ms for at most 10 s.
pub(crate) fn eventually(what: &str, done: impl Fn() -> bool) {
    for _ in 0..1000 {
        if done() {
            return;
        }
        std::thread::sleep(Duration::from_millis(10));
    }
    panic!("timed out waiting until {what}");
}

/// `old-at`/`old-rt`, expired a minute ago.
pub(crate) fn expired_token() -> Token {
    let now = SystemTime::now();
    Token::bearer("old-at")
        .with_refresh_token("old-rt")
        .with_lifetime(
            now - Duration::from_secs(120),
            now - Duration::from_secs(60),
        )
}

/// `old-at`/`old-rt`, a 60 s token with 10 s left: inside a 30 s leeway, due for renewal and
/// still valid.
pub(crate) fn due_token() -> Token {
    let now = SystemTime::now();
    Token::bearer("old-at")
        .with_refresh_token("old-rt")
        .with_lifetime(now - Duration::from_secs(50), now + Duration::from_secs(10))
}

/// A stub answering `200 ok` to everything not scripted.
pub(crate) fn ok_stub() -> FaultServer {
    FaultServer::with_default(Fault::respond(200, "text/plain", "ok")).expect("stub")
}

/// The paths the stub was asked for, in order.
pub(crate) fn paths(stub: &FaultServer) -> Vec<String> {
    stub.requests().into_iter().map(|r| r.path).collect()
}

/// How many requests reached the stub's `/token`.
pub(crate) fn token_requests(stub: &FaultServer) -> usize {
    stub.requests()
        .iter()
        .filter(|r| r.path == "/token")
        .count()
}

/// The session still holds `old-at`/`old-rt`.
pub(crate) fn assert_token_kept<A: Adapter>(session: &A) {
    let token = session.token().expect("token");
    assert_eq!(token.access_token().secret(), "old-at");
    assert_eq!(token.refresh_token().map(|t| t.secret()), Some("old-rt"));
}

/// The session's access token.
pub(crate) fn access_token<A: Adapter>(session: &A) -> String {
    session
        .token()
        .expect("token")
        .access_token()
        .secret()
        .to_owned()
}

/// The refresh token's secret.
pub(crate) fn refresh_secret(token: &Token) -> String {
    token
        .refresh_token()
        .expect("refresh token")
        .secret()
        .to_owned()
}
