//! oauth-ureq: the blocking facade the behavioural table (`crate::table`) runs on, the table's
//! tests (`ureq_adapter::shared::…`), and what only this adapter has: its ureq agent
//! (connection reuse, a user's agent and its redirect and timeout settings).

use std::thread::JoinHandle;
use std::time::Duration;

use oauth_tests::fault::{Fault, FaultServer};
use oauth_ureq::{Error, OAuth2Session, Token};

use crate::table::{self, Adapter, BufferedRequests, Caller, Options, Pool, Reply};

/// The blocking facade over an `oauth_ureq::OAuth2Session`: its calls block already;
/// concurrent callers are threads.
#[derive(Debug, Clone)]
pub(crate) struct Ureq {
    session: OAuth2Session,
}

impl Ureq {
    /// What a session call returned: it has ended already.
    fn wait<T>(&self, result: T) -> T {
        result
    }
}

fn reply(response: http::Response<ureq::Body>) -> Result<Reply, Error> {
    let (parts, mut body) = response.into_parts();
    Ok(Reply {
        status: parts.status.as_u16(),
        headers: parts.headers,
        body: body.read_to_string()?,
    })
}

fn get(session: &OAuth2Session, url: &str) -> Result<Reply, Error> {
    reply(session.get(url).call()?)
}

fn post_json(
    session: &OAuth2Session,
    url: &str,
    value: &serde_json::Value,
) -> Result<Reply, Error> {
    reply(session.post(url).send_json(value)?)
}

table::caller_runner!();
table::adapter_error!(Error);

impl Adapter for Ureq {
    type Error = Error;
    type Task = JoinHandle<Caller<Error>>;

    const NAME: &'static str = "oauth-ureq";
    const CALLERS: usize = 64;
    const FOLLOWS_REDIRECTS: bool = true;

    fn build(options: Options) -> Result<Self, Error> {
        let session = table::build_session!(options, wait: |discovered| discovered);
        Ok(Self { session })
    }

    table::session_facade!();

    fn spawn(&self, caller: Caller<Error>) -> Self::Task {
        let session = self.session.clone();
        std::thread::spawn(move || run(session, caller))
    }

    fn join(&self, task: Self::Task) -> Caller<Error> {
        task.join().expect("caller thread")
    }

    fn is_timeout(error: &Error) -> bool {
        matches!(error, Error::Transport(ureq::Error::Timeout(_)))
    }

    fn body_limit_exceeded(error: &Error) -> Option<u64> {
        match error {
            Error::Transport(ureq::Error::BodyExceedsLimit(limit)) => Some(*limit),
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

impl BufferedRequests for Ureq {}

table::behaviour_table!(Ureq: buffered);

#[test]
fn sequential_requests_reuse_one_connection() {
    let stub = FaultServer::with_default(Fault::respond(200, "text/plain", "1")).expect("stub");
    let session = OAuth2Session::builder("c")
        .token(Token::bearer("at"))
        .build()
        .expect("session");
    for _ in 0..10 {
        let mut response = session.get(stub.url("/resource")).call().expect("response");
        assert_eq!(response.body_mut().read_to_string().expect("body"), "1");
    }
    assert_eq!(stub.connections(), 1);
    let first = &stub.requests()[0];
    assert_eq!(
        first.header("content-length"),
        None,
        "a GET carries no body framing"
    );
    assert_eq!(
        first.header("transfer-encoding"),
        None,
        "a GET carries no body framing"
    );
}

#[test]
fn threads_sharing_a_session_keep_their_connections() {
    // ureq's default pool keeps 3 idle connections per host: 16 threads then opened and
    // closed a connection for most requests (thousands of sockets in TIME_WAIT).
    let stub = FaultServer::with_default(Fault::respond(200, "text/plain", "1")).expect("stub");
    let session = OAuth2Session::builder("c")
        .token(Token::bearer("at"))
        .build()
        .expect("session");
    let threads = 16;
    let barrier = std::sync::Arc::new(std::sync::Barrier::new(threads));
    let workers: Vec<_> = (0..threads)
        .map(|_| {
            let (session, barrier, url) = (session.clone(), barrier.clone(), stub.url("/r"));
            std::thread::spawn(move || {
                barrier.wait();
                for _ in 0..25 {
                    let mut response = session.get(&url).call().expect("response");
                    assert_eq!(response.body_mut().read_to_string().expect("body"), "1");
                }
            })
        })
        .collect();
    for worker in workers {
        worker.join().expect("worker");
    }
    assert_eq!(stub.requests().len(), threads * 25);
    assert!(
        stub.connections() <= oauth_ureq::IDLE_CONNECTIONS_PER_HOST,
        "{} connections for {threads} threads",
        stub.connections()
    );
}

#[test]
fn a_users_agent_never_carries_the_bearer_through_a_redirect() {
    let origin = FaultServer::start().expect("stub");
    let other_port =
        FaultServer::with_default(Fault::respond(200, "text/plain", "ok")).expect("stub");
    origin.push(Fault::redirect(302, &other_port.url("/landing")));
    // SameHost would forward the header to another port of the same host.
    let agent: ureq::Agent = ureq::Agent::config_builder()
        .redirect_auth_headers(ureq::config::RedirectAuthHeaders::SameHost)
        .build()
        .into();
    let session = OAuth2Session::builder("c")
        .agent(agent)
        .token(Token::bearer("secret-at"))
        .build()
        .expect("session");
    assert_eq!(
        session
            .get(origin.url("/start"))
            .call()
            .expect("response")
            .status(),
        200
    );
    assert_eq!(other_port.requests()[0].header("authorization"), None);
}

#[test]
fn a_users_agent_without_timeout_still_times_out_on_the_token_endpoint() {
    let stub = FaultServer::start().expect("stub");
    stub.push(Fault::slow(Duration::from_secs(3), Fault::token()));
    let agent: ureq::Agent = ureq::Agent::config_builder()
        .http_status_as_error(false)
        .build()
        .into();
    let session = OAuth2Session::builder("c")
        .agent(agent)
        .timeout(Duration::from_millis(300))
        .token_endpoint(&stub.url("/token"))
        .token(Token::bearer("at").with_refresh_token("rt"))
        .build()
        .expect("session");
    let error = session.refresh_token().unwrap_err();
    assert!(
        matches!(error, Error::Transport(ureq::Error::Timeout(_))),
        "{error}"
    );
}
