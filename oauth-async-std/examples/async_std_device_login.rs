//! Signs a command-line tool in with the device authorization grant (RFC 8628), as
//! `gh auth login` does: prints a code and a URL, then waits while the user approves in any
//! browser, polling at the provider's pace.
//!
//! ```sh
//! (cd tests/server && npm ci && PORT=8080 IGNORE_STDIN=1 node server.mjs) &
//! OAUTH_ISSUER=http://127.0.0.1:8080 cargo run -p oauth-async-std --example async_std_device_login
//! ```

use oauth_async_std::OAuth2Session;

fn main() -> Result<(), Box<dyn std::error::Error>> {
    async_std::task::block_on(login())
}

async fn login() -> Result<(), Box<dyn std::error::Error>> {
    let issuer = std::env::var("OAUTH_ISSUER").unwrap_or_else(|_| "http://127.0.0.1:8080".into());
    let session = OAuth2Session::from_issuer(&issuer, "admin-cli")
        .await?
        .build()?;
    let authorization = session
        .device_authorization(Some("openid offline_access"))
        .await?;
    println!(
        "Open {} and enter the code {}",
        authorization.verification_uri(),
        authorization.user_code()
    );
    if let Some(link) = authorization.verification_uri_complete() {
        println!("(or open {link})");
    }
    // Dropping this future stops the polling; so does `authorization.cancel()` from elsewhere.
    let token = session.device_token(&authorization).await?;
    println!(
        "Signed in; the token expires at {:?} and has a refresh token: {}",
        token.expires_at(),
        token.refresh_token().is_some()
    );
    Ok(())
}
