//! Embedding the core in your own transport: the seed scenario driven by a plain function from
//! request value to response value, with the same flows and the same driving loop as the
//! adapters — so the same behaviour (renewal, the fallback to a still-valid token after a
//! failed renewal, the replay after a `401`) with no protocol logic here.
//!
//! Here the "transport" is the scripted in-memory server of the `testing` feature and the clock
//! is manual, so the example runs anywhere in microseconds; swap `send` for a real HTTP client
//! and `clock.now()` for `SystemTime::now()` and nothing else changes.
//!
//! Run: `cargo run -p oauth-core --example custom_transport --features testing`

use std::time::Duration;

use http::{Request, Response};
use oauth_core::flow::{Authorize, Fetch, Flow, Next, Operation};
use oauth_core::store::StoreError;
use oauth_core::testing::{ManualClock, ScriptedServer};
use oauth_core::{ClientConfig, Error, Grant, ResourceVerdict, TokenSession};

/// Why a call got no answer, in this transport.
#[derive(Debug)]
struct Unreachable;

impl From<Unreachable> for Error {
    fn from(_: Unreachable) -> Self {
        oauth_core::UsageError::RenewalFailed.into()
    }
}

/// The transport: one request value in, one response value out (or a failure).
struct Transport {
    server: ScriptedServer,
    clock: ManualClock,
    token_endpoint_down: bool,
}

impl Transport {
    fn send(&mut self, request: &Request<Vec<u8>>) -> Result<Response<Vec<u8>>, Unreachable> {
        if self.token_endpoint_down && request.uri() == ScriptedServer::TOKEN_ENDPOINT {
            return Err(Unreachable);
        }
        Ok(self.server.handle(request, self.clock.now()))
    }

    /// The whole driver: poll the flow, send what it asks, hand back the answer.
    /// (Single-threaded, so nobody else's exchange is ever in flight: `Wait` never comes.)
    fn drive<F: Flow>(&mut self, session: &mut TokenSession, flow: F) -> Result<F::Output, Error> {
        let mut op = Operation::new(flow);
        loop {
            match op.poll(session, self.clock.now()) {
                Next::Send(call) => {
                    let sent_at = self.clock.now();
                    let answer = self.send(call.request());
                    op.handle(session, answer, sent_at);
                    while let Some(update) = session.poll_update() {
                        println!("  token changed ({:?})", update.kind());
                    }
                }
                // This session has no store (`with_store`): no store step is ever asked.
                Next::Store(_) => {
                    let now = self.clock.now();
                    op.handle_store(session, Err(StoreError::NotAttached), now);
                }
                Next::Wait(_) => unreachable!("single-threaded: no other caller"),
                Next::Done(result) => return result.map_err(|failed| failed.into_error()),
            }
        }
    }

    /// GET the resource: the bearer from the core, a replay after a `401` when it says so.
    fn get(&mut self, session: &mut TokenSession) -> Result<Response<Vec<u8>>, Error> {
        let mut replays = 0;
        loop {
            let bearer = self.drive(session, Authorize::new())?;
            let mut request = Request::get(ScriptedServer::RESOURCE)
                .body(Vec::new())
                .expect("a valid request");
            bearer.authorize(&mut request);
            println!("  GET {} with Authorization: Bearer …", request.uri());
            let response = self.send(&request).map_err(Error::from)?;
            let (status, headers) = (response.status(), response.headers());
            if session.handle_resource_response(&bearer, replays, request.uri(), status, headers)
                != ResourceVerdict::Replay
            {
                return Ok(response);
            }
            replays += 1;
        }
    }
}

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let mut transport = Transport {
        server: ScriptedServer::new(),
        clock: ManualClock::new(),
        token_endpoint_down: false,
    };
    let config = ClientConfig::new("admin-cli")
        .token_endpoint(ScriptedServer::TOKEN_ENDPOINT)?
        .leeway(Duration::from_secs(60));
    let mut session = TokenSession::new(config);
    session.record_updates(true);

    println!("1. password grant");
    transport.drive(
        &mut session,
        Fetch::grant(Grant::password("admin", "admin")),
    )?;

    println!("2. authenticated GET");
    let response = transport.get(&mut session)?;
    println!(
        "  -> {} {:?}",
        response.status(),
        String::from_utf8_lossy(response.body())
    );

    println!("3. 30 s later (60 s token, leeway clamped to 30 s): refreshed first");
    transport.clock.advance(Duration::from_secs(30));
    println!("  -> {}", transport.get(&mut session)?.status());

    println!("4. 30 s later the token endpoint is down: the still-valid token is used");
    transport.clock.advance(Duration::from_secs(30));
    transport.token_endpoint_down = true;
    println!("  -> {}", transport.get(&mut session)?.status());
    transport.token_endpoint_down = false;

    println!("5. the session is removed on the server");
    let session_state = session
        .token()
        .and_then(|t| t.extra()["session_state"].as_str().map(str::to_owned));
    transport
        .server
        .remove_session(&session_state.unwrap_or_default());
    transport.clock.advance(Duration::from_secs(30));
    match transport.get(&mut session) {
        Err(error) => println!(
            "  -> {error} (re-authenticate: {})",
            error.requires_reauthentication()
        ),
        Ok(response) => println!("  -> unexpectedly {}", response.status()),
    }
    Ok(())
}
