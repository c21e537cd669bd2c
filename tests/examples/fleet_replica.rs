//! One replica of a fleet sharing a token through Redis, for the fleet tests: a session of the
//! adapter named by `REPLICA_ADAPTER` with `REPLICA_WORKERS` threads or tasks, each sending
//! resource requests (one every `REPLICA_PACE_MS`) for `REPLICA_SECONDS`. It prints `READY`
//! once its session has the fleet's token, `UPDATE <kind>` at each change of its token, and at
//! the end one JSON line with what it saw.
//!
//! Environment: `REPLICA_ADAPTER` (`ureq`, `reqwest`, `async-std`), `REPLICA_WORKERS`,
//! `REPLICA_SECONDS`, `REPLICA_PACE_MS`, `REDIS_URL`, `STORE_NAME`, `STORE_KEY` (base64url),
//! `STORE_LEASE_MS`, `STORE_POLICY` (`fail` or `local`), `CLIENT_ID`, `TOKEN_ENDPOINT`,
//! `RESOURCE_URL`.

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use oauth_core::store::{StoreKey, Unreachable};
use oauth_redis::RedisStore;

fn env(name: &str) -> String {
    std::env::var(name).unwrap_or_else(|_| panic!("{name} is not set"))
}

fn number(name: &str) -> u64 {
    env(name)
        .parse()
        .unwrap_or_else(|_| panic!("{name} is not a number"))
}

fn store() -> RedisStore {
    let key = StoreKey::from_base64url(&env("STORE_KEY")).expect("STORE_KEY");
    let policy = match env("STORE_POLICY").as_str() {
        "local" => Unreachable::RenewLocally,
        _ => Unreachable::FailWhenUnusable,
    };
    RedisStore::open(&env("REDIS_URL"), &env("STORE_NAME"), key)
        .expect("REDIS_URL")
        .unreachable(policy)
        .lease(Duration::from_millis(number("STORE_LEASE_MS")))
}

/// What the workers saw.
#[derive(Default)]
struct Tally {
    ok: AtomicU64,
    failed: AtomicU64,
    errors: std::sync::Mutex<Vec<String>>,
}

impl Tally {
    fn record(&self, outcome: Result<u16, String>) {
        match outcome {
            Ok(200) => {
                self.ok.fetch_add(1, Ordering::Relaxed);
            }
            Ok(status) => self.fail(format!("HTTP {status}")),
            Err(error) => self.fail(error),
        }
    }

    fn fail(&self, error: String) {
        self.failed.fetch_add(1, Ordering::Relaxed);
        let mut errors = self.errors.lock().expect("errors");
        if errors.len() < 5 {
            errors.push(error);
        }
    }

    fn report(&self) {
        let errors = self.errors.lock().expect("errors");
        let report = serde_json::json!({
            "ok": self.ok.load(Ordering::Relaxed),
            "failed": self.failed.load(Ordering::Relaxed),
            "errors": *errors,
        });
        println!("{report}");
    }
}

/// Each change of the session's token, as a line (its kind only).
fn announce(update: &oauth_core::TokenUpdate) {
    println!("UPDATE {:?}", update.kind());
}

fn main() {
    let (workers, seconds, pace) = (
        number("REPLICA_WORKERS"),
        number("REPLICA_SECONDS"),
        Duration::from_millis(number("REPLICA_PACE_MS")),
    );
    let deadline = Instant::now() + Duration::from_secs(seconds);
    let (client_id, token_endpoint, resource) =
        (env("CLIENT_ID"), env("TOKEN_ENDPOINT"), env("RESOURCE_URL"));
    let tally = Arc::new(Tally::default());
    match env("REPLICA_ADAPTER").as_str() {
        "ureq" => {
            let session = oauth_ureq::OAuth2Session::builder(client_id)
                .token_endpoint(&token_endpoint)
                .store(store())
                .on_token_update(announce)
                .build()
                .expect("session");
            let first = session.get(&resource).call().map(|r| r.status().as_u16());
            tally.record(first.map_err(|e| e.to_string()));
            println!("READY");
            let threads: Vec<_> = (0..workers)
                .map(|_| {
                    let (session, tally, resource) =
                        (session.clone(), Arc::clone(&tally), resource.clone());
                    std::thread::spawn(move || {
                        while Instant::now() < deadline {
                            let outcome = session.get(&resource).call();
                            tally.record(
                                outcome
                                    .map(|r| r.status().as_u16())
                                    .map_err(|e| e.to_string()),
                            );
                            std::thread::sleep(pace);
                        }
                    })
                })
                .collect();
            for thread in threads {
                thread.join().expect("worker");
            }
        }
        "reqwest" => {
            let runtime = tokio::runtime::Runtime::new().expect("tokio");
            runtime.block_on(async {
                let session = oauth_reqwest::OAuth2Session::builder(client_id)
                    .token_endpoint(&token_endpoint)
                    .store(store())
                    .on_token_update(announce)
                    .build()
                    .expect("session");
                let first = session.get(&resource).send().await;
                tally.record(
                    first
                        .map(|r| r.status().as_u16())
                        .map_err(|e| e.to_string()),
                );
                println!("READY");
                let tasks: Vec<_> = (0..workers)
                    .map(|_| {
                        let (session, tally, resource) =
                            (session.clone(), Arc::clone(&tally), resource.clone());
                        tokio::spawn(async move {
                            while Instant::now() < deadline {
                                let outcome = session.get(&resource).send().await;
                                tally.record(
                                    outcome
                                        .map(|r| r.status().as_u16())
                                        .map_err(|e| e.to_string()),
                                );
                                tokio::time::sleep(pace).await;
                            }
                        })
                    })
                    .collect();
                for task in tasks {
                    task.await.expect("worker");
                }
            });
        }
        "async-std" => async_std::task::block_on(async {
            let session = oauth_async_std::OAuth2Session::builder(client_id)
                .token_endpoint(&token_endpoint)
                .store(store())
                .on_token_update(announce)
                .build()
                .expect("session");
            let first = session.get(&resource).call().await;
            tally.record(
                first
                    .map(|r| r.status().as_u16())
                    .map_err(|e| e.to_string()),
            );
            println!("READY");
            let tasks: Vec<_> = (0..workers)
                .map(|_| {
                    let (session, tally, resource) =
                        (session.clone(), Arc::clone(&tally), resource.clone());
                    async_std::task::spawn(async move {
                        while Instant::now() < deadline {
                            let outcome = session.get(&resource).call().await;
                            tally.record(
                                outcome
                                    .map(|r| r.status().as_u16())
                                    .map_err(|e| e.to_string()),
                            );
                            async_std::task::sleep(pace).await;
                        }
                    })
                })
                .collect();
            for task in tasks {
                task.await;
            }
        }),
        other => panic!("unknown adapter {other}"),
    }
    tally.report();
}
