//! oauth-reqwest: the blocking facade the behavioural table (`crate::table`) runs on (each
//! session with a tokio runtime of its own; concurrent callers are tasks on it), the table's
//! tests (`reqwest_adapter::shared::…`), and what only this adapter has: a tokio runtime shut
//! down under a refresh, the user's own reqwest clients (resource and endpoint), reqwest's
//! request builder, the middleware, and futures tokio can spawn.

use std::future::Future;
use std::sync::Arc;
use std::time::{Duration, Instant};

use oauth_core::{BearerPlacement, Error as CoreError};
use oauth_reqwest::{Error, OAuth2Session, Token};
use oauth_tests::fault::{Fault, FaultServer};
use tokio::runtime::Runtime;
use tokio::task::JoinHandle;

use crate::table::{
    self, Action, Adapter, AsyncAdapter, BuilderDebug, Caller, Options, Pool, Reply, apply_options,
    eventually, expired_token, ok_stub, token_requests,
};

fn runtime() -> Runtime {
    tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .expect("tokio runtime")
}

/// The blocking facade over an `oauth_reqwest::OAuth2Session` and the tokio runtime its
/// futures run on.
#[derive(Debug, Clone)]
pub(crate) struct Reqwest {
    session: OAuth2Session,
    runtime: Arc<Runtime>,
}

impl Reqwest {
    fn wait<F: Future>(&self, future: F) -> F::Output {
        self.runtime.block_on(future)
    }
}

async fn reply(response: reqwest::Response) -> Result<Reply, Error> {
    let status = response.status().as_u16();
    let headers = response.headers().clone();
    let body = response.text().await?;
    Ok(Reply {
        status,
        headers,
        body,
    })
}

async fn get(session: &OAuth2Session, url: &str) -> Result<Reply, Error> {
    reply(session.get(url).send().await?).await
}

async fn post_json(
    session: &OAuth2Session,
    url: &str,
    value: &serde_json::Value,
) -> Result<Reply, Error> {
    reply(session.post(url).json(value).send().await?).await
}

table::caller_runner!(async, await);
table::adapter_error!(Error);

impl Adapter for Reqwest {
    type Error = Error;
    type Task = JoinHandle<Caller<Error>>;

    const NAME: &'static str = "oauth-reqwest";
    const CALLERS: usize = 1000;
    const FOLLOWS_REDIRECTS: bool = true;

    fn build(options: Options) -> Result<Self, Error> {
        let runtime = Arc::new(runtime());
        let session = table::build_session!(
            options,
            wait: |discovery| runtime.block_on(discovery),
            sleep: tokio::time::sleep
        );
        Ok(Self { session, runtime })
    }

    table::session_facade!();

    fn spawn(&self, caller: Caller<Error>) -> Self::Task {
        self.runtime.spawn(run(self.session.clone(), caller))
    }

    fn join(&self, task: Self::Task) -> Caller<Error> {
        self.wait(task).expect("caller task")
    }

    fn is_timeout(error: &Error) -> bool {
        error.is_timeout()
    }

    fn body_limit_exceeded(error: &Error) -> Option<u64> {
        match error {
            Error::BodyTooLarge { limit } => Some(*limit),
            _ => None,
        }
    }

    fn is_broken_exchange(error: &Error) -> bool {
        matches!(error, Error::Transport(_))
    }

    fn pool(&self) -> Option<Pool> {
        None
    }
}

impl AsyncAdapter for Reqwest {
    fn cancel(&self, task: Self::Task) -> bool {
        task.abort();
        self.wait(task).is_err_and(|e| e.is_cancelled())
    }

    fn poll_once_then_drop(&self, action: Action) -> bool {
        let caller = run(self.session.clone(), Caller::once(action));
        self.wait(table::poll_once_then_drop(caller))
    }
}

impl BuilderDebug for Reqwest {
    fn builder_debug(options: Options) -> String {
        let builder = OAuth2Session::builder(options.client_id.clone());
        format!("{:?}", apply_options!(builder, options))
    }
}

table::behaviour_table!(Reqwest: async, debug_builder);

/// reqwest's own client with its default policies.
fn users_client() -> reqwest::Client {
    oauth_reqwest::install_crypto_provider();
    reqwest::Client::new()
}

#[test]
fn a_refresh_dropped_with_its_runtime_is_reported_failed_and_the_next_caller_refreshes() {
    let auth = FaultServer::start().expect("stub");
    auth.script([
        Fault::slow(Duration::from_secs(2), Fault::token()),
        Fault::token(),
    ]);
    let api = ok_stub();
    let session = OAuth2Session::builder("c")
        .token_endpoint(&auth.url("/token"))
        .token(expired_token())
        .build()
        .expect("session");
    let first = runtime();
    first.spawn({
        let (session, url) = (session.clone(), api.url("/resource"));
        async move { session.get(url).send().await.map(drop) }
    });
    eventually("the refresh is in flight", || token_requests(&auth) == 1);
    drop(first);

    let started = Instant::now();
    let second = runtime();
    let status = second
        .block_on(async { session.get(api.url("/resource")).send().await })
        .expect("response")
        .status();
    assert_eq!(status, 200);
    assert!(
        started.elapsed() < Duration::from_secs(5),
        "the next caller did not wait for the lost exchange"
    );
    assert_eq!(token_requests(&auth), 2);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_endpoint_client_that_follows_redirects_is_caught() {
    let stub = FaultServer::start().expect("stub");
    stub.script([
        Fault::redirect(307, &stub.url("/elsewhere")),
        Fault::token(),
    ]);
    let session = OAuth2Session::builder("c")
        .token_endpoint(&stub.url("/token"))
        .endpoint_client(users_client())
        .token(Token::bearer("old-at").with_refresh_token("old-rt"))
        .build()
        .expect("session");
    let error = session.refresh_token().await.unwrap_err();
    assert!(matches!(error, Error::EndpointRedirected), "{error}");
    let token = session.token().expect("token");
    assert_eq!(token.access_token().secret(), "old-at");
    assert_eq!(token.refresh_token().map(|t| t.secret()), Some("old-rt"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_users_client_never_carries_the_bearer_to_another_origin() {
    let origin = FaultServer::start().expect("stub");
    let other = ok_stub();
    origin.push(Fault::redirect(302, &other.url("/landing")));
    // A user's client with reqwest's default redirect policy.
    let session = OAuth2Session::builder("c")
        .client(users_client())
        .token(Token::bearer("secret-at"))
        .build()
        .expect("session");
    let response = session
        .get(origin.url("/start"))
        .send()
        .await
        .expect("response");
    assert_eq!(response.status(), 200);
    assert_eq!(
        origin.requests()[0].header("authorization"),
        Some("Bearer secret-at")
    );
    let landed = other.requests();
    assert_eq!(landed.len(), 1);
    assert_eq!(landed[0].header("authorization"), None);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_users_client_sends_resource_requests_with_its_own_settings() {
    let api = ok_stub();
    let mut headers = reqwest::header::HeaderMap::new();
    headers.insert("x-tenant", "blue".parse().expect("header"));
    let client = {
        oauth_reqwest::install_crypto_provider();
        reqwest::Client::builder()
    }
    .default_headers(headers)
    .build()
    .expect("client");
    let session = OAuth2Session::builder("c")
        .client(client)
        .token(Token::bearer("at"))
        .build()
        .expect("session");
    session
        .put(api.url("/item"))
        .query(&[("page", "2")])
        .header("x-request", "1")
        .form(&[("name", "value")])
        .timeout(Duration::from_secs(5))
        .send()
        .await
        .expect("response");
    let seen = &api.requests()[0];
    assert_eq!(seen.path, "/item?page=2");
    assert_eq!(seen.header("x-tenant"), Some("blue"));
    assert_eq!(seen.header("x-request"), Some("1"));
    assert_eq!(seen.header("authorization"), Some("Bearer at"));
    assert_eq!(seen.body_text(), "name=value");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn middleware_signs_refreshes_and_replays_like_the_session() {
    let stub = FaultServer::start().expect("stub");
    stub.script([
        Fault::unauthorized_invalid_token(),
        Fault::token(),
        Fault::respond(200, "text/plain", "ok"),
    ]);
    let session = OAuth2Session::builder("c")
        .token_endpoint(&stub.url("/token"))
        .token(Token::bearer("stale").with_refresh_token("rt"))
        .build()
        .expect("session");
    let client = reqwest_middleware::ClientBuilder::new(users_client())
        .with(oauth_reqwest::OAuth2Middleware::new(session.clone()))
        .build();
    let response = client
        .post(stub.url("/resource"))
        .body("payload")
        .send()
        .await
        .expect("response");
    assert_eq!(response.status(), 200);
    let requests = stub.requests();
    let paths: Vec<&str> = requests.iter().map(|r| r.path.as_str()).collect();
    assert_eq!(paths, ["/resource", "/token", "/resource"]);
    assert_eq!(
        requests[2].header("authorization"),
        Some("Bearer stub-at-1")
    );
    assert_eq!(requests[2].body_text(), "payload");

    let no_token = OAuth2Session::builder("c").build().expect("session");
    let client = reqwest_middleware::ClientBuilder::new(users_client())
        .with(oauth_reqwest::OAuth2Middleware::new(no_token))
        .build();
    let error = client.get(stub.url("/x")).send().await.unwrap_err();
    let reqwest_middleware::Error::Middleware(inner) = error else {
        panic!("expected a middleware error, got {error}");
    };
    assert!(matches!(
        inner.downcast_ref::<Error>(),
        Some(Error::Core(CoreError::Usage(_)))
    ));
}

#[test]
fn session_is_clone_send_sync_and_its_futures_are_send() {
    fn send<T: Send>(_: &T) {}
    fn shared<T: Clone + Send + Sync + 'static>(_: &T) {}
    let session = table::shared_futures_are_send!(send);
    shared(&session);
    send(&session.get("http://127.0.0.1/").send());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_body_or_query_token_never_follows_a_redirect_to_another_origin() {
    let origin = FaultServer::start().expect("stub");
    let other = ok_stub();
    for placement in [BearerPlacement::FormBody, BearerPlacement::Query] {
        let session = OAuth2Session::builder("c")
            .bearer_placement(placement)
            .token(Token::bearer("secret-at"))
            .build()
            .expect("session");
        let post_form = || {
            session
                .post(origin.url("/start"))
                .form(&[("name", "value")])
                .send()
        };
        for status in [307, 308] {
            origin.push(Fault::redirect(status, &other.url("/landing")));
            let response = post_form().await.expect("response");
            assert_eq!(response.status(), status, "{placement:?}");
        }
        // Within the origin, redirects are still followed.
        origin.script([
            Fault::redirect(307, &origin.url("/moved")),
            Fault::respond(200, "text/plain", "ok"),
        ]);
        let response = post_form().await.expect("response");
        assert_eq!(response.status(), 200, "{placement:?}");
    }
    assert!(
        other.requests().is_empty(),
        "the other origin received the token"
    );
    let sent = origin.requests();
    assert_eq!(sent.len(), 8);
    assert_eq!(
        sent[0].form_value("access_token").as_deref(),
        Some("secret-at")
    );
    assert_eq!(sent[3].path, "/moved");
    assert_eq!(
        sent[3].form_value("access_token").as_deref(),
        Some("secret-at")
    );
    assert!(
        sent[4].path.contains("access_token=secret-at"),
        "{}",
        sent[4].path
    );
}
