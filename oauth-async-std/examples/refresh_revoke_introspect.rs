//! The token's life cycle by hand: refresh, introspect (RFC 7662), revoke (RFC 7009).
//!
//! `cargo run -p oauth-async-std --example refresh_revoke_introspect -- <issuer>` where the
//! issuer serves `/token`, `/token/introspection` and `/token/revocation` (the test server in
//! `tests/server` does).

use oauth_async_std::{Grant, OAuth2Session, TokenRef};

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let issuer = std::env::args()
        .nth(1)
        .unwrap_or_else(|| "http://127.0.0.1:8080".into());
    async_std::task::block_on(async {
        let session = OAuth2Session::builder("basic-client")
            .client_secret_basic("basic-secret")
            .token_endpoint(&format!("{issuer}/token"))
            .introspection_endpoint(&format!("{issuer}/token/introspection"))
            .revocation_endpoint(&format!("{issuer}/token/revocation"))
            .build()?;
        session
            .fetch_token(Grant::password("admin", "admin"))
            .await?;
        let token = session.refresh_token().await?;
        let live = session
            .introspect_token(TokenRef::Access(token.access_token()))
            .await?;
        println!("active: {}, scope: {:?}", live.active(), live.scope());
        session
            .revoke_token(TokenRef::Access(token.access_token()))
            .await?;
        let dead = session
            .introspect_token(TokenRef::Access(token.access_token()))
            .await?;
        println!("after revocation, active: {}", dead.active());
        Ok(())
    })
}
