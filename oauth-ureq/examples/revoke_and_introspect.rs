//! Token introspection (RFC 7662) and revocation (RFC 7009) with a confidential client.
//!
//! ```sh
//! ISSUER=http://127.0.0.1:3000 cargo run -p oauth-ureq --example revoke_and_introspect
//! ```

use oauth_ureq::{Grant, OAuth2Session, TokenRef};

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let issuer = std::env::var("ISSUER").unwrap_or_else(|_| "http://127.0.0.1:3000".into());
    let session = OAuth2Session::builder("basic-client")
        .client_secret_basic("basic-secret")
        .token_endpoint(&format!("{issuer}/token"))
        .introspection_endpoint(&format!("{issuer}/token/introspection"))
        .revocation_endpoint(&format!("{issuer}/token/revocation"))
        .build()?;
    let token = session.fetch_token(Grant::password("admin", "admin"))?;
    let live = session.introspect_token(TokenRef::Access(token.access_token()))?;
    println!(
        "active: {}, scope: {:?}, expires: {:?}",
        live.active(),
        live.scope(),
        live.exp()
    );
    session.revoke_token(TokenRef::Access(token.access_token()))?;
    let dead = session.introspect_token(TokenRef::Access(token.access_token()))?;
    println!("after revocation, active: {}", dead.active());
    Ok(())
}
