//! The values the session state machine hands out and takes back.

use http::Request;

use super::Refetch;
use crate::error::Error;
use crate::rfc6750::Bearer;
use crate::token::Token;

/// Why an exchange was started.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum ExchangeKind {
    /// An explicit `fetch_token` with a grant.
    Fetch,
    /// A refresh-token grant (RFC 6749 §6).
    Refresh,
    /// A new client-credentials grant in place of a refresh.
    Refetch,
}

/// Identifies an exchange when its answer comes back.
#[derive(Debug, Clone)]
pub struct ExchangeTicket {
    pub(super) id: u64,
    pub(super) kind: ExchangeKind,
    pub(super) generation: u64,
    pub(super) refetch: Option<Refetch>,
    /// The grant, to build the request again with a new DPoP nonce.
    pub(super) grant: std::sync::Arc<crate::Grant>,
    /// Whether the request was already sent again for a DPoP nonce (once at most).
    pub(super) dpop_retried: bool,
    /// Why a renewal was decided (`None` for an explicit fetch).
    pub(super) reason: Option<RenewalReason>,
}

/// Why the session renews its token.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum RenewalReason {
    /// The token is inside its leeway: renewed ahead of its expiry.
    Due,
    /// The token expired (or was about to, in its last moment of transit).
    Expired,
    /// A resource refused it with `401` `invalid_token` (RFC 6750 §3.1): renewed, and the
    /// request replayed.
    RefusedByResource,
    /// Asked for explicitly (`refresh_token`).
    Explicit,
}

impl RenewalReason {
    /// A short name for logs: `due`, `expired`, `refused_by_resource`, `explicit`.
    #[must_use]
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Due => "due",
            Self::Expired => "expired",
            Self::RefusedByResource => "refused_by_resource",
            Self::Explicit => "explicit",
        }
    }
}

impl std::fmt::Display for RenewalReason {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

impl ExchangeTicket {
    /// Why the exchange was started.
    #[must_use]
    pub fn kind(&self) -> ExchangeKind {
        self.kind
    }

    /// Why a renewal was decided; `None` for an explicit fetch.
    #[must_use]
    pub fn reason(&self) -> Option<RenewalReason> {
        self.reason
    }

    /// The `grant_type` of the exchange's request.
    #[must_use]
    pub fn grant_type(&self) -> &str {
        self.grant.grant_type()
    }
}

/// A token-endpoint request to send, and the ticket to hand back with its answer.
///
/// `Debug` shows the ticket, method and URI: the body carries the grant's secrets.
#[must_use = "an exchange must be sent and its answer handled, or reported as failed"]
pub struct Exchange {
    pub(super) ticket: ExchangeTicket,
    pub(super) request: Request<Vec<u8>>,
}

impl Exchange {
    /// The ticket to hand back with the answer.
    #[must_use]
    pub fn ticket(&self) -> &ExchangeTicket {
        &self.ticket
    }

    /// The request to send.
    #[must_use]
    pub fn request(&self) -> &Request<Vec<u8>> {
        &self.request
    }

    /// Splits into the ticket and the request.
    #[must_use]
    pub fn into_parts(self) -> (ExchangeTicket, Request<Vec<u8>>) {
        (self.ticket, self.request)
    }
}

/// What to do before a resource request.
#[derive(Debug)]
#[must_use]
#[non_exhaustive]
pub enum Authorization {
    /// Sign the request with this token.
    Ready(Bearer),
    /// Refresh first: send this refresh-token request.
    Refresh(Exchange),
    /// Fetch again first: send this client-credentials request.
    Refetch(Exchange),
    /// Another caller's exchange is in flight and the token is no longer usable: wait for it
    /// to end, then ask [`TokenSession::poll_pending`](super::TokenSession::poll_pending) with
    /// this value.
    Wait(Pending),
    /// No request can be signed.
    Fail(Error),
}

/// An exchange another caller is running, that this caller waits for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Pending {
    pub(super) id: u64,
}

/// What to do after a resource response.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[must_use]
#[non_exhaustive]
pub enum ResourceVerdict {
    /// Give the response to the caller.
    Accept,
    /// The token was refused (`401` with `Bearer error="invalid_token"`) and can be renewed:
    /// poll again and send the request once more, as a replay.
    Replay,
}

/// A change of the session's token, for the user's update hook (to persist the new token).
#[derive(Debug, Clone)]
pub struct TokenUpdate {
    pub(super) kind: UpdateKind,
    pub(super) old: Option<Token>,
    pub(super) new: Token,
}

/// What changed the token.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum UpdateKind {
    /// `fetch_token` with a grant.
    Fetched,
    /// A refresh-token grant.
    Refreshed,
    /// A client-credentials re-fetch.
    Refetched,
    /// The user called `set_token`.
    Set,
    /// A newer token another replica stored was adopted from the shared store.
    Adopted,
}

impl TokenUpdate {
    /// What changed the token.
    #[must_use]
    pub fn kind(&self) -> UpdateKind {
        self.kind
    }

    /// The token before the change.
    #[must_use]
    pub fn old_token(&self) -> Option<&Token> {
        self.old.as_ref()
    }

    /// The token after the change.
    #[must_use]
    pub fn new_token(&self) -> &Token {
        &self.new
    }
}

impl std::fmt::Debug for Exchange {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Exchange")
            .field("ticket", &self.ticket)
            .field("method", self.request.method())
            .field("uri", self.request.uri())
            .finish_non_exhaustive()
    }
}
