//! OpenID Connect discovery on the builder (one request, one parse, before a session exists);
//! the session's OpenID Connect methods are the shared ones ([`oauth_core::session_methods`]),
//! each a core flow.

use oauth_core::oidc::{MetadataKind, discovery_request, parse_discovery_response};

use crate::Error;
use crate::builder::SessionBuilder;
use crate::endpoint::call_endpoint;

impl SessionBuilder {
    /// Fetches the provider's metadata from `issuer` (OpenID Connect Discovery) and takes its
    /// endpoints and issuer; the document's `issuer` must equal `issuer` exactly.
    ///
    /// The call goes through the [`endpoint_client`](Self::endpoint_client) if one is set
    /// (set it before), else through the client the session builds for endpoint calls, which
    /// the session then keeps.
    ///
    /// # Errors
    /// A configuration error already met, a transport error, or a document that is not
    /// metadata for this issuer.
    pub async fn discover(mut self, issuer: &str) -> Result<Self, Error> {
        let config = self.config()?;
        let request = discovery_request(&config, issuer, MetadataKind::OpenId)?;
        let client = self.early_endpoint_client()?;
        let response = call_endpoint(&client, request, self.limits(), None).await?;
        let metadata = parse_discovery_response(&response, issuer)?;
        Ok(self.provider_metadata(&metadata))
    }
}
