//! The seed scenario: password grant, authenticated GETs with automatic refresh.
//!
//! Against the bundled test server (`cargo run -p oauth-tests --bin demo` shows the whole
//! scenario); here any server works:
//!
//! ```sh
//! TOKEN_ENDPOINT=http://localhost:8080/realms/master/protocol/openid-connect/token \
//! RESOURCE=http://localhost:8080/admin/realms/master/users/count \
//! cargo run -p oauth-ureq --example password_grant
//! ```

use std::time::Duration;

use oauth_ureq::{Grant, OAuth2Session};

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let token_endpoint = std::env::var("TOKEN_ENDPOINT").unwrap_or_else(|_| {
        "http://localhost:8080/realms/master/protocol/openid-connect/token".into()
    });
    let resource = std::env::var("RESOURCE")
        .unwrap_or_else(|_| "http://localhost:8080/admin/realms/master/users/count".into());
    let session = OAuth2Session::builder("admin-cli")
        .token_endpoint(&token_endpoint)
        .leeway(Duration::from_secs(60))
        .on_token_update(|update| {
            println!(
                "token {:?}, expires at {:?}",
                update.kind(),
                update.new_token().expires_at()
            )
        })
        .build()?;
    session.fetch_token(Grant::password("admin", "admin"))?;
    for _ in 0..3 {
        let mut response = session.get(&resource).call()?;
        println!(
            "{} {}",
            response.status(),
            response.body_mut().read_to_string()?
        );
    }
    Ok(())
}
