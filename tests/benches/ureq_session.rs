//! Sequential authenticated GETs on loopback keep-alive: through `oauth-ureq`'s session, and
//! through a plain `ureq::Agent` with the same configuration sending the same static
//! `Authorization` header, interleaved in one run. Also the absolute rate, to set beside Python
//! Authlib's `OAuth2Session` (about 1,300 requests/s on this kind of machine).
//!
//! `cargo bench -p oauth-tests --bench ureq_session`

#![allow(
    missing_docs,
    reason = "criterion_group! generates undocumented functions"
)]

use std::hint::black_box;
use std::time::Duration;

use criterion::{Criterion, criterion_group};
use oauth_tests::bench::interleaved;
use oauth_tests::fault::{Fault, FaultServer};
use oauth_ureq::{DEFAULT_TIMEOUT, OAuth2Session, Token};

/// The agent the session builds by default (a whole-call timeout, error statuses as
/// responses), built by hand: the baseline pays for the same timeout as the session.
fn plain_agent(timeout: Option<Duration>) -> ureq::Agent {
    ureq::Agent::config_builder()
        .timeout_global(timeout)
        .http_status_as_error(false)
        .build()
        .into()
}

fn get_plain(agent: &ureq::Agent, url: &str) -> Vec<u8> {
    let mut response = agent
        .get(url)
        .header("Authorization", "Bearer static-benchmark-token")
        .call()
        .expect("response");
    response.body_mut().read_to_vec().expect("body")
}

fn get_session(session: &OAuth2Session, url: &str) -> Vec<u8> {
    let mut response = session.get(url).call().expect("response");
    response.body_mut().read_to_vec().expect("body")
}

fn session(agent: Option<ureq::Agent>) -> OAuth2Session {
    let builder =
        OAuth2Session::builder("admin-cli").token(Token::bearer("static-benchmark-token"));
    match agent {
        Some(agent) => builder.agent(agent),
        None => builder,
    }
    .build()
    .expect("session")
}

fn sequential_gets(c: &mut Criterion) {
    let server =
        FaultServer::with_default(Fault::respond(200, "text/plain", "1")).expect("stub server");
    let url = server.url("/users/count");
    let timed = plain_agent(Some(DEFAULT_TIMEOUT));
    let untimed = plain_agent(None);
    // Each session shares its baseline's agent, so both sides use one keep-alive connection
    // and the ratio isolates what the session adds (two agents on two connections already
    // differ by a few percent here).
    let default_session = session(Some(timed.clone()));
    let untimed_session = session(Some(untimed.clone()));

    for (label, agent, session) in [
        (
            "agent as the session builds it (30 s timeout)",
            &timed,
            &default_session,
        ),
        ("agent without timeout", &untimed, &untimed_session),
    ] {
        let r = interleaved(
            20,
            200,
            || drop(black_box(get_plain(agent, &url))),
            || drop(black_box(get_session(session, &url))),
        );
        println!(
            "interleaved, {label}: plain ureq {:.0} req/s, oauth-ureq session {:.0} req/s, ratio {:.3}",
            r.baseline_per_sec, r.candidate_per_sec, r.ratio
        );
    }

    let mut group = c.benchmark_group("ureq_sequential_get");
    group.bench_function("plain_ureq_static_header", |b| {
        b.iter(|| black_box(get_plain(&timed, &url)))
    });
    group.bench_function("oauth_ureq_session", |b| {
        b.iter(|| black_box(get_session(&default_session, &url)))
    });
    group.finish();
}

criterion_group!(benches, sequential_gets);

fn main() {
    benches();
    Criterion::default().configure_from_args().final_summary();
}
