#![no_main]
//! The session state machine under random interleavings: several callers' flows (automatic
//! renewals and explicit refreshes) polled, answered (well-formed tokens, error bodies,
//! garbage), failed, superseded by `set_token`, across clock steps. Invariants:
//! - never two requests in flight with the same refresh token (a rotating server would revoke
//!   the grant);
//! - a failed call or an error answer never changes the token;
//! - an answer to a call made before `set_token` never replaces the token set.

use std::time::Duration;

use arbitrary::Arbitrary;
use libfuzzer_sys::fuzz_target;
use oauth_core::flow::{Authorize, Fetch, Flow, Step};
use oauth_core::{ClientConfig, Token, TokenSession, parse_token_response};
use oauth_core_fuzz::{Reply, now};

#[derive(Debug, Arbitrary)]
enum Op {
    Authorize(u8),
    Refresh(u8),
    Poll(u8),
    Answer(u8, Answer),
    Fail(u8),
    Advance(u16),
    SetToken(u8),
}

#[derive(Debug, Arbitrary)]
enum Answer {
    Token { expires_in: u16, rotate: bool },
    InvalidGrant,
    Raw(Reply),
}

enum Caller {
    Authorize(Authorize),
    Refresh(Fetch),
}

struct Slot {
    caller: Caller,
    /// The refresh token the call out carries, if any; and the `set_token` count when sent.
    outstanding: Option<(Option<String>, u32)>,
}

impl Slot {
    fn poll(&mut self, session: &mut TokenSession, at: std::time::SystemTime) -> Option<String> {
        let step_call = match &mut self.caller {
            Caller::Authorize(flow) => match flow.poll(session, at) {
                Step::Send(call) => Some(call),
                _ => None,
            },
            Caller::Refresh(flow) => match flow.poll(session, at) {
                Step::Send(call) => Some(call),
                _ => None,
            },
        };
        step_call.map(|call| String::from_utf8_lossy(call.request().body()).into_owned())
    }

    fn handle(
        &mut self,
        session: &mut TokenSession,
        answer: Option<http::Response<Vec<u8>>>,
        at: std::time::SystemTime,
    ) {
        match (&mut self.caller, answer) {
            (Caller::Authorize(flow), Some(response)) => {
                flow.handle_response(session, response, at)
            }
            (Caller::Authorize(flow), None) => flow.handle_failure(session, at),
            (Caller::Refresh(flow), Some(response)) => flow.handle_response(session, response, at),
            (Caller::Refresh(flow), None) => flow.handle_failure(session, at),
        }
    }
}

fn refresh_token_of(body: &str) -> Option<String> {
    body.contains("grant_type=refresh_token").then(|| {
        body.split('&')
            .find_map(|pair| pair.strip_prefix("refresh_token="))
            .unwrap_or_default()
            .to_owned()
    })
}

fn access_token(session: &TokenSession) -> Option<String> {
    session
        .token()
        .map(|t| t.access_token().secret().to_owned())
}

fuzz_target!(|ops: Vec<Op>| {
    let config = ClientConfig::new("c")
        .token_endpoint("https://as.example/token")
        .expect("url")
        .leeway(Duration::from_secs(10));
    // As the adapters drive it: every call reported, no timer abandons a live exchange.
    let mut session = TokenSession::new(config).with_exchange_timeout(None);
    let first = Token::bearer("a0")
        .with_refresh_token("r0")
        .with_lifetime(now(), now() + Duration::from_secs(60));
    let _ = session.set_token(first);
    let mut at = now();
    let mut slots: Vec<Option<Slot>> = (0..3).map(|_| None).collect();
    let mut sets = 0u32;
    let mut issued = 0u32;
    for op in ops.into_iter().take(64) {
        match op {
            Op::Authorize(i) | Op::Refresh(i)
                if slots[usize::from(i % 3)]
                    .as_ref()
                    .is_some_and(|s| s.outstanding.is_some()) => {}
            Op::Authorize(i) => {
                slots[usize::from(i % 3)] = Some(Slot {
                    caller: Caller::Authorize(Authorize::new()),
                    outstanding: None,
                });
            }
            Op::Refresh(i) => {
                slots[usize::from(i % 3)] = Some(Slot {
                    caller: Caller::Refresh(Fetch::refresh()),
                    outstanding: None,
                });
            }
            Op::Poll(i) => {
                let Some(slot) = slots[usize::from(i % 3)].as_mut() else {
                    continue;
                };
                if slot.outstanding.is_some() {
                    continue;
                }
                if let Some(body) = slot.poll(&mut session, at) {
                    let refresh_token = refresh_token_of(&body);
                    let in_flight = slots
                        .iter()
                        .flatten()
                        .filter_map(|s| s.outstanding.as_ref());
                    for (other, _) in in_flight {
                        assert!(
                            refresh_token.is_none() || *other != refresh_token,
                            "two requests in flight with one refresh token"
                        );
                    }
                    slots[usize::from(i % 3)]
                        .as_mut()
                        .expect("slot")
                        .outstanding = Some((refresh_token, sets));
                }
            }
            Op::Answer(i, answer) => {
                let Some(slot) = slots[usize::from(i % 3)].as_mut() else {
                    continue;
                };
                let Some((_, sets_then)) = slot.outstanding.take() else {
                    continue;
                };
                let response = match answer {
                    Answer::Token { expires_in, rotate } => {
                        issued += 1;
                        let refresh = if rotate {
                            format!(r#","refresh_token":"r{issued}""#)
                        } else {
                            String::new()
                        };
                        let body = format!(
                            r#"{{"access_token":"a{issued}","token_type":"Bearer","expires_in":{expires_in}{refresh}}}"#
                        );
                        http::Response::new(body.into_bytes())
                    }
                    Answer::InvalidGrant => {
                        let mut response =
                            http::Response::new(br#"{"error":"invalid_grant"}"#.to_vec());
                        *response.status_mut() = http::StatusCode::BAD_REQUEST;
                        response
                    }
                    Answer::Raw(reply) => reply.response(),
                };
                let refused = parse_token_response(&response, at).is_err();
                let before = access_token(&session);
                slot.handle(&mut session, Some(response), at);
                if refused || sets_then != sets {
                    assert_eq!(
                        access_token(&session),
                        before,
                        "an error or a superseded answer changed the token"
                    );
                }
            }
            Op::Fail(i) => {
                let Some(slot) = slots[usize::from(i % 3)].as_mut() else {
                    continue;
                };
                if slot.outstanding.take().is_none() {
                    continue;
                }
                let before = access_token(&session);
                slot.handle(&mut session, None, at);
                assert_eq!(
                    access_token(&session),
                    before,
                    "a failed call changed the token"
                );
            }
            Op::Advance(seconds) => at += Duration::from_secs(u64::from(seconds % 120)),
            Op::SetToken(n) => {
                sets += 1;
                // A few refresh tokens only, so a token set back reuses one in flight.
                let token = Token::bearer(format!("set{n}"))
                    .with_refresh_token(format!("s{}", n % 4))
                    .with_lifetime(at, at + Duration::from_secs(60));
                let _ = session.set_token(token);
            }
        }
    }
});
