//! A service account: client credentials with `client_secret_basic`; the session fetches a new
//! token by itself when the old one is due (there is no refresh token in this grant).
//!
//! ```sh
//! TOKEN_ENDPOINT=http://127.0.0.1:3000/token RESOURCE=http://127.0.0.1:3000/resource \
//! cargo run -p oauth-ureq --example client_credentials
//! ```

use oauth_ureq::{Grant, OAuth2Session};

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let token_endpoint =
        std::env::var("TOKEN_ENDPOINT").unwrap_or_else(|_| "http://127.0.0.1:3000/token".into());
    let resource =
        std::env::var("RESOURCE").unwrap_or_else(|_| "http://127.0.0.1:3000/resource".into());
    let session = OAuth2Session::builder("cc-client")
        .client_secret_basic("cc-secret")
        .token_endpoint(&token_endpoint)
        .build()?;
    session.fetch_token(Grant::client_credentials())?;
    let mut response = session.get(&resource).call()?;
    println!(
        "{} {}",
        response.status(),
        response.body_mut().read_to_string()?
    );
    Ok(())
}
