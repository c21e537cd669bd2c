//! The provider's signing keys, cached: fetched when missing or older than a TTL, and fetched
//! again once when a token names an unknown `kid` (the provider rotated its keys), but not more
//! often than [`MIN_JWKS_REFETCH_INTERVAL`], so a flood of tokens with made-up `kid`s cannot
//! turn into a flood of requests to the provider.

use std::time::{Duration, SystemTime};

use http::header::ACCEPT;
use http::{HeaderValue, Method, Request, Response};

use crate::client::ClientConfig;
use crate::error::{ConfigError, Error};
use crate::jose::Jwks;
use crate::oidc::{IdTokenClaims, IdTokenError, IdTokenVerifier};
use crate::rfc6749::authorization::IdTokenExpectations;
use crate::rfc6749::response::ResponseView;
use crate::secret::{AccessToken, IdToken};

/// How long a fetched key set is used before it is fetched again.
pub const DEFAULT_JWKS_TTL: Duration = Duration::from_secs(600);
/// The least time between two fetches caused by unknown `kid`s.
pub const MIN_JWKS_REFETCH_INTERVAL: Duration = Duration::from_secs(60);

/// A cached key set and when to fetch it again.
#[derive(Debug, Clone)]
pub struct JwksCache {
    keys: Option<Jwks>,
    fetched_at: Option<SystemTime>,
    /// The last fetch, answered or not: unknown-`kid` re-fetches are spaced from it, so a
    /// failing key endpoint is not hammered either.
    attempted_at: Option<SystemTime>,
    /// A fetch some caller is making, and since when: other validations wait for it.
    fetching: Option<SystemTime>,
    ttl: Duration,
    min_refetch_interval: Duration,
}

/// How long a key fetch counts as in flight when its caller never reports back.
pub const JWKS_FETCH_TIMEOUT: Duration = Duration::from_secs(60);

/// What to do before validating an ID token.
#[derive(Debug)]
#[must_use]
#[non_exhaustive]
#[allow(
    clippy::large_enum_variant,
    reason = "made once per login, never stored"
)]
pub enum KeysDecision<'a> {
    /// Use these keys.
    Use(&'a Jwks),
    /// Fetch the key set first: send this request, give the answer to
    /// [`JwksCache::handle_jwks_response`].
    Fetch(Request<Vec<u8>>),
}

impl Default for JwksCache {
    fn default() -> Self {
        Self::new(DEFAULT_JWKS_TTL, MIN_JWKS_REFETCH_INTERVAL)
    }
}

impl JwksCache {
    /// An empty cache with this TTL and least interval between unknown-`kid` fetches.
    #[must_use]
    pub fn new(ttl: Duration, min_refetch_interval: Duration) -> Self {
        Self {
            keys: None,
            fetched_at: None,
            attempted_at: None,
            fetching: None,
            ttl,
            min_refetch_interval,
        }
    }

    /// The keys if they are fresh at `now`, else the request that fetches them.
    ///
    /// # Errors
    /// [`ConfigError`] when no JWKS URL is configured (or it is insecure).
    pub fn poll_keys(
        &self,
        config: &ClientConfig,
        now: SystemTime,
    ) -> Result<KeysDecision<'_>, Error> {
        match (&self.keys, self.fetched_at) {
            (Some(keys), Some(at)) if now.duration_since(at).is_ok_and(|age| age < self.ttl) => {
                Ok(KeysDecision::Use(keys))
            }
            _ => Ok(KeysDecision::Fetch(jwks_request(config)?)),
        }
    }

    /// A token named a `kid` the cached set lacks: the request that fetches the set again, or
    /// `None` when the last fetch is more recent than the least interval (keep the error).
    ///
    /// # Errors
    /// [`ConfigError`] when no JWKS URL is configured (or it is insecure).
    pub fn handle_unknown_key(
        &self,
        config: &ClientConfig,
        now: SystemTime,
    ) -> Result<Option<Request<Vec<u8>>>, Error> {
        let recent = self.attempted_at.is_some_and(|at| {
            now.duration_since(at)
                .map_or(true, |age| age < self.min_refetch_interval)
        });
        if recent {
            Ok(None)
        } else {
            Ok(Some(jwks_request(config)?))
        }
    }

    /// Stores a fetched key set.
    ///
    /// # Errors
    /// [`Error::Response`] when the answer is not a JWK Set; the old keys stay.
    pub fn handle_jwks_response<B: AsRef<[u8]>>(
        &mut self,
        response: &Response<B>,
        now: SystemTime,
    ) -> Result<&Jwks, Error> {
        self.attempted_at = Some(now);
        self.fetching = None;
        let view = ResponseView::of(response);
        let document: serde_json::Map<String, serde_json::Value> = view.decode_success()?;
        let keys = Jwks::from_value(serde_json::Value::Object(document))
            .map_err(|e| view.malformed(e.to_string()))?;
        self.fetched_at = Some(now);
        Ok(self.keys.insert(keys))
    }

    /// Validates an ID token with the cached keys, or asks for the key set first: when there
    /// are no fresh keys, and once more when the token names an unknown `kid` (unless the set
    /// was `just_fetched` or fetched less than the least interval ago). Drive it in a loop:
    /// on [`IdTokenStep::Fetch`], send the request, give the answer to
    /// [`handle_jwks_response`](Self::handle_jwks_response), and call again with
    /// `just_fetched = true`.
    ///
    /// # Errors
    /// [`Error::IdToken`] naming the failed check, or [`ConfigError`] when keys are needed and
    /// no JWKS URL is configured.
    #[allow(
        clippy::too_many_arguments,
        reason = "each input is a distinct fact of the login"
    )]
    pub fn validate_id_token(
        &self,
        config: &ClientConfig,
        verifier: &IdTokenVerifier,
        id_token: &IdToken,
        expectations: &IdTokenExpectations,
        access_token: Option<&AccessToken>,
        now: SystemTime,
        just_fetched: bool,
    ) -> Result<IdTokenStep, Error> {
        let empty = Jwks::default();
        let keys = if config.jwks_uri.is_none() {
            // HMAC-signed tokens need no provider keys; others fail with UnknownKey below.
            &empty
        } else {
            match self.poll_keys(config, now)? {
                KeysDecision::Use(keys) => keys,
                KeysDecision::Fetch(request) if !just_fetched => {
                    return Ok(IdTokenStep::Fetch(request));
                }
                KeysDecision::Fetch(_) => self.keys.as_ref().unwrap_or(&empty),
            }
        };
        match verifier.validate(id_token, keys, expectations, access_token, now) {
            Err(IdTokenError::UnknownKey { .. }) if !just_fetched && config.jwks_uri.is_some() => {
                match self.handle_unknown_key(config, now)? {
                    Some(request) => Ok(IdTokenStep::Fetch(request)),
                    None => Err(IdTokenError::UnknownKey {
                        kid: crate::jose::Jws::parse(id_token.secret())
                            .ok()
                            .and_then(|j| j.kid().map(str::to_owned)),
                    }
                    .into()),
                }
            }
            Ok(claims) => Ok(IdTokenStep::Validated(claims)),
            Err(error) => Err(error.into()),
        }
    }

    /// Reports a key fetch that got no answer (connection refused, timeout): the next
    /// unknown-`kid` re-fetch waits the least interval from now.
    pub fn handle_jwks_failure(&mut self, now: SystemTime) {
        self.attempted_at = Some(now);
        self.fetching = None;
    }

    /// Marks a key fetch as in flight: until it is answered (or fails), other validations
    /// wait for it instead of fetching too.
    pub fn begin_fetch(&mut self, now: SystemTime) {
        self.fetching = Some(now);
    }

    /// Whether another caller's key fetch is in flight at `now` (for at most
    /// [`JWKS_FETCH_TIMEOUT`], in case its caller vanished without reporting).
    #[must_use]
    pub fn fetch_in_flight(&self, now: SystemTime) -> bool {
        self.fetching.is_some_and(|since| {
            now.duration_since(since)
                .map_or(true, |age| age < JWKS_FETCH_TIMEOUT)
        })
    }

    /// The cached keys, fresh or not.
    #[must_use]
    pub fn keys(&self) -> Option<&Jwks> {
        self.keys.as_ref()
    }
}

/// What [`JwksCache::validate_id_token`] asks for.
#[derive(Debug)]
#[must_use]
#[non_exhaustive]
pub enum IdTokenStep {
    /// The token is valid; here are its claims.
    Validated(IdTokenClaims),
    /// Fetch the provider's keys first, then validate again with `just_fetched = true`.
    Fetch(Request<Vec<u8>>),
}

fn jwks_request(config: &ClientConfig) -> Result<Request<Vec<u8>>, Error> {
    let url = config.endpoint("JWKS", config.jwks_uri.as_ref())?;
    Request::builder()
        .method(Method::GET)
        .uri(url.as_str())
        .header(ACCEPT, HeaderValue::from_static("application/json"))
        .body(Vec::new())
        .map_err(|e| {
            ConfigError::InvalidUrl {
                what: "JWKS",
                reason: e.to_string(),
            }
            .into()
        })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn config() -> ClientConfig {
        ClientConfig::new("c")
            .jwks_uri("https://as.example/jwks")
            .expect("url")
    }

    fn jwks_response() -> Response<Vec<u8>> {
        Response::builder()
            .status(200)
            .body(br#"{"keys":[{"kty":"oct","k":"AAAA","kid":"a"}]}"#.to_vec())
            .expect("response")
    }

    #[test]
    fn fetch_use_expire_and_rate_limited_refetch() {
        let t0 = SystemTime::UNIX_EPOCH + Duration::from_secs(1_771_834_670);
        let mut cache = JwksCache::default();
        assert!(matches!(
            cache.poll_keys(&config(), t0).expect("decision"),
            KeysDecision::Fetch(_)
        ));
        cache
            .handle_jwks_response(&jwks_response(), t0)
            .expect("stored");
        assert!(matches!(
            cache
                .poll_keys(&config(), t0 + Duration::from_secs(599))
                .expect("decision"),
            KeysDecision::Use(_)
        ));
        assert!(matches!(
            cache
                .poll_keys(&config(), t0 + DEFAULT_JWKS_TTL)
                .expect("decision"),
            KeysDecision::Fetch(_)
        ));
        // Unknown kids right after a fetch: no request, however many.
        for s in 0..60 {
            assert!(
                cache
                    .handle_unknown_key(&config(), t0 + Duration::from_secs(s))
                    .expect("ok")
                    .is_none()
            );
        }
        assert!(
            cache
                .handle_unknown_key(&config(), t0 + MIN_JWKS_REFETCH_INTERVAL)
                .expect("ok")
                .is_some()
        );
    }

    #[test]
    fn a_bad_answer_keeps_the_old_keys() {
        let t0 = SystemTime::UNIX_EPOCH;
        let mut cache = JwksCache::default();
        cache
            .handle_jwks_response(&jwks_response(), t0)
            .expect("stored");
        let bad = Response::builder()
            .status(500)
            .body(b"oops".to_vec())
            .expect("response");
        assert!(cache.handle_jwks_response(&bad, t0).is_err());
        assert_eq!(cache.keys().map(|k| k.keys().len()), Some(1));
    }
}
