//! [`OAuth2Middleware`]: the session's signing, refresh and replay as a `reqwest-middleware`
//! layer, for code that already builds its clients as middleware stacks.

use reqwest_middleware::{Middleware, Next};

use crate::request::{hide_token, sign};
use crate::{Error, OAuth2Session};

/// Signs every request of a `reqwest_middleware::ClientWithMiddleware` with the session's
/// token, refreshing first when the core says so and replaying once after a `401`
/// `invalid_token`, exactly as [`OAuth2Session::get`] does.
///
/// Token exchanges still go through the session's own endpoint client, not through the stack.
/// With [`BearerPlacement::Query`](oauth_core::BearerPlacement::Query) or
/// [`BearerPlacement::FormBody`](oauth_core::BearerPlacement::FormBody), the stack's client
/// must not follow redirects to another origin (see
/// [`SessionBuilder::client`](crate::SessionBuilder::client)): reqwest would carry the token
/// there in the URL or the replayed body.
/// Session errors reach the caller as `reqwest_middleware::Error::Middleware` wrapping an
/// [`Error`] (`e.downcast_ref::<oauth_reqwest::Error>()`).
///
/// ```no_run
/// # async fn run(session: oauth_reqwest::OAuth2Session) -> Result<(), Box<dyn std::error::Error>> {
/// let client = reqwest_middleware::ClientBuilder::new(reqwest::Client::new())
///     .with(oauth_reqwest::OAuth2Middleware::new(session))
///     .build();
/// let response = client.get("https://api.example.com/me").send().await?;
/// # Ok(()) }
/// ```
#[derive(Debug, Clone)]
pub struct OAuth2Middleware {
    session: OAuth2Session,
}

impl OAuth2Middleware {
    /// A middleware signing with `session`'s token.
    #[must_use]
    pub fn new(session: OAuth2Session) -> Self {
        Self { session }
    }
}

impl From<OAuth2Session> for OAuth2Middleware {
    fn from(session: OAuth2Session) -> Self {
        Self::new(session)
    }
}

fn middleware_error(e: Error) -> reqwest_middleware::Error {
    reqwest_middleware::Error::middleware(e)
}

fn hidden(e: reqwest_middleware::Error, bearer: &oauth_core::Bearer) -> reqwest_middleware::Error {
    match e {
        reqwest_middleware::Error::Reqwest(e) => hide_token(e, bearer).into(),
        other => other,
    }
}

#[async_trait::async_trait]
impl Middleware for OAuth2Middleware {
    async fn handle(
        &self,
        mut request: reqwest::Request,
        extensions: &mut oauth_core::http::Extensions,
        next: Next<'_>,
    ) -> reqwest_middleware::Result<reqwest::Response> {
        let session = &self.session;
        let secure = session.config().check_transport_security(request.url());
        secure.map_err(|e| middleware_error(e.into()))?;
        let mut replays = 0;
        loop {
            let spare = request.try_clone();
            let bearer = session.authorize().await.map_err(middleware_error)?;
            sign(&mut request, &bearer).map_err(middleware_error)?;
            let next = next.clone();
            let response = next.run(request, extensions).await;
            let response = response.map_err(|e| hidden(e, &bearer))?;
            match spare {
                Some(spare) if session.needs_replay(&bearer, replays, &response) => {
                    request = spare;
                    replays += 1;
                }
                _ => return Ok(response),
            }
        }
    }
}
