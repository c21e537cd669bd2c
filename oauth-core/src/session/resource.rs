//! A resource server's answer to a request signed with the session's token (RFC 6750 §3.1):
//! whether to replay it, and whether the token must be renewed first.

use http::{HeaderMap, StatusCode, Uri};

use super::{MAX_REPLAYS, Renewal, ResourceVerdict, TokenSession};
use crate::rfc6750::{Bearer, is_invalid_token_challenge};
use crate::rfc9449::asks_for_nonce;

impl TokenSession {
    /// Reads a resource response signed with `bearer`; `replays` is how many times this
    /// request was already replayed. A `401` with `invalid_token` is replayed when the token
    /// changed since the request was signed (another caller renewed it; servers that revoke
    /// the previous token on refresh refuse requests signed just before), with the current
    /// token and no refresh; otherwise, on a first attempt, after one forced refresh. At most
    /// [`MAX_REPLAYS`] replays: then the `401` reaches the caller, never a loop.
    ///
    /// For a DPoP-bound token, `uri` is where the request went: a `DPoP-Nonce` the resource
    /// sends is remembered for its origin, and a first refusal with
    /// `WWW-Authenticate: DPoP error="use_dpop_nonce"` is replayed once with that nonce
    /// (RFC 9449 §9).
    pub fn handle_resource_response(
        &mut self,
        bearer: &Bearer,
        replays: u32,
        uri: &Uri,
        status: StatusCode,
        headers: &HeaderMap,
    ) -> ResourceVerdict {
        if let Some(signer) = &bearer.dpop {
            let fresh = signer.nonces.remember(uri, headers);
            if status == StatusCode::UNAUTHORIZED && asks_for_nonce(headers) {
                return if replays == 0 && (fresh || signer.nonces.get(uri).is_some()) {
                    ResourceVerdict::Replay
                } else {
                    ResourceVerdict::Accept
                };
            }
        }
        if replays >= MAX_REPLAYS
            || status != StatusCode::UNAUTHORIZED
            || !is_invalid_token_challenge(headers)
        {
            return ResourceVerdict::Accept;
        }
        if bearer.generation() != self.generation {
            // Someone renewed the token since this request was signed.
            return ResourceVerdict::Replay;
        }
        if replays > 0 {
            // Refused with the current token again: never a second forced refresh.
            return ResourceVerdict::Accept;
        }
        let renewable = self.refetch.is_some()
            || (!matches!(self.renewal, Renewal::Rejected { .. })
                && self
                    .token
                    .as_ref()
                    .is_some_and(|t| t.refresh_token().is_some()));
        if renewable {
            self.rejected_by_resource = true;
            ResourceVerdict::Replay
        } else {
            ResourceVerdict::Accept
        }
    }
}
