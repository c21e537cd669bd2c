//! A web application's login: each visitor's pending authorization (state, PKCE verifier,
//! nonce) kept in a server-side session store keyed by a cookie, never in the browser. A
//! minimal HTTP server on `std`; with a web framework, the two handlers look the same.
//!
//! ```sh
//! (cd tests/server && npm ci && PORT=8080 IGNORE_STDIN=1 node server.mjs) &
//! OAUTH_ISSUER=http://127.0.0.1:8080 cargo run -p oauth-ureq --example web_login
//! ```
//!
//! Then open <http://127.0.0.1:8400/login>. A real application keeps one session per
//! signed-in user as well (a session's token belongs to one user).

use std::collections::HashMap;
use std::io::{BufRead, BufReader, Write};
use std::net::{TcpListener, TcpStream};
use std::sync::Mutex;

use oauth_ureq::{AuthorizationRequest, OAuth2Session, PendingAuthorization};

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let issuer = std::env::var("OAUTH_ISSUER").unwrap_or_else(|_| "http://127.0.0.1:8080".into());
    let listen = std::env::var("LISTEN").unwrap_or_else(|_| "127.0.0.1:8400".into());
    let listener = TcpListener::bind(&listen)?;
    let base = format!("http://{}", listener.local_addr()?);
    let session = OAuth2Session::from_issuer(&issuer, "admin-cli")?
        .redirect_uri(format!("{base}/callback"))
        .build()?;
    // The server-side store: cookie value → the login in progress. (Persist it in the
    // application's session store; `PendingAuthorization` is Serialize/Deserialize.)
    let pending: Mutex<HashMap<String, PendingAuthorization>> = Mutex::default();
    println!("open {base}/login");
    for stream in listener.incoming() {
        let mut stream = stream?;
        let (target, cookie) = read_request(&stream)?;
        if target == "/login" {
            let (url, login) =
                session.authorization_url(&AuthorizationRequest::new().scope("openid profile"))?;
            // The state is 128 random bits: a fine, unguessable key for the login.
            let key = login.state().to_owned();
            pending.lock().expect("lock").insert(key.clone(), login);
            respond(
                &mut stream,
                "302 Found",
                &format!(
                    "location: {url}\r\nset-cookie: login={key}; HttpOnly; SameSite=Lax; Path=/"
                ),
                "",
            )?;
        } else if target.starts_with("/callback") {
            let login = cookie.and_then(|key| pending.lock().expect("lock").remove(&key));
            let Some(login) = login else {
                respond(&mut stream, "400 Bad Request", "", "no login in progress\n")?;
                continue;
            };
            // `iss`, `state` (against this visitor's login only), PKCE and the ID token.
            match session.exchange_code(login, &format!("{base}{target}")) {
                Ok(_) => {
                    let sub = session.id_token_claims().map(|c| c.sub().to_owned());
                    let body = format!("signed in as {}\n", sub.unwrap_or_default());
                    respond(&mut stream, "200 OK", "", &body)?;
                }
                Err(error) => {
                    respond(&mut stream, "403 Forbidden", "", &format!("{error}\n"))?;
                }
            }
        } else {
            respond(&mut stream, "404 Not Found", "", "")?;
        }
    }
    Ok(())
}

/// The request target and the `login` cookie.
fn read_request(stream: &TcpStream) -> std::io::Result<(String, Option<String>)> {
    let mut reader = BufReader::new(stream);
    let mut line = String::new();
    reader.read_line(&mut line)?;
    let target = line.split_whitespace().nth(1).unwrap_or("/").to_owned();
    let mut cookie = None;
    loop {
        let mut header = String::new();
        if reader.read_line(&mut header)? == 0 || header.trim().is_empty() {
            break;
        }
        if let Some((name, value)) = header.split_once(':') {
            if name.eq_ignore_ascii_case("cookie") {
                cookie = value
                    .split(';')
                    .filter_map(|pair| pair.trim().strip_prefix("login="))
                    .map(str::to_owned)
                    .next();
            }
        }
    }
    Ok((target, cookie))
}

fn respond(stream: &mut TcpStream, status: &str, headers: &str, body: &str) -> std::io::Result<()> {
    let headers = if headers.is_empty() {
        String::new()
    } else {
        format!("{headers}\r\n")
    };
    write!(
        stream,
        "HTTP/1.1 {status}\r\n{headers}content-type: text/plain\r\ncontent-length: {}\r\nconnection: close\r\n\r\n{body}",
        body.len()
    )
}
