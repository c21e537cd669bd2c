//! oauth-async-std: the blocking facade the behavioural table (`crate::table`) runs on (its
//! futures under `async_std::task::block_on`; concurrent callers are async-std tasks), the
//! table's tests (`async_std_adapter::shared::…`), and what only this adapter has: the seed
//! scenario and the code flow under `smol::block_on`, and its own HTTP client (keep-alive
//! reuse, idle connections the server closed, the per-origin bound, URL handling, body and
//! timeout limits of resource requests, transport errors that name the origin only), and
//! futures any executor can spawn.
//!
//! No tokio runtime is started anywhere in these tests.

use std::future::Future;
use std::marker::PhantomData;
use std::time::Duration;

use async_std::task::block_on;
use oauth_async_std::{
    DEFAULT_MAX_CONNECTIONS_PER_ORIGIN, Error, HttpClient, OAuth2Session, Token, TransportError,
};
use oauth_tests::fault::{Fault, FaultServer};

use crate::table::{
    self, Action, Adapter, AsyncAdapter, BufferedRequests, BuilderDebug, Caller, Options, Pool,
    Reply, apply_options, ok_stub,
};

/// The executor the facade's futures run on.
pub(crate) trait Executor: 'static {
    const NAME: &'static str;
    fn block_on<F: Future>(future: F) -> F::Output;
    fn spawn<T: Send + 'static>(future: impl Future<Output = T> + Send + 'static) -> Spawned<T>;
}

/// async-std's `block_on` and tasks.
pub(crate) struct OnAsyncStd;

/// smol's `block_on` and tasks: the adapter without async-std's own entry point.
pub(crate) struct OnSmol;

impl Executor for OnAsyncStd {
    const NAME: &'static str = "oauth-async-std";

    fn block_on<F: Future>(future: F) -> F::Output {
        async_std::task::block_on(future)
    }

    fn spawn<T: Send + 'static>(future: impl Future<Output = T> + Send + 'static) -> Spawned<T> {
        Spawned::AsyncStd(async_std::task::spawn(future))
    }
}

impl Executor for OnSmol {
    const NAME: &'static str = "oauth-async-std under smol";

    fn block_on<F: Future>(future: F) -> F::Output {
        smol::block_on(future)
    }

    fn spawn<T: Send + 'static>(future: impl Future<Output = T> + Send + 'static) -> Spawned<T> {
        Spawned::Smol(smol::spawn(future))
    }
}

/// A task of either executor.
pub(crate) enum Spawned<T> {
    AsyncStd(async_std::task::JoinHandle<T>),
    Smol(smol::Task<T>),
}

impl<T> Spawned<T> {
    async fn join(self) -> T {
        match self {
            Self::AsyncStd(task) => task.await,
            Self::Smol(task) => task.await,
        }
    }

    /// `None` when the task had not ended.
    async fn cancel(self) -> Option<T> {
        match self {
            Self::AsyncStd(task) => task.cancel().await,
            Self::Smol(task) => task.cancel().await,
        }
    }
}

/// The blocking facade over an `oauth_async_std::OAuth2Session`, on executor `X`.
pub(crate) struct AsyncStdOn<X> {
    session: OAuth2Session,
    executor: PhantomData<fn() -> X>,
}

/// The facade the table runs on.
pub(crate) type AsyncStd = AsyncStdOn<OnAsyncStd>;

impl<X> Clone for AsyncStdOn<X> {
    fn clone(&self) -> Self {
        Self {
            session: self.session.clone(),
            executor: PhantomData,
        }
    }
}

impl<X: Executor> AsyncStdOn<X> {
    fn wait<F: Future>(&self, future: F) -> F::Output {
        X::block_on(future)
    }
}

async fn reply(response: http::Response<oauth_async_std::Body>) -> Result<Reply, Error> {
    let (parts, body) = response.into_parts();
    Ok(Reply {
        status: parts.status.as_u16(),
        headers: parts.headers,
        body: body.read_to_string().await?,
    })
}

/// An authenticated `GET`, its body read to the end (so its connection goes back to the
/// pool).
async fn get(session: &OAuth2Session, url: &str) -> Result<Reply, Error> {
    reply(session.get(url).call().await?).await
}

async fn post_json(
    session: &OAuth2Session,
    url: &str,
    value: &serde_json::Value,
) -> Result<Reply, Error> {
    reply(session.post(url).send_json(value).await?).await
}

/// A session with the access token `at` and nothing to renew it with.
fn bearer_session() -> OAuth2Session {
    OAuth2Session::builder("c")
        .token(Token::bearer("at"))
        .build()
        .expect("session")
}

fn status(session: &OAuth2Session, url: &str) -> Result<u16, Error> {
    block_on(get(session, url)).map(|r| r.status)
}

table::caller_runner!(async, await);
table::adapter_error!(Error);

impl<X: Executor> Adapter for AsyncStdOn<X> {
    type Error = Error;
    type Task = Spawned<Caller<Error>>;

    const NAME: &'static str = X::NAME;
    const CALLERS: usize = 256;
    const FOLLOWS_REDIRECTS: bool = false;

    fn build(options: Options) -> Result<Self, Error> {
        let session = table::build_session!(
            options,
            wait: X::block_on,
            sleep: async_std::task::sleep
        );
        Ok(Self {
            session,
            executor: PhantomData,
        })
    }

    table::session_facade!();

    fn spawn(&self, caller: Caller<Error>) -> Self::Task {
        X::spawn(run(self.session.clone(), caller))
    }

    fn join(&self, task: Self::Task) -> Caller<Error> {
        self.wait(task.join())
    }

    fn is_timeout(error: &Error) -> bool {
        matches!(error, Error::Transport(TransportError::Timeout(_)))
    }

    fn body_limit_exceeded(error: &Error) -> Option<u64> {
        match error {
            Error::Transport(TransportError::BodyTooLarge { limit }) => Some(*limit),
            _ => None,
        }
    }

    fn is_broken_exchange(error: &Error) -> bool {
        matches!(error, Error::Transport(TransportError::Http(_)))
    }

    fn pool(&self) -> Option<Pool> {
        Some(Pool {
            opened: self.session.http_client().connections_opened(),
            bound: DEFAULT_MAX_CONNECTIONS_PER_ORIGIN as u64,
        })
    }
}

impl<X: Executor> AsyncAdapter for AsyncStdOn<X> {
    fn cancel(&self, task: Self::Task) -> bool {
        self.wait(task.cancel()).is_none()
    }

    fn poll_once_then_drop(&self, action: Action) -> bool {
        let caller = run(self.session.clone(), Caller::once(action));
        self.wait(table::poll_once_then_drop(caller))
    }
}

impl<X: Executor> BufferedRequests for AsyncStdOn<X> {}

impl<X: Executor> BuilderDebug for AsyncStdOn<X> {
    fn builder_debug(options: Options) -> String {
        let builder = OAuth2Session::builder(options.client_id.clone());
        format!("{:?}", apply_options!(builder, options))
    }
}

table::behaviour_table!(AsyncStd: async, buffered, debug_builder);

#[test]
fn seed_scenario_under_smol_block_on() {
    table::oauth::seed_scenario::<AsyncStdOn<OnSmol>>();
}

#[test]
fn code_flow_under_smol_block_on() {
    table::oidc::code_flow_with_pkce_and_nonce_validates_the_id_token_and_fetches_userinfo::<
        AsyncStdOn<OnSmol>,
    >();
}

#[test]
fn sequential_requests_reuse_one_keep_alive_connection() {
    let stub = ok_stub();
    let session = bearer_session();
    for _ in 0..20 {
        assert_eq!(status(&session, &stub.url("/r")).expect("get"), 200);
    }
    assert_eq!(stub.connections(), 1);
    assert_eq!(session.http_client().connections_opened(), 1);
}

#[test]
fn an_idle_connection_the_server_closed_is_replaced_not_reported() {
    let stub = ok_stub();
    // Answers as if keeping the connection alive, then closes it.
    stub.push(Fault::raw("HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok"));
    let session = bearer_session();
    for _ in 0..3 {
        assert_eq!(status(&session, &stub.url("/r")).expect("get"), 200);
    }
    assert_eq!(stub.requests().len(), 3);
    assert_eq!(stub.connections(), 2);
}

#[test]
fn an_idle_connection_is_not_reused_past_the_servers_keep_alive_timeout() {
    // Node's default is `Keep-Alive: timeout=5`: a POST written as the server closes the
    // connection is lost and cannot be sent again, so the pool drops the connection a second
    // before the server would.
    let stub = FaultServer::with_default(
        Fault::respond(200, "text/plain", "ok").with_header("Keep-Alive", "timeout=2"),
    )
    .expect("stub");
    let session = bearer_session();
    let url = stub.url("/r");
    for _ in 0..2 {
        assert_eq!(status(&session, &url).expect("get"), 200);
    }
    assert_eq!(
        stub.connections(),
        1,
        "reused while the server keeps it open"
    );
    let later = std::time::SystemTime::now() + Duration::from_millis(1_100);
    oauth_tests::seed::wait_until(later, Duration::from_secs(10)).expect("clock");
    assert_eq!(status(&session, &url).expect("get"), 200);
    assert_eq!(
        stub.connections(),
        2,
        "idle for more than the server's timeout less a second: a new connection"
    );
}

#[test]
fn query_pairs_are_form_encoded_and_odd_urls_normalised() {
    let stub = ok_stub();
    let session = bearer_session();
    block_on(async {
        let response = session
            .get(stub.url("/r?x=1"))
            .query("a", "b c&d")
            .call()
            .await
            .expect("get");
        response.into_body().read_to_vec().await.expect("body");
        let response = session
            .get(stub.url("/with space"))
            .call()
            .await
            .expect("get");
        response.into_body().read_to_vec().await.expect("body");
    });
    assert_eq!(table::paths(&stub), ["/r?x=1&a=b+c%26d", "/with%20space"]);
}

#[test]
fn concurrent_requests_never_open_more_connections_than_the_bound() {
    let stub = FaultServer::with_default(Fault::slow(
        Duration::from_millis(20),
        Fault::respond(200, "text/plain", "ok"),
    ))
    .expect("stub");
    let client = HttpClient::builder().max_connections_per_origin(4).build();
    let session = OAuth2Session::builder("c")
        .token(Token::bearer("at"))
        .http_client(client.clone())
        .build()
        .expect("session");
    let url = stub.url("/r");
    let ok = block_on(async {
        let tasks: Vec<_> = (0..64)
            .map(|_| {
                let (session, url) = (session.clone(), url.clone());
                async_std::task::spawn(async move { get(&session, &url).await.map(|r| r.status) })
            })
            .collect();
        let mut ok = 0;
        for task in tasks {
            ok += usize::from(matches!(task.await, Ok(200)));
        }
        ok
    });
    assert_eq!(ok, 64);
    assert_eq!(stub.requests().len(), 64);
    assert_eq!(stub.connections(), 4, "the server saw exactly the bound");
    assert_eq!(client.connections_opened(), 4);
}

#[test]
fn a_huge_declared_length_reserves_no_huge_buffer() {
    let stub = FaultServer::start().expect("stub");
    // 1 TiB announced, 2 bytes sent, then the connection closes: reserving the announced
    // length up front would abort the process.
    stub.push(Fault::raw(
        "HTTP/1.1 200 OK\r\nContent-Length: 1099511627776\r\nConnection: close\r\n\r\nok",
    ));
    let session = bearer_session();
    let error = block_on(async {
        let response = session.get(stub.url("/huge")).call().await?;
        response.into_body().limit(u64::MAX).read_to_vec().await
    })
    .unwrap_err();
    assert!(
        matches!(&error, Error::Transport(TransportError::Http(_))),
        "{error}"
    );
}

#[test]
fn resource_request_timeout_is_a_typed_error() {
    let stub = FaultServer::start().expect("stub");
    stub.push(Fault::slow(
        Duration::from_secs(2),
        Fault::respond(200, "text/plain", "late"),
    ));
    let session = bearer_session();
    let error = block_on(
        session
            .get(stub.url("/slow"))
            .timeout(Duration::from_millis(200))
            .call(),
    )
    .unwrap_err();
    assert!(
        matches!(
            &error,
            Error::Transport(TransportError::Timeout(t)) if *t == Duration::from_millis(200)
        ),
        "{error}"
    );
}

#[test]
fn transport_errors_name_the_origin_not_the_path_or_query() {
    // A closed port on loopback: connection refused.
    let closed = std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .expect("free port");
    let session = OAuth2Session::builder("c")
        .token(Token::bearer("secret-at"))
        .bearer_placement(oauth_core::BearerPlacement::Query)
        .build()
        .expect("session");
    let error = block_on(session.get(format!("http://{closed}/path?q=1")).call()).unwrap_err();
    assert!(
        matches!(&error, Error::Transport(TransportError::Connect { .. })),
        "{error}"
    );
    let shown = format!("{error} {error:?}");
    assert!(shown.contains(&format!("http://{closed}")), "{shown}");
    assert!(
        !shown.contains("secret-at") && !shown.contains("/path"),
        "{shown}"
    );
}

#[test]
fn session_futures_are_send_so_any_executor_can_spawn_them() {
    fn assert_send<T: Send>(_: &T) {}
    let session = table::shared_futures_are_send!(assert_send);
    assert_send(&session.get("http://127.0.0.1/").call());
    assert_send(&session.post("http://127.0.0.1/").send_json(&1));
}
