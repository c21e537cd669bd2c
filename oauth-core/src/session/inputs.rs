//! The session's inputs and DPoP: the entropy JWTs are minted with, the token requests it
//! builds (client authentication minted now, a DPoP proof), a `use_dpop_nonce` answer sent
//! once more, and how a token is presented (bearer, or DPoP-bound).

use std::fmt;
use std::sync::Arc;
use std::time::SystemTime;

use http::{Request, Response};

use super::{ExchangeTicket, TokenSession};
use crate::entropy::Entropy;
use crate::error::{ConfigError, Error, UsageError};
use crate::rfc6749::{Grant, parse_token_response, token_request_with};
use crate::rfc6750::Bearer;
use crate::rfc7523::Mint;
use crate::rfc9449::{DPOP_HEADER, DpopKey, DpopSigner, access_token_hash};
use crate::token::Token;

/// The session's entropy source (`Debug` names it only).
#[derive(Clone)]
pub(super) struct EntropySource(pub(super) Arc<dyn Entropy>);

impl fmt::Debug for EntropySource {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Entropy")
    }
}

impl TokenSession {
    /// Sender-constrains the session's tokens with DPoP (RFC 9449): every token request
    /// carries a proof signed with `key`, and tokens the server issues as `DPoP` are presented
    /// with a proof per request. Needs an [`Entropy`] source
    /// ([`with_entropy`](Self::with_entropy)). Keep the key for as long as its tokens: a
    /// refresh token bound to it is useless with another.
    #[must_use]
    pub fn with_dpop(mut self, key: DpopKey) -> Self {
        self.dpop = Some(key);
        self
    }

    /// The DPoP key, if the session has one.
    #[must_use]
    pub fn dpop_key(&self) -> Option<&DpopKey> {
        self.dpop.as_ref()
    }

    /// A token request for `grant` at `now`: client authentication minted now, and a DPoP
    /// proof with the token endpoint's latest nonce when the session has a key.
    pub(super) fn token_request_at(
        &self,
        grant: &Grant,
        now: SystemTime,
    ) -> Result<Request<Vec<u8>>, Error> {
        let mut request = token_request_with(&self.config, grant, &self.mint(now))?;
        if let Some(key) = &self.dpop {
            let entropy = self.entropy.as_ref().ok_or(UsageError::MintUnavailable)?;
            let nonce = self.nonces.get(request.uri());
            let proof = key.proof(
                request.method(),
                request.uri(),
                now,
                &*entropy.0,
                None,
                nonce.as_deref(),
            )?;
            let value = http::HeaderValue::try_from(proof)
                .map_err(|_| ConfigError::InvalidHeaderValue("DPoP proof"))?;
            request.headers_mut().insert(DPOP_HEADER, value);
        }
        Ok(request)
    }

    /// Whether the answer to `ticket`'s request asks for a DPoP nonce the request did not
    /// carry (a `use_dpop_nonce` error with a `DPoP-Nonce`, RFC 9449 §8): then the nonce is
    /// remembered and the caller sends the request once more, built again with
    /// [`rebuild_exchange`](Self::rebuild_exchange). At most once per exchange.
    pub fn wants_dpop_retry<B: AsRef<[u8]>>(
        &mut self,
        ticket: &mut ExchangeTicket,
        response: &Response<B>,
    ) -> bool {
        if self.dpop.is_none() {
            return false;
        }
        let Some(uri) = self
            .config
            .token_endpoint
            .as_ref()
            .and_then(|url| url.as_str().parse::<http::Uri>().ok())
        else {
            return false;
        };
        // Any answer may carry the next nonce (§8.2), a success too.
        let fresh = self.nonces.remember(&uri, response.headers());
        if ticket.dpop_retried {
            return false;
        }
        let asks = response.status().is_client_error()
            && parse_token_response(response, SystemTime::UNIX_EPOCH)
                .err()
                .and_then(|e| e.oauth_error().map(|o| o.error() == "use_dpop_nonce"))
                .unwrap_or(false);
        if asks && (fresh || self.nonces.get(&uri).is_some()) {
            ticket.dpop_retried = true;
            return true;
        }
        false
    }

    /// The request of `ticket`'s exchange built again at `now` (a new proof with the latest
    /// nonce, a new client assertion).
    ///
    /// # Errors
    /// As when the exchange started.
    pub fn rebuild_exchange(
        &self,
        ticket: &ExchangeTicket,
        now: SystemTime,
    ) -> Result<Request<Vec<u8>>, Error> {
        self.token_request_at(&ticket.grant, now)
    }

    /// The entropy source for JWTs minted per request (client assertions, JWT bearer grants).
    /// Without one, a session whose requests need such a JWT fails them with
    /// [`UsageError::MintUnavailable`]. The adapters give the operating system's.
    #[must_use]
    pub fn with_entropy(mut self, entropy: Arc<dyn Entropy>) -> Self {
        self.entropy = Some(EntropySource(entropy));
        self
    }

    /// Fills `dest` from the session's entropy source.
    pub(crate) fn fill_entropy(&self, dest: &mut [u8]) -> Result<(), Error> {
        let entropy = self.entropy.as_ref().ok_or(UsageError::MintUnavailable)?;
        entropy
            .0
            .fill(dest)
            .map_err(|_| UsageError::EntropyUnavailable.into())
    }

    /// The inputs for JWTs minted at `now`.
    pub(crate) fn mint(&self, now: SystemTime) -> Mint<'_> {
        Mint::maybe(now, self.entropy.as_ref().map(|e| &*e.0))
    }

    /// How `token` is presented: as a bearer token, or DPoP-bound with a proof per request
    /// when the server issued it as `DPoP` to this session's key. `None` when it cannot be.
    pub(super) fn presentation(&self, token: &Token) -> Option<Bearer> {
        let bearer = Bearer::new(
            token.access_token(),
            self.config.bearer_placement,
            self.generation,
        )?;
        if !token.token_type().eq_ignore_ascii_case("DPoP") {
            return Some(bearer);
        }
        let (key, entropy) = (self.dpop.as_ref()?, self.entropy.as_ref()?);
        bearer.into_dpop(DpopSigner {
            key: key.clone(),
            entropy: Arc::clone(&entropy.0),
            nonces: self.nonces.clone(),
            ath: access_token_hash(token.access_token()).into(),
        })
    }

    /// Whether the session can present `token`: a bearer token, or a DPoP one with its key
    /// and the entropy its proofs need.
    pub(super) fn presentable(&self, token: &Token) -> bool {
        token.is_bearer()
            || (token.token_type().eq_ignore_ascii_case("DPoP")
                && self.dpop.is_some()
                && self.entropy.is_some())
    }
}
