//! Authorization grants sent to the token endpoint (RFC 6749 §4.1.3, §4.3.2, §4.4.2, §6, §4.5).

use std::borrow::Cow;
use std::fmt;

use crate::client::ClientConfig;
use crate::error::Error;
use crate::rfc7523::{JWT_BEARER_GRANT_TYPE, JwtBearer, Mint};
use crate::secret::{AuthorizationCode, Password, PkceCodeVerifier, RefreshToken, SecretParam};

/// A grant: its `grant_type` and parameters, each either plain or secret.
///
/// `Debug` shows the grant type, the plain parameters and the *names* of the secret ones.
#[derive(Clone)]
pub struct Grant {
    grant_type: Cow<'static, str>,
    params: Vec<(Cow<'static, str>, Param)>,
    scope: Option<String>,
    takes_default_scope: bool,
    repeatable: bool,
}

#[derive(Clone)]
pub(crate) enum Param {
    Plain(String),
    Secret(SecretParam),
    /// A JWT bearer assertion, minted when the request is built.
    Minted(Box<JwtBearer>),
}

impl Grant {
    fn new(grant_type: &'static str, takes_default_scope: bool) -> Self {
        Self {
            grant_type: Cow::Borrowed(grant_type),
            params: Vec::new(),
            scope: None,
            takes_default_scope,
            repeatable: false,
        }
    }

    /// The JWT bearer grant (RFC 7523 §2.1): every token request carries a fresh assertion,
    /// and a session re-fetches with it when its token is due.
    #[must_use]
    pub fn jwt_bearer(assertion: JwtBearer) -> Self {
        let mut grant = Self::new(JWT_BEARER_GRANT_TYPE, true);
        grant.params.push((
            Cow::Borrowed("assertion"),
            Param::Minted(Box::new(assertion)),
        ));
        grant.repeatable = true;
        grant
    }

    /// Whether a session may send this grant again when its token is due and there is no
    /// refresh token: client credentials, JWT bearer and token exchange.
    #[must_use]
    pub fn is_repeatable(&self) -> bool {
        self.repeatable
    }

    /// Marks this grant as one a session may send again when its token is due (a custom
    /// grant that, like client credentials, needs no user).
    #[must_use]
    pub fn repeatable(mut self, repeatable: bool) -> Self {
        self.repeatable = repeatable;
        self
    }

    /// The resource owner password credentials grant (RFC 6749 §4.3), as in the seed scenario.
    pub fn password(username: impl Into<String>, password: impl Into<Password>) -> Self {
        let password = password.into();
        Self::new("password", true)
            .param("username", username)
            .secret_param("password", password.secret())
    }

    /// The client credentials grant (RFC 6749 §4.4). A session re-fetches with it when its
    /// token expires.
    #[must_use]
    pub fn client_credentials() -> Self {
        Self::new("client_credentials", true).repeatable(true)
    }

    /// The authorization code grant (RFC 6749 §4.1.3). Add the redirect URI and the PKCE
    /// verifier when the authorization request had them.
    pub fn authorization_code(code: impl Into<AuthorizationCode>) -> Self {
        let code = code.into();
        Self::new("authorization_code", false).secret_param("code", code.secret())
    }

    /// Adds the `redirect_uri` of the authorization request (RFC 6749 §4.1.3).
    #[must_use]
    pub fn redirect_uri(self, redirect_uri: impl Into<String>) -> Self {
        self.param("redirect_uri", redirect_uri)
    }

    /// Adds the PKCE `code_verifier` (RFC 7636 §4.5), consuming it.
    #[must_use]
    pub fn pkce_verifier(self, verifier: PkceCodeVerifier) -> Self {
        self.secret_param("code_verifier", verifier.secret())
    }

    /// The refresh token grant (RFC 6749 §6).
    #[must_use]
    pub fn refresh_token(refresh_token: &RefreshToken) -> Self {
        Self::new("refresh_token", false).secret_param("refresh_token", refresh_token.secret())
    }

    /// Any other grant type (a URN such as RFC 7523's JWT bearer, or a vendor's), with
    /// parameters added by [`param`](Self::param) and [`secret_param`](Self::secret_param).
    pub fn custom(grant_type: impl Into<String>) -> Self {
        Self {
            grant_type: Cow::Owned(grant_type.into()),
            params: Vec::new(),
            scope: None,
            takes_default_scope: false,
            repeatable: false,
        }
    }

    /// Adds a parameter that is not a secret (it shows in `Debug`).
    #[must_use]
    pub fn param(mut self, name: impl Into<Cow<'static, str>>, value: impl Into<String>) -> Self {
        self.params.push((name.into(), Param::Plain(value.into())));
        self
    }

    /// Adds a secret parameter (never shown in `Debug`).
    #[must_use]
    pub fn secret_param(mut self, name: impl Into<Cow<'static, str>>, value: &str) -> Self {
        self.params
            .push((name.into(), Param::Secret(SecretParam::new(value))));
        self
    }

    /// Asks for this scope instead of the configured default.
    #[must_use]
    pub fn scope(mut self, scope: impl Into<String>) -> Self {
        self.scope = Some(scope.into());
        self
    }

    /// The `grant_type` value.
    #[must_use]
    pub fn grant_type(&self) -> &str {
        &self.grant_type
    }

    /// The scope asked for explicitly, if any.
    #[must_use]
    pub fn requested_scope(&self) -> Option<&str> {
        self.scope.as_deref()
    }

    /// Appends the parameters to a form, minting what must be minted now.
    pub(crate) fn append_params(
        &self,
        form: &mut url::form_urlencoded::Serializer<'_, String>,
        config: &ClientConfig,
        mint: &Mint<'_>,
    ) -> Result<(), Error> {
        for (name, value) in &self.params {
            match value {
                Param::Plain(v) => form.append_pair(name, v),
                Param::Secret(s) => form.append_pair(name, s.secret()),
                Param::Minted(assertion) => {
                    let jwt = zeroize::Zeroizing::new(assertion.assertion(config, mint)?);
                    form.append_pair(name, &jwt)
                }
            };
        }
        Ok(())
    }

    /// The scope to send: the grant's own, else the configured default for grants that take one
    /// (password and client credentials; a refresh keeps the original scope by sending none).
    pub(crate) fn effective_scope<'a>(&'a self, default: Option<&'a str>) -> Option<&'a str> {
        self.scope.as_deref().or(if self.takes_default_scope {
            default
        } else {
            None
        })
    }
}

impl fmt::Debug for Grant {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut s = f.debug_struct("Grant");
        s.field("grant_type", &self.grant_type);
        for (name, value) in &self.params {
            match value {
                Param::Plain(v) => s.field(name, v),
                Param::Secret(_) => s.field(name, &format_args!("[redacted]")),
                Param::Minted(assertion) => s.field(name, assertion),
            };
        }
        s.field("scope", &self.scope).finish()
    }
}
