//! Sequential authenticated GETs on loopback keep-alive: through `oauth-async-std`'s session,
//! and through the same transport without it (the session's own `oauth_async_std::HttpClient`,
//! same connection) sending the same static `Authorization` header, interleaved in one run. For comparison, the same
//! workload through `oauth-reqwest`'s session and plain `reqwest` (on a tokio current-thread
//! runtime of its own: the async-std side never touches it).
//!
//! Every request is driven by its runtime's `block_on`, on both sides of each comparison, and
//! its body is read to the end so the connection goes back to the pool.
//!
//! `cargo bench -p oauth-tests --bench async_std_session`

#![allow(
    missing_docs,
    reason = "criterion_group! generates undocumented functions"
)]

use std::hint::black_box;

use async_std::task::block_on;
use criterion::{Criterion, criterion_group};
use oauth_async_std::oauth_core::http::Request;
use oauth_async_std::{HttpClient, OAuth2Session, Token};
use oauth_tests::bench::interleaved;
use oauth_tests::fault::{Fault, FaultServer};

const TOKEN: &str = "static-benchmark-token";

async fn get_plain(client: &HttpClient, url: &str) -> Vec<u8> {
    let request = Request::get(url)
        .header("Authorization", "Bearer static-benchmark-token")
        .body(Vec::new())
        .expect("request");
    let response = client.send(request).await.expect("response");
    response.into_body().read_to_vec().await.expect("body")
}

async fn get_session(session: &OAuth2Session, url: &str) -> Vec<u8> {
    let response = session.get(url).call().await.expect("response");
    response.into_body().read_to_vec().await.expect("body")
}

fn reqwest_runtime() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("tokio runtime")
}

async fn get_reqwest_plain(client: &reqwest::Client, url: &str) -> Vec<u8> {
    let response = client
        .get(url)
        .header("Authorization", "Bearer static-benchmark-token")
        .send()
        .await
        .expect("response");
    response.bytes().await.expect("body").to_vec()
}

async fn get_reqwest_session(session: &oauth_reqwest::OAuth2Session, url: &str) -> Vec<u8> {
    let response = session.get(url).send().await.expect("response");
    response.bytes().await.expect("body").to_vec()
}

fn sequential_gets(c: &mut Criterion) {
    let server =
        FaultServer::with_default(Fault::respond(200, "text/plain", "1")).expect("stub server");
    let url = server.url("/users/count");
    // The very same transport on both sides: one client (default configuration), one
    // keep-alive connection, one stub thread serving it; only the session differs.
    let plain = HttpClient::new();
    let session = OAuth2Session::builder("admin-cli")
        .token(Token::bearer(TOKEN))
        .http_client(plain.clone())
        .build()
        .expect("session");

    let r = interleaved(
        40,
        200,
        || drop(black_box(block_on(get_plain(&plain, &url)))),
        || drop(black_box(block_on(get_session(&session, &url)))),
    );
    println!(
        "interleaved: plain HttpClient {:.0} req/s, oauth-async-std session {:.0} req/s, ratio {:.3}",
        r.baseline_per_sec, r.candidate_per_sec, r.ratio
    );

    let r = interleaved(
        40,
        200,
        || drop(black_box(smol::block_on(get_plain(&plain, &url)))),
        || drop(black_box(smol::block_on(get_session(&session, &url)))),
    );
    println!(
        "interleaved under smol::block_on: plain HttpClient {:.0} req/s, oauth-async-std session {:.0} req/s, ratio {:.3}",
        r.baseline_per_sec, r.candidate_per_sec, r.ratio
    );

    let runtime = reqwest_runtime();
    let reqwest_client = {
        oauth_reqwest::install_crypto_provider();
        reqwest::Client::new()
    };
    let reqwest_session = runtime.block_on(async {
        oauth_reqwest::OAuth2Session::builder("admin-cli")
            .token(Token::bearer(TOKEN))
            .build()
            .expect("oauth-reqwest session")
    });
    let r = interleaved(
        20,
        200,
        || {
            drop(black_box(
                runtime.block_on(get_reqwest_plain(&reqwest_client, &url)),
            ))
        },
        || {
            drop(black_box(
                runtime.block_on(get_reqwest_session(&reqwest_session, &url)),
            ))
        },
    );
    println!(
        "interleaved: plain reqwest {:.0} req/s, oauth-reqwest session {:.0} req/s, ratio {:.3}",
        r.baseline_per_sec, r.candidate_per_sec, r.ratio
    );
    let r = interleaved(
        20,
        200,
        || {
            drop(black_box(
                runtime.block_on(get_reqwest_session(&reqwest_session, &url)),
            ))
        },
        || drop(black_box(block_on(get_session(&session, &url)))),
    );
    println!(
        "interleaved: oauth-reqwest session {:.0} req/s, oauth-async-std session {:.0} req/s, ratio {:.3}",
        r.baseline_per_sec, r.candidate_per_sec, r.ratio
    );

    let mut group = c.benchmark_group("async_std_sequential_get");
    group.bench_function("plain_http_client_static_header", |b| {
        b.iter(|| black_box(block_on(get_plain(&plain, &url))))
    });
    group.bench_function("oauth_async_std_session", |b| {
        b.iter(|| black_box(block_on(get_session(&session, &url))))
    });
    group.bench_function("plain_reqwest_static_header", |b| {
        b.iter(|| black_box(runtime.block_on(get_reqwest_plain(&reqwest_client, &url))))
    });
    group.bench_function("oauth_reqwest_session", |b| {
        b.iter(|| black_box(runtime.block_on(get_reqwest_session(&reqwest_session, &url))))
    });
    group.finish();
}

criterion_group!(benches, sequential_gets);

fn main() {
    benches();
    Criterion::default().configure_from_args().final_summary();
}
