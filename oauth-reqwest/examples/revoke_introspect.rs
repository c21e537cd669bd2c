//! Token introspection (RFC 7662) and revocation (RFC 7009) with a confidential client.
//!
//! ```sh
//! (cd tests/server && npm ci && PORT=8080 IGNORE_STDIN=1 node server.mjs) &
//! OAUTH_ISSUER=http://127.0.0.1:8080 cargo run -p oauth-reqwest --example revoke_introspect
//! ```

use oauth_reqwest::{Grant, OAuth2Session, TokenRef};

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let issuer = std::env::var("OAUTH_ISSUER").unwrap_or_else(|_| "http://127.0.0.1:8080".into());
    let session = OAuth2Session::builder("basic-client")
        .client_secret_basic("basic-secret")
        .token_endpoint(&format!("{issuer}/token"))
        .introspection_endpoint(&format!("{issuer}/token/introspection"))
        .revocation_endpoint(&format!("{issuer}/token/revocation"))
        .build()?;

    let token = session
        .fetch_token(Grant::password("admin", "admin"))
        .await?;
    let live = session
        .introspect_token(TokenRef::Access(token.access_token()))
        .await?;
    println!(
        "before revocation: active {}, client {:?}, scope {:?}, expires {:?}",
        live.active(),
        live.client_id(),
        live.scope(),
        live.exp()
    );

    session
        .revoke_token(TokenRef::Access(token.access_token()))
        .await?;
    let dead = session
        .introspect_token(TokenRef::Access(token.access_token()))
        .await?;
    println!("after revocation: active {}", dead.active());

    // The resource answers 401 invalid_token; the session tries its one refresh, which the
    // server refuses because revocation ended the grant: time to sign in again.
    match session.get(format!("{issuer}/resource")).send().await {
        Ok(response) => println!(
            "GET /resource with the revoked token: {}",
            response.status()
        ),
        Err(e) => println!(
            "GET /resource with the revoked token: {e} (sign in again: {})",
            e.requires_reauthentication()
        ),
    }
    Ok(())
}
