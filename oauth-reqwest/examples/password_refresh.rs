//! The seed scenario: a password grant, authenticated GETs, an automatic refresh once the
//! token is due, and what a refused refresh looks like.
//!
//! Against the workspace's test server (`tests/server`, Keycloak-like):
//!
//! ```sh
//! (cd tests/server && npm ci && PORT=8080 ACCESS_TOKEN_TTL=6 IGNORE_STDIN=1 node server.mjs) &
//! OAUTH_ISSUER=http://127.0.0.1:8080 cargo run -p oauth-reqwest --example password_refresh
//! ```

use std::time::{Duration, SystemTime};

use oauth_reqwest::{Grant, OAuth2Session};

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let issuer = std::env::var("OAUTH_ISSUER").unwrap_or_else(|_| "http://127.0.0.1:8080".into());
    let session = OAuth2Session::builder("admin-cli")
        .token_endpoint(&format!("{issuer}/token"))
        .revocation_endpoint(&format!("{issuer}/token/revocation"))
        .leeway(Duration::from_secs(60))
        .on_token_update(|update| {
            println!(
                "token {:?}: expires in {:?}",
                update.kind(),
                update.new_token().expires_in(SystemTime::now())
            );
        })
        .build()?;

    let token = session
        .fetch_token(Grant::password("admin", "admin"))
        .await?;
    let resource = format!("{issuer}/resource");
    let response = session.get(&resource).send().await?;
    println!("GET /resource: {}", response.status());

    // The leeway (clamped to half the token's life) makes the token due early; the next request
    // refreshes it first. Poll the clock rather than sleeping the whole lifetime at once.
    let due = session.refresh_at().unwrap_or_else(SystemTime::now);
    for _ in 0..600 {
        if SystemTime::now() >= due {
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let response = session.get(&resource).send().await?;
    println!("GET /resource after the refresh: {}", response.status());

    // End the grant (as an administrator removing the session would): the refresh token is
    // refused, and the error reads as the server meant it (Keycloak: `invalid_grant: Session
    // not active`).
    let Some(old_refresh_token) = token.refresh_token() else {
        anyhow::bail!("the server sent no refresh token");
    };
    session
        .revoke_token(oauth_reqwest::TokenRef::Refresh(old_refresh_token))
        .await?;
    match session
        .fetch_token(Grant::refresh_token(old_refresh_token))
        .await
    {
        Err(e) => println!(
            "refresh refused: {e} (sign in again: {})",
            e.requires_reauthentication()
        ),
        Ok(_) => println!("the server still accepts the old refresh token"),
    }
    Ok(())
}
