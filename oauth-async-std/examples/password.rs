//! The seed scenario: a password grant, an authenticated GET that refreshes the token when it is
//! due, and an explicit refresh that fails once the server removed the session.
//!
//! Run against Keycloak's `master` realm (or the test server in `tests/server`):
//! `cargo run -p oauth-async-std --example password -- http://localhost:8080/realms/master/protocol/openid-connect/token http://localhost:3232`

use std::time::Duration;

use oauth_async_std::{Grant, OAuth2Session};

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let mut args = std::env::args().skip(1);
    let token_endpoint = args.next().unwrap_or_else(|| {
        "http://localhost:8080/realms/master/protocol/openid-connect/token".into()
    });
    let resource = args
        .next()
        .unwrap_or_else(|| "http://localhost:3232".into());
    async_std::task::block_on(async {
        let session = OAuth2Session::builder("admin-cli")
            .token_endpoint(&token_endpoint)
            .leeway(Duration::from_secs(60))
            .on_token_update(|update| {
                println!(
                    "token {:?}: expires at {:?}",
                    update.kind(),
                    update.new_token().expires_at()
                );
            })
            .build()?;
        let token = session
            .fetch_token(Grant::password("admin", "admin"))
            .await?;
        let response = session.get(&resource).call().await?;
        println!("GET {resource}: {}", response.status());
        let body = response.into_body().read_to_string().await?;
        println!("{body}");
        if let Some(refresh_token) = token.refresh_token() {
            match session
                .fetch_token(Grant::refresh_token(refresh_token))
                .await
            {
                Ok(_) => println!("refreshed"),
                // After an administrator removed the session: invalid_grant: Session not active
                Err(e) => println!(
                    "{e} (re-authentication needed: {})",
                    e.requires_reauthentication()
                ),
            }
        }
        Ok(())
    })
}
