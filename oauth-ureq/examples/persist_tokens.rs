//! Persisting tokens with the update hook: the first run signs in with the password grant;
//! every change (the fetch, each refresh) is written to a file, owner-only, replaced
//! atomically; a later run starts from that file and signs in no more.
//!
//! ```sh
//! (cd tests/server && npm ci && PORT=8080 IGNORE_STDIN=1 node server.mjs) &
//! OAUTH_ISSUER=http://127.0.0.1:8080 TOKEN_FILE=/tmp/token.json \
//!   cargo run -p oauth-ureq --example persist_tokens
//! ```

use std::path::{Path, PathBuf};

use oauth_ureq::{Grant, OAuth2Session, Token, TokenUpdate};

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let issuer = std::env::var("OAUTH_ISSUER").unwrap_or_else(|_| "http://127.0.0.1:8080".into());
    let file =
        PathBuf::from(std::env::var("TOKEN_FILE").unwrap_or_else(|_| "oauth-token.json".into()));
    let stored: Option<Token> = std::fs::read_to_string(&file)
        .ok()
        .and_then(|json| serde_json::from_str(&json).ok());
    let from_file = stored.is_some();
    let mut builder = OAuth2Session::builder("admin-cli")
        .token_endpoint(&format!("{issuer}/token"))
        .on_token_update({
            let file = file.clone();
            move |update: &TokenUpdate| {
                if let Err(e) = save(&file, update.new_token()) {
                    eprintln!("could not persist the token: {e}");
                }
            }
        });
    if let Some(token) = stored {
        builder = builder.token(token);
    }
    let session = builder.build()?;
    if from_file {
        println!("token from {}", file.display());
    } else {
        session.fetch_token(Grant::password("admin", "admin"))?;
        println!("token from the password grant, saved to {}", file.display());
    }
    let response = session.get(format!("{issuer}/resource")).call()?;
    println!("GET /resource {}", response.status().as_u16());
    Ok(())
}

/// Writes `token` to `path` through a temporary file renamed over it (readers never see half
/// a token), readable by its owner only.
fn save(path: &Path, token: &Token) -> std::io::Result<()> {
    let json = serde_json::to_vec(token)?;
    let temporary = path.with_extension("tmp");
    let mut options = std::fs::OpenOptions::new();
    options.write(true).create(true).truncate(true);
    #[cfg(unix)]
    std::os::unix::fs::OpenOptionsExt::mode(&mut options, 0o600);
    std::io::Write::write_all(&mut options.open(&temporary)?, &json)?;
    std::fs::rename(temporary, path)
}
