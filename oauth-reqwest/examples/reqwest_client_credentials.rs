//! A machine client: client credentials with `client_secret_basic`, a token persisted through
//! the async update hook, and a new token fetched automatically whenever the old one is due
//! (client-credentials tokens have no refresh token).
//!
//! ```sh
//! (cd tests/server && npm ci && PORT=8080 ACCESS_TOKEN_TTL=4 IGNORE_STDIN=1 node server.mjs) &
//! OAUTH_ISSUER=http://127.0.0.1:8080 cargo run -p oauth-reqwest --example reqwest_client_credentials
//! ```

use std::sync::Arc;
use std::time::Duration;

use oauth_reqwest::{Grant, OAuth2Session};
use tokio::sync::Mutex;

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let issuer = std::env::var("OAUTH_ISSUER").unwrap_or_else(|_| "http://127.0.0.1:8080".into());
    // Stands in for a database table.
    let store: Arc<Mutex<Vec<String>>> = Arc::default();
    let saved = Arc::clone(&store);
    let session = OAuth2Session::builder("cc-client")
        .client_secret_basic("cc-secret")
        .token_endpoint(&format!("{issuer}/token"))
        .leeway(Duration::from_secs(2))
        .on_token_update_async(move |update| {
            let saved = Arc::clone(&saved);
            async move {
                let json = serde_json::to_string(update.new_token()).unwrap_or_default();
                saved.lock().await.push(json);
            }
        })
        .build()?;

    session.fetch_token(Grant::client_credentials()).await?;
    let resource = format!("{issuer}/resource");
    // Many tasks share one session; a due token is fetched again once for all of them.
    let mut tasks = tokio::task::JoinSet::new();
    for task in 0..8 {
        let (session, resource) = (session.clone(), resource.clone());
        tasks.spawn(async move {
            for _ in 0..5 {
                let status = session.get(&resource).send().await?.status();
                println!("task {task}: {status}");
                tokio::time::sleep(Duration::from_millis(500)).await;
            }
            Ok::<_, oauth_reqwest::Error>(())
        });
    }
    while let Some(done) = tasks.join_next().await {
        done??;
    }
    println!("tokens persisted: {}", store.lock().await.len());
    Ok(())
}
