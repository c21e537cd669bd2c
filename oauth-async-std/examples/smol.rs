//! The session under smol: the same code as under async-std, driven by `smol::block_on`, with
//! the requests of several tasks sharing one token and one refresh.
//!
//! `cargo run -p oauth-async-std --example smol -- <token endpoint> <resource>`

use oauth_async_std::{Grant, OAuth2Session};

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let mut args = std::env::args().skip(1);
    let token_endpoint = args
        .next()
        .unwrap_or_else(|| "http://127.0.0.1:8080/token".into());
    let resource = args
        .next()
        .unwrap_or_else(|| "http://127.0.0.1:8080/resource".into());
    smol::block_on(async {
        let session = OAuth2Session::builder("admin-cli")
            .token_endpoint(&token_endpoint)
            .build()?;
        session
            .fetch_token(Grant::password("admin", "admin"))
            .await?;
        let tasks: Vec<_> = (0..8)
            .map(|_| {
                let (session, resource) = (session.clone(), resource.clone());
                smol::spawn(async move {
                    let response = session.get(&resource).call().await?;
                    let status = response.status();
                    response.into_body().read_to_vec().await?;
                    Ok::<_, oauth_async_std::Error>(status)
                })
            })
            .collect();
        for task in tasks {
            println!("{}", task.await?);
        }
        println!(
            "{} connection(s) opened",
            session.http_client().connections_opened()
        );
        Ok(())
    })
}
