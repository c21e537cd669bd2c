//! A command-line login with OpenID Connect: the authorization code flow with PKCE, the
//! redirect caught by a listener on the loopback interface (RFC 8252 §7.3), all on async-std.
//!
//! ```sh
//! ISSUER=http://127.0.0.1:3000 CLIENT_ID=admin-cli cargo run -p oauth-async-std --example async_std_cli_login
//! ```
//!
//! Open the printed URL in a browser and sign in; the program receives the redirect, exchanges
//! the code, validates the ID token and prints who signed in.

use async_std::net::TcpListener;
use futures_lite::io::BufReader;
use futures_lite::{AsyncBufReadExt as _, AsyncWriteExt as _};
use oauth_async_std::{AuthorizationRequest, OAuth2Session};

fn main() -> Result<(), Box<dyn std::error::Error>> {
    async_std::task::block_on(login())
}

async fn login() -> Result<(), Box<dyn std::error::Error>> {
    let issuer = std::env::var("ISSUER").unwrap_or_else(|_| "http://127.0.0.1:3000".into());
    let client_id = std::env::var("CLIENT_ID").unwrap_or_else(|_| "admin-cli".into());
    // Any free port: loopback redirect URIs may vary the port (RFC 8252 §7.3).
    let listener = TcpListener::bind("127.0.0.1:0").await?;
    let port = listener.local_addr()?.port();
    let redirect_uri = format!("http://127.0.0.1:{port}/callback");
    let session = OAuth2Session::from_issuer(&issuer, client_id)
        .await?
        .redirect_uri(&redirect_uri)
        .build()?;
    let (url, pending) =
        session.authorization_url(&AuthorizationRequest::new().scope("openid profile email"))?;
    println!("Open this URL in your browser to sign in:\n\n  {url}\n");

    // One request: the browser coming back with ?code=…&state=….
    let (mut stream, _) = listener.accept().await?;
    let mut request_line = String::new();
    BufReader::new(&stream).read_line(&mut request_line).await?;
    let target = request_line.split_whitespace().nth(1).unwrap_or("/");
    stream
        .write_all(b"HTTP/1.1 200 OK\r\ncontent-type: text/plain\r\nconnection: close\r\n\r\nSigned in: you can close this window.\n")
        .await?;
    drop(stream);

    session
        .exchange_code(pending, &format!("http://127.0.0.1:{port}{target}"))
        .await?;
    let claims = session
        .id_token_claims()
        .ok_or("the provider sent no ID token")?;
    println!("signed in as {} (issuer {})", claims.sub(), claims.iss());
    let userinfo = session.userinfo().await?;
    println!("userinfo: {:?}", userinfo.claims());
    Ok(())
}
