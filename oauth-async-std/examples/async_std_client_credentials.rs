//! A service account: a client-credentials token fetched once, fetched again by the session
//! whenever it is due, persisted by an asynchronous update hook.
//!
//! `cargo run -p oauth-async-std --example async_std_client_credentials -- <token endpoint> <resource> <client id> <secret>`

use oauth_async_std::{Grant, OAuth2Session};

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let arg = |i: usize, default: &str| args.get(i).cloned().unwrap_or_else(|| default.into());
    let token_endpoint = arg(0, "http://127.0.0.1:8080/token");
    let resource = arg(1, "http://127.0.0.1:8080/resource");
    let (client_id, secret) = (arg(2, "cc-client"), arg(3, "cc-secret"));
    async_std::task::block_on(async {
        let session = OAuth2Session::builder(client_id)
            .token_endpoint(&token_endpoint)
            .client_secret_basic(secret)
            .on_token_update_async(|update| async move {
                // Write it to a store that is itself async; no lock of the session is held here.
                println!("persisting a {:?} token", update.kind());
            })
            .build()?;
        session.fetch_token(Grant::client_credentials()).await?;
        for _ in 0..3 {
            // A due token is replaced by a new client-credentials grant before the request.
            let response = session.get(&resource).call().await?;
            println!(
                "{}: {}",
                response.status(),
                response.into_body().read_to_string().await?
            );
        }
        Ok(())
    })
}
