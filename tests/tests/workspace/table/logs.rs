//! The adapters' logs (feature `tracing`): every field of every span and event of the seed
//! scenario, a login, and confidential clients, captured; none holds a token, a secret, an
//! assertion, a code or a password.

use std::sync::{Arc, Mutex, OnceLock};
use std::time::Duration;

use oauth_core::oidc::AuthorizationRequest;
use oauth_core::{Grant, TokenUpdate};
use oauth_tests::browser::follow_to_callback;
use oauth_tests::seed::run_seed_scenario;
use tracing::field::{Field, Visit};
use tracing::span::{Attributes, Id, Record};
use tracing::{Event, Metadata, Subscriber};

use super::{Adapter, Options, REDIRECT_URI, SeedFacade};
use crate::start_server;

/// One captured span or event: its name and every field as `name=value`.
type Captured = Arc<Mutex<Vec<String>>>;

/// A subscriber that keeps every field of every span and event (the process's global one:
/// the workspace tests run in one process and may all log).
struct Capture {
    records: Captured,
    next_id: std::sync::atomic::AtomicU64,
}

struct Fields(String);

impl Visit for Fields {
    fn record_debug(&mut self, field: &Field, value: &dyn std::fmt::Debug) {
        self.0.push_str(&format!(" {}={value:?}", field.name()));
    }

    fn record_str(&mut self, field: &Field, value: &str) {
        self.0.push_str(&format!(" {}={value}", field.name()));
    }
}

impl Capture {
    fn keep(&self, what: &str, visit: impl FnOnce(&mut Fields)) {
        let mut fields = Fields(what.to_owned());
        visit(&mut fields);
        self.records
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .push(fields.0);
    }
}

impl Subscriber for Capture {
    fn enabled(&self, _: &Metadata<'_>) -> bool {
        true
    }

    fn new_span(&self, span: &Attributes<'_>) -> Id {
        self.keep(span.metadata().name(), |f| span.record(f));
        Id::from_u64(
            self.next_id
                .fetch_add(1, std::sync::atomic::Ordering::Relaxed)
                + 1,
        )
    }

    fn record(&self, _: &Id, values: &Record<'_>) {
        self.keep("record", |f| values.record(f));
    }

    fn record_follows_from(&self, _: &Id, _: &Id) {}

    fn event(&self, event: &Event<'_>) {
        self.keep(event.metadata().name(), |f| event.record(f));
    }

    fn enter(&self, _: &Id) {}

    fn exit(&self, _: &Id) {}
}

fn captured() -> &'static Captured {
    static CAPTURED: OnceLock<Captured> = OnceLock::new();
    CAPTURED.get_or_init(|| {
        let records = Captured::default();
        let subscriber = Capture {
            records: Arc::clone(&records),
            next_id: std::sync::atomic::AtomicU64::new(0),
        };
        tracing::subscriber::set_global_default(subscriber)
            .expect("the only global subscriber of the test process");
        records
    })
}

pub(crate) fn logs_hold_no_secret_through_the_seed_scenario_a_login_and_client_secrets<
    A: Adapter,
>() {
    let records = captured();
    let server = start_server(Duration::from_secs(4));
    let secrets = Arc::new(Mutex::new(Vec::<String>::new()));
    let keep = {
        let secrets = Arc::clone(&secrets);
        move |update: &TokenUpdate| {
            let token = update.new_token();
            let mut secrets = secrets.lock().expect("lock");
            secrets.push(token.access_token().secret().to_owned());
            if let Some(rt) = token.refresh_token() {
                secrets.push(rt.secret().to_owned());
            }
            if let Some(id) = token.id_token() {
                secrets.push(id.secret().to_owned());
            }
        }
    };
    // The seed scenario: password grant, refresh when due, a refused refresh.
    let options = Options::new("admin-cli")
        .server(&server)
        .leeway(Duration::from_secs(60))
        .on_update(keep.clone());
    let mut driver = SeedFacade(A::build(options).expect("session"));
    run_seed_scenario(&server, &mut driver, &mut |_| {}).expect("seed scenario");
    // A login with the code flow.
    let session = A::build(
        Options::new("admin-cli")
            .discover(&server)
            .on_update(keep.clone()),
    )
    .expect("session");
    let (url, pending) = session
        .authorization_url(&AuthorizationRequest::new().scope("openid profile"))
        .expect("url");
    let callback = follow_to_callback(url.as_str(), REDIRECT_URI).expect("headless login");
    let code = oauth_core::url::Url::parse(&callback)
        .expect("callback")
        .query_pairs()
        .find(|(n, _)| n == "code")
        .map(|(_, v)| v.into_owned())
        .expect("code");
    session.exchange_code(pending, &callback).expect("login");
    session.userinfo().expect("userinfo");
    // Confidential clients: a secret, and an assertion signed with one.
    for options in [
        Options::new("basic-client").secret_basic("basic-secret"),
        Options::new("jwt-secret-client").secret_jwt("jwt-secret-client-secret-0123456789abcdef"),
    ] {
        let session = A::build(options.server(&server).on_update(keep.clone())).expect("session");
        session
            .fetch_token(Grant::client_credentials())
            .expect("token");
        let _ = session.fetch_token(Grant::password("admin", "not-the-password"));
    }

    let mut secrets = secrets.lock().expect("lock").clone();
    assert!(
        secrets.len() >= 8,
        "the tokens of every change were collected: {}",
        secrets.len()
    );
    secrets.extend(
        [
            code.as_str(),
            "basic-secret",
            "jwt-secret-client-secret-0123456789abcdef",
            "not-the-password",
            // Any compact JWT: an ID token, a client assertion, a DPoP proof.
            "eyJ",
        ]
        .map(str::to_owned),
    );
    let records = records.lock().expect("lock").clone();
    for record in &records {
        for secret in &secrets {
            assert!(
                !record.contains(secret.as_str()),
                "a secret in the logs: {record}"
            );
        }
        assert!(
            !record.split(' ').any(|field| field.ends_with("=admin")),
            "the password in the logs: {record}"
        );
    }
    // The logs say what happened.
    let has = |needle: &[&str]| records.iter().any(|r| needle.iter().all(|n| r.contains(n)));
    assert!(
        has(&["oauth.call", "purpose=token", "grant_type=password"]),
        "a fetch span"
    );
    assert!(
        has(&["oauth.call", "grant_type=refresh_token", "reason="]),
        "a renewal span"
    );
    assert!(
        has(&["token renewal decided", "reason="]),
        "a renewal decision"
    );
    assert!(has(&["record", "status=200"]), "the status");
    assert!(has(&["record", "duration_ms="]), "the duration");
    assert!(
        has(&["oauth.call", "purpose=keys"]),
        "the key fetch of the login"
    );
    assert!(
        has(&["operation failed", "invalid_grant"]),
        "a failure and why"
    );
}
