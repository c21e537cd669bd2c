//! OpenID Connect discovery on the blocking builder (one request, one parse, before a session
//! exists); the session's OpenID Connect methods are the shared ones
//! ([`oauth_core::session_methods`]), each a core flow.

use oauth_core::oidc::{MetadataKind, discovery_request, parse_discovery_response};

use crate::Error;
use crate::session::{SessionBuilder, call_endpoint, default_agent};

impl SessionBuilder {
    /// Fetches the provider's metadata from `issuer` (OpenID Connect Discovery) and takes its
    /// endpoints and issuer; the document's `issuer` must equal `issuer` exactly. The call
    /// goes through the [`agent`](Self::agent) if one was set before, else through an agent
    /// for this call only, so settings made after `discover` still shape the session's.
    ///
    /// # Errors
    /// A configuration error already met, a transport error, or a document that is not
    /// metadata for this issuer.
    pub fn discover(self, issuer: &str) -> Result<Self, Error> {
        let settings = &self.settings;
        let request = discovery_request(&settings.config.clone()?, issuer, MetadataKind::OpenId)?;
        let agent = self.agent.clone();
        let agent =
            agent.unwrap_or_else(|| default_agent(settings.timeout, &settings.root_certificates));
        let response = call_endpoint(&agent, request, settings.body_limit, settings.timeout)?;
        let metadata = parse_discovery_response(&response, issuer)?;
        Ok(self.provider_metadata(&metadata))
    }
}
