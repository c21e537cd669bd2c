//! The real test authorization server: `tests/server/server.mjs` (panva's `oidc-provider`,
//! Keycloak-like), run as a child process on a free loopback port.
//!
//! [`AuthServer::start`] installs the server's npm packages once per process (`npm ci`, only
//! when `node_modules` does not match `package-lock.json`), spawns `node server.mjs` with
//! `PORT=0`, waits for its `READY <issuer>` line and collects its stderr log. Dropping the
//! `AuthServer` kills the process; when the drop happens during a panic the log is printed, so
//! a failing test shows what the server saw.
//!
//! The server's interface is documented in `tests/server/README.md`.
//!
//! ```no_run
//! use std::time::Duration;
//! use oauth_tests::oidc_provider::AuthServer;
//!
//! let server = AuthServer::start(Duration::from_secs(5))?;
//! println!("issuer {}, token endpoint {}", server.issuer(), server.token_endpoint());
//! assert_eq!(server.stats()?.token_requests("password"), 0);
//! # Ok::<(), oauth_tests::HarnessError>(())
//! ```

use std::env;
use std::io::{BufRead, BufReader, Read};
use std::path::{Path, PathBuf};
use std::process::{Child, ChildStdin, Command, Stdio};
use std::sync::mpsc;
use std::sync::{Arc, Mutex, PoisonError};
use std::thread::{self, JoinHandle};
use std::time::Duration;

use http::Request;
use serde_json::Value;

use crate::HarnessError;
use crate::http1;

mod install;
#[cfg(test)]
mod tests;

use install::{ensure_installed, find_program};

/// How long the server may take to print `READY`.
// Generous: on 2 cores, while another test drives a thousand callers at its own server, a
// Node start (module loading, an RSA key) was seen to take over 30 s; a slow start is not a
// failure of the library under test.
const READY_TIMEOUT: Duration = Duration::from_secs(120);
/// The timeout of the harness's own calls to the server.
const CALL_TIMEOUT: Duration = Duration::from_secs(10);

/// A running test authorization server.
#[derive(Debug)]
pub struct AuthServer {
    child: Child,
    /// Kept open: the server exits when its stdin reaches end of file.
    stdin: Option<ChildStdin>,
    issuer: String,
    /// Where the harness's own calls go: the issuer, or the plain-HTTP admin port of a TLS
    /// server.
    admin: String,
    access_token_ttl: Duration,
    log: Arc<Mutex<String>>,
    readers: Vec<JoinHandle<()>>,
}

/// The server's request counters (`GET /test/stats`).
#[derive(Debug, Clone, PartialEq)]
pub struct Stats {
    /// The JSON as the server sent it.
    pub raw: Value,
}

impl Stats {
    fn count(&self, path: &[&str]) -> u64 {
        path.iter()
            .try_fold(&self.raw, |v, key| v.get(key))
            .and_then(Value::as_u64)
            .unwrap_or(0)
    }

    /// `POST /token` requests with this `grant_type`, whatever their outcome.
    #[must_use]
    pub fn token_requests(&self, grant_type: &str) -> u64 {
        self.count(&["token", grant_type])
    }

    /// Error answers of the token endpoint with this OAuth error code (`invalid_grant`).
    #[must_use]
    pub fn token_errors(&self, error: &str) -> u64 {
        self.count(&["token_errors", error])
    }

    /// Protected-resource requests answered 200.
    #[must_use]
    pub fn resource_ok(&self) -> u64 {
        self.count(&["resource", "ok"])
    }

    /// Protected-resource requests answered 401.
    #[must_use]
    pub fn resource_unauthorized(&self) -> u64 {
        self.count(&["resource", "unauthorized"])
    }

    /// Revocation requests.
    #[must_use]
    pub fn revocations(&self) -> u64 {
        self.count(&["revocation"])
    }

    /// Introspection requests.
    #[must_use]
    pub fn introspections(&self) -> u64 {
        self.count(&["introspection"])
    }

    /// Device authorization requests.
    #[must_use]
    pub fn device_authorizations(&self) -> u64 {
        self.count(&["device_authorization"])
    }

    /// Userinfo requests.
    #[must_use]
    pub fn userinfo(&self) -> u64 {
        self.count(&["userinfo"])
    }

    /// JWK Set requests (`GET /jwks`).
    #[must_use]
    pub fn jwks(&self) -> u64 {
        self.count(&["jwks"])
    }

    /// Requests to `route` (`token`, `revocation`, `introspection`, `device_authorization`)
    /// whose client authenticated with `method` and that the server did not refuse.
    #[must_use]
    pub fn client_auth(&self, route: &str, method: &str) -> u64 {
        self.count(&["client_auth", route, method])
    }

    /// When the server saw each device grant poll for `user_code` (its clock, in ms).
    #[must_use]
    pub fn device_polls(&self, user_code: &str) -> Vec<u64> {
        let normalized: String = user_code
            .chars()
            .filter(char::is_ascii_alphanumeric)
            .map(|c| c.to_ascii_uppercase())
            .collect();
        self.raw["device_polls"][normalized.as_str()]
            .as_array()
            .map(|polls| polls.iter().filter_map(Value::as_u64).collect())
            .unwrap_or_default()
    }

    /// The token exchanges the server granted: `(audience asked for, the subject token's
    /// client)`.
    #[must_use]
    pub fn exchanges(&self) -> Vec<(Option<String>, String)> {
        self.raw["exchanges"]
            .as_array()
            .map(|all| {
                all.iter()
                    .map(|e| {
                        (
                            e["audience"].as_str().map(str::to_owned),
                            e["subject_client"].as_str().unwrap_or_default().to_owned(),
                        )
                    })
                    .collect()
            })
            .unwrap_or_default()
    }
}

impl AuthServer {
    /// Starts a server whose access tokens (and client-credentials tokens) live
    /// `access_token_ttl`, in whole seconds (fractions dropped, at least 1).
    ///
    /// # Errors
    /// [`HarnessError::MissingNode`] without `node`/`npm`, [`HarnessError::NpmInstall`] when the
    /// packages cannot be installed, [`HarnessError::ServerStart`] (with the server's log) when
    /// it does not print `READY` within 120 s or exits first.
    pub fn start(access_token_ttl: Duration) -> Result<Self, HarnessError> {
        Self::start_with(access_token_ttl, None)
    }

    /// [`start`](Self::start) serving HTTPS with this certificate chain and key (PEM files,
    /// e.g. a leaf for `127.0.0.1` issued by a test CA): the issuer is `https://…`, and the
    /// harness's own calls (stats, test routes) go to a plain-HTTP admin port.
    ///
    /// # Errors
    /// As [`start`](Self::start).
    pub fn start_tls(
        access_token_ttl: Duration,
        certificate_file: &Path,
        key_file: &Path,
    ) -> Result<Self, HarnessError> {
        Self::start_with(access_token_ttl, Some((certificate_file, key_file)))
    }

    fn start_with(
        access_token_ttl: Duration,
        tls: Option<(&Path, &Path)>,
    ) -> Result<Self, HarnessError> {
        let node = find_program("node").ok_or(HarnessError::MissingNode)?;
        let npm = find_program("npm").ok_or(HarnessError::MissingNode)?;
        let dir = server_dir();
        ensure_installed(&npm, &dir)?;

        let ttl = access_token_ttl.as_secs().max(1);
        let mut command = Command::new(node);
        if let Some((certificate, key)) = tls {
            command
                .env("TLS_CERT_FILE", certificate)
                .env("TLS_KEY_FILE", key);
        }
        let mut child = command
            .arg("server.mjs")
            .current_dir(&dir)
            .env("PORT", "0")
            .env("ACCESS_TOKEN_TTL", ttl.to_string())
            .env_remove("IGNORE_STDIN")
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .map_err(|e| HarnessError::ServerStart {
                reason: format!("cannot spawn node server.mjs in {}: {e}", dir.display()),
                log: String::new(),
            })?;
        let log = Arc::new(Mutex::new(String::new()));
        let (ready_tx, ready_rx) = mpsc::channel();
        let mut readers = Vec::new();
        if let Some(stdout) = child.stdout.take() {
            readers.push(spawn_stdout_reader(stdout, ready_tx, Arc::clone(&log)));
        }
        if let Some(stderr) = child.stderr.take() {
            readers.push(spawn_log_reader(stderr, "", Arc::clone(&log)));
        }
        let mut server = Self {
            stdin: child.stdin.take(),
            child,
            issuer: String::new(),
            admin: String::new(),
            access_token_ttl: Duration::from_secs(ttl),
            log,
            readers,
        };
        let failure = match ready_rx.recv_timeout(READY_TIMEOUT) {
            Ok(Ok(line)) => {
                let mut urls = line.split_whitespace();
                let issuer = urls.next().unwrap_or_default().to_owned();
                server.admin = urls.next().map_or_else(|| issuer.clone(), str::to_owned);
                server.issuer = issuer;
                return Ok(server);
            }
            Ok(Err(reason)) => reason,
            Err(mpsc::RecvTimeoutError::Timeout) => {
                format!("no READY line within {READY_TIMEOUT:?}")
            }
            Err(mpsc::RecvTimeoutError::Disconnected) => "the stdout reader stopped".into(),
        };
        server.stop();
        let status = server
            .child
            .try_wait()
            .ok()
            .flatten()
            .map(|s| format!(" ({s})"))
            .unwrap_or_default();
        Err(HarnessError::ServerStart {
            reason: format!("{failure}{status}"),
            log: server.log(),
        })
    }

    /// Kills the process, waits for it and for the log readers to see end of file.
    fn stop(&mut self) {
        self.stdin.take();
        let _ = self.child.kill();
        let _ = self.child.wait();
        for reader in self.readers.drain(..) {
            let _ = reader.join();
        }
    }

    /// The issuer, `http://127.0.0.1:<port>`.
    #[must_use]
    pub fn issuer(&self) -> &str {
        &self.issuer
    }

    /// The access-token lifetime the server was started with.
    #[must_use]
    pub fn access_token_ttl(&self) -> Duration {
        self.access_token_ttl
    }

    /// `{issuer}{path}`.
    #[must_use]
    pub fn url(&self, path: &str) -> String {
        format!("{}{path}", self.issuer)
    }

    /// `{issuer}/token`.
    #[must_use]
    pub fn token_endpoint(&self) -> String {
        self.url("/token")
    }

    /// `{issuer}/token/revocation` (RFC 7009).
    #[must_use]
    pub fn revocation_endpoint(&self) -> String {
        self.url("/token/revocation")
    }

    /// `{issuer}/token/introspection` (RFC 7662).
    #[must_use]
    pub fn introspection_endpoint(&self) -> String {
        self.url("/token/introspection")
    }

    /// `{issuer}/me` (OpenID Connect userinfo).
    #[must_use]
    pub fn userinfo_endpoint(&self) -> String {
        self.url("/me")
    }

    /// `{issuer}/device/auth` (RFC 8628 §3.1).
    #[must_use]
    pub fn device_authorization_endpoint(&self) -> String {
        self.url("/device/auth")
    }

    /// `{issuer}/auth` (RFC 6749 §3.1).
    #[must_use]
    pub fn authorization_endpoint(&self) -> String {
        self.url("/auth")
    }

    /// `{issuer}/resource`: 200 for a live bearer token, 401 otherwise.
    #[must_use]
    pub fn resource_url(&self) -> String {
        self.url("/resource")
    }

    /// `{issuer}/admin/realms/master/users/count`: Keycloak's resource in the seed scenario.
    #[must_use]
    pub fn users_count_url(&self) -> String {
        self.url("/admin/realms/master/users/count")
    }

    /// The server's stderr so far: one line per request and per OAuth error.
    #[must_use]
    pub fn log(&self) -> String {
        self.log
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .clone()
    }

    /// `GET /test/stats`.
    ///
    /// # Errors
    /// Transport errors, or a non-200 / non-JSON answer.
    pub fn stats(&self) -> Result<Stats, HarnessError> {
        self.stats_call(http::Method::GET, "/test/stats")
    }

    /// `POST /test/stats/reset`: zeroes every counter.
    ///
    /// # Errors
    /// As [`stats`](Self::stats).
    pub fn reset_stats(&self) -> Result<(), HarnessError> {
        self.stats_call(http::Method::POST, "/test/stats/reset")
            .map(drop)
    }

    fn stats_call(&self, method: http::Method, path: &str) -> Result<Stats, HarnessError> {
        let what = format!("{method} {path}");
        let body = self.call(method, path, Vec::new(), 200, &what)?;
        serde_json::from_slice(&body)
            .map(|raw| Stats { raw })
            .map_err(|_| HarnessError::unexpected(what, 200, &body))
    }

    /// `DELETE /admin/realms/master/sessions/{session_state}`: ends the grant, as Keycloak's
    /// admin API ends a session. Its refresh tokens then fail with `invalid_grant`.
    ///
    /// # Errors
    /// Transport errors, or an answer other than 204.
    pub fn remove_session(&self, session_state: &str) -> Result<(), HarnessError> {
        let id: String =
            oauth_core::url::form_urlencoded::byte_serialize(session_state.as_bytes()).collect();
        let path = format!("/admin/realms/master/sessions/{id}");
        self.call(
            http::Method::DELETE,
            &path,
            Vec::new(),
            204,
            "DELETE /admin/realms/master/sessions/…",
        )
        .map(drop)
    }

    /// `POST /test/rotate-keys`: the provider replaces its signing keys; tokens signed from now
    /// on carry new `kid`s. Returns the new kids.
    ///
    /// # Errors
    /// Transport errors, or an answer other than 200.
    pub fn rotate_keys(&self) -> Result<Vec<String>, HarnessError> {
        let what = "POST /test/rotate-keys";
        let body = self.call(
            http::Method::POST,
            "/test/rotate-keys",
            Vec::new(),
            200,
            what,
        )?;
        let answer: Value = serde_json::from_slice(&body)
            .map_err(|_| HarnessError::unexpected(what, 200, &body))?;
        Ok(answer["kids"]
            .as_array()
            .map(|kids| {
                kids.iter()
                    .filter_map(|k| k.as_str().map(str::to_owned))
                    .collect()
            })
            .unwrap_or_default())
    }

    /// `POST /test/device/approve`: the user approves the device flow with this code.
    ///
    /// # Errors
    /// Transport errors, or an answer other than 200 (404 unknown, 409 already decided).
    pub fn approve_device(&self, user_code: &str) -> Result<(), HarnessError> {
        self.device_decision("/test/device/approve", user_code)
    }

    /// `POST /test/device/deny`: the user denies the device flow; the next poll gets
    /// `access_denied`.
    ///
    /// # Errors
    /// As [`approve_device`](Self::approve_device).
    pub fn deny_device(&self, user_code: &str) -> Result<(), HarnessError> {
        self.device_decision("/test/device/deny", user_code)
    }

    /// `POST /test/device/slow-down`: the next poll for this code that would be answered
    /// `authorization_pending` is answered `slow_down` instead.
    ///
    /// # Errors
    /// As [`approve_device`](Self::approve_device).
    pub fn slow_down_device(&self, user_code: &str) -> Result<(), HarnessError> {
        self.device_decision("/test/device/slow-down", user_code)
    }

    fn device_decision(&self, path: &str, user_code: &str) -> Result<(), HarnessError> {
        let body: String = oauth_core::url::form_urlencoded::Serializer::new(String::new())
            .append_pair("user_code", user_code)
            .finish();
        self.call(
            http::Method::POST,
            path,
            body.into_bytes(),
            200,
            &format!("POST {path}"),
        )
        .map(drop)
    }

    /// Sends a harness call and checks its status; returns the body.
    fn call(
        &self,
        method: http::Method,
        path: &str,
        body: Vec<u8>,
        expected: u16,
        what: &str,
    ) -> Result<Vec<u8>, HarnessError> {
        let mut builder = Request::builder()
            .method(method)
            .uri(format!("{}{path}", self.admin));
        if !body.is_empty() {
            builder = builder.header(
                http::header::CONTENT_TYPE,
                "application/x-www-form-urlencoded",
            );
        }
        let request = builder
            .body(body)
            .map_err(|e| HarnessError::InvalidRequest {
                reason: format!("{what}: {e}"),
            })?;
        let response = http1::send(&request, CALL_TIMEOUT)?;
        if response.status().as_u16() == expected {
            Ok(response.into_body())
        } else {
            Err(HarnessError::unexpected(
                what,
                response.status().as_u16(),
                response.body(),
            ))
        }
    }
}

impl Drop for AuthServer {
    fn drop(&mut self) {
        self.stop();
        if thread::panicking() {
            eprintln!("---- oidc-provider log ----\n{}", self.log());
        }
    }
}

/// `tests/server`, found from this crate's manifest directory.
fn server_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("server")
}

/// Appends every line of `pipe` to `log`, until end of file.
fn spawn_log_reader(
    pipe: impl Read + Send + 'static,
    prefix: &'static str,
    log: Arc<Mutex<String>>,
) -> JoinHandle<()> {
    thread::spawn(move || {
        for line in BufReader::new(pipe).lines() {
            let Ok(line) = line else { break };
            let mut log = log.lock().unwrap_or_else(PoisonError::into_inner);
            log.push_str(prefix);
            log.push_str(&line);
            log.push('\n');
        }
    })
}

/// Reads stdout: sends the issuer of the `READY` line (or why there is none) once, and logs
/// anything else the server prints there.
fn spawn_stdout_reader(
    pipe: impl Read + Send + 'static,
    ready: mpsc::Sender<Result<String, String>>,
    log: Arc<Mutex<String>>,
) -> JoinHandle<()> {
    thread::spawn(move || {
        let mut ready = Some(ready);
        for line in BufReader::new(pipe).lines() {
            let Ok(line) = line else { break };
            match (line.strip_prefix("READY "), ready.take()) {
                (Some(issuer), Some(tx)) => {
                    let _ = tx.send(Ok(issuer.trim().to_owned()));
                }
                (_, waiting) => {
                    ready = waiting;
                    let mut log = log.lock().unwrap_or_else(PoisonError::into_inner);
                    log.push_str("stdout: ");
                    log.push_str(&line);
                    log.push('\n');
                }
            }
        }
        if let Some(tx) = ready {
            let _ = tx.send(Err("the server exited before printing READY".into()));
        }
    })
}
