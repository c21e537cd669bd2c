//! The transport on its own and shared: an [`HttpClient`] with a smaller pool and a shorter
//! timeout, used by a session for a bearer-protected HTTPS API (rustls, webpki roots).
//!
//! `cargo run -p oauth-async-std --example https_client -- <https token endpoint> <https resource> <client id> <secret>`

use std::time::Duration;

use oauth_async_std::{Grant, HttpClient, OAuth2Session};

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let arg = |i: usize, default: &str| args.get(i).cloned().unwrap_or_else(|| default.into());
    let token_endpoint = arg(0, "https://auth.example.com/oauth2/token");
    let resource = arg(1, "https://api.example.com/v1/me");
    async_std::task::block_on(async {
        let client = HttpClient::builder()
            .max_connections_per_origin(4)
            .timeout(Duration::from_secs(10))
            .build();
        let session = OAuth2Session::builder(arg(2, "my-client"))
            .client_secret_basic(arg(3, "my-secret"))
            .token_endpoint(&token_endpoint)
            .http_client(client.clone())
            .build()?;
        session.fetch_token(Grant::client_credentials()).await?;
        let response = session.get(&resource).call().await?;
        println!("{}", response.status());
        println!(
            "{}",
            response
                .into_body()
                .limit(64 * 1024)
                .read_to_string()
                .await?
        );
        println!("{} connection(s) opened", client.connections_opened());
        Ok(())
    })
}
