//! Embedding the core in your own transport: the seed scenario driven by a plain function from
//! request value to response value.
//!
//! Here the "transport" is the scripted in-memory server of the `testing` feature and the clock
//! is manual, so the example runs anywhere in microseconds; swap `transport` for a real HTTP
//! client and `clock.now()` for `SystemTime::now()` and nothing else changes.
//!
//! Run: `cargo run -p oauth-core --example custom_transport --features testing`

use std::time::Duration;

use http::{Request, Response};
use oauth_core::testing::{ManualClock, ScriptedServer};
use oauth_core::{
    Authorization, ClientConfig, Error, Exchange, Grant, ResourceVerdict, TokenSession,
};

/// The whole transport: one request value in, one response value out.
fn transport(
    server: &mut ScriptedServer,
    clock: &ManualClock,
    request: &Request<Vec<u8>>,
) -> Response<Vec<u8>> {
    server.handle(request, clock.now())
}

fn run_exchange(
    server: &mut ScriptedServer,
    clock: &ManualClock,
    session: &mut TokenSession,
    exchange: Exchange,
) -> Result<(), Error> {
    let sent_at = clock.now();
    let (ticket, request) = exchange.into_parts();
    let response = transport(server, clock, &request);
    let update = session.handle_token_response(&ticket, &response, sent_at)?;
    println!(
        "  token changed ({:?}), generation {}",
        update.kind(),
        session.generation()
    );
    Ok(())
}

/// GET the resource with automatic refresh, as an adapter does.
fn get(
    server: &mut ScriptedServer,
    clock: &ManualClock,
    session: &mut TokenSession,
) -> Result<Response<Vec<u8>>, Error> {
    let mut replayed = false;
    loop {
        match session.poll_authorization(clock.now()) {
            Authorization::Ready(bearer) => {
                let mut request = Request::get(ScriptedServer::RESOURCE)
                    .body(Vec::new())
                    .expect("valid request");
                bearer.authorize(&mut request);
                println!(
                    "  GET {} with Authorization: Bearer …",
                    ScriptedServer::RESOURCE
                );
                let response = transport(server, clock, &request);
                match session.handle_resource_response(
                    &bearer,
                    replayed,
                    response.status(),
                    response.headers(),
                ) {
                    ResourceVerdict::Replay => replayed = true,
                    _ => return Ok(response),
                }
            }
            Authorization::Refresh(exchange) | Authorization::Refetch(exchange) => {
                println!("  refreshing first");
                run_exchange(server, clock, session, exchange)?;
            }
            // Single-threaded: nobody else can have an exchange in flight.
            Authorization::Wait(_) => unreachable!("no concurrent callers here"),
            Authorization::Fail(error) => return Err(error),
            other => unreachable!("a variant this example does not know: {other:?}"),
        }
    }
}

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let mut server = ScriptedServer::new();
    let mut clock = ManualClock::new();
    let config = ClientConfig::new("admin-cli")
        .token_endpoint(ScriptedServer::TOKEN_ENDPOINT)?
        .leeway(Duration::from_secs(60));
    let mut session = TokenSession::new(config);

    println!("1. password grant");
    let fetch = session.fetch(&Grant::password("admin", "admin"))?;
    run_exchange(&mut server, &clock, &mut session, fetch)?;

    println!("2. authenticated GET");
    let response = get(&mut server, &clock, &mut session)?;
    println!(
        "  -> {} {:?}",
        response.status(),
        String::from_utf8_lossy(response.body())
    );

    println!("3. 30 s later (60 s token, leeway clamped to 30 s)");
    clock.advance(Duration::from_secs(30));
    let response = get(&mut server, &clock, &mut session)?;
    println!("  -> {}", response.status());

    println!("4. the session is removed on the server");
    let session_state = session
        .token()
        .and_then(|t| t.extra()["session_state"].as_str().map(str::to_owned));
    server.remove_session(&session_state.unwrap_or_default());
    clock.advance(Duration::from_secs(30));
    match get(&mut server, &clock, &mut session) {
        Err(error) => println!(
            "  -> {error} (re-authenticate: {})",
            error.requires_reauthentication()
        ),
        Ok(response) => println!("  -> unexpectedly {}", response.status()),
    }
    Ok(())
}
