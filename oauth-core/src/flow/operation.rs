//! [`Operation`]: the bookkeeping every driver needs around a flow, written once: whether a
//! call is out (so a dropped driver can report it), and the transport error to end with.

use std::time::SystemTime;

use http::Response;

use super::{Call, Flow, Step};
use crate::error::{Error, UsageError};
use crate::session::TokenSession;
use crate::store::{StoreError, StoreReply, StoreRequest};

/// A flow being driven over a transport whose errors are `E`.
///
/// ```text
///  loop {
///      match op.poll(&mut session, now) {          // under the lock
///          Next::Send(call) => op.handle(&mut session, transport(call), sent_at),
///          Next::Store(step) => op.handle_store(&mut session, store.execute(&step), now),
///          Next::Wait(until) => wait for a wake-up or `until`,
///          Next::Done(result) => return result,    // Failed::Transport carries E
///      }
///  }
/// ```
#[derive(Debug)]
pub struct Operation<F, E> {
    flow: F,
    transport_error: Option<E>,
    outstanding: bool,
}

/// What the driver does next.
#[derive(Debug)]
#[must_use]
pub enum Next<T, E> {
    /// Send the call; hand the outcome to [`Operation::handle`].
    Send(Call),
    /// Carry out the step on the token store; hand the outcome to
    /// [`Operation::handle_store`].
    Store(StoreRequest),
    /// Wait for a wake-up, at most until then.
    Wait(SystemTime),
    /// The operation ended.
    Done(Result<T, Failed<E>>),
}

/// Why an operation failed: the core's error, or the transport's.
#[derive(Debug)]
pub enum Failed<E> {
    /// A protocol error from the core (the server said no, misbehaved; misuse; config).
    Core(Error),
    /// The transport failed (no answer was read).
    Transport(E),
}

impl<E> Failed<E> {
    /// Into an adapter's error type.
    pub fn into_error<A: From<Error> + From<E>>(self) -> A {
        match self {
            Self::Core(error) => error.into(),
            Self::Transport(error) => error.into(),
        }
    }
}

impl<F: Flow, E> Operation<F, E> {
    /// Starts driving `flow`.
    pub fn new(flow: F) -> Self {
        Self {
            flow,
            transport_error: None,
            outstanding: false,
        }
    }

    /// The next thing to do at `now`.
    pub fn poll(&mut self, session: &mut TokenSession, now: SystemTime) -> Next<F::Output, E> {
        match self.flow.poll(session, now) {
            Step::Send(call) => {
                self.outstanding = true;
                Next::Send(call)
            }
            Step::Store(request) => {
                self.outstanding = true;
                Next::Store(request)
            }
            Step::Wait { until } => Next::Wait(until),
            Step::Done(result) => Next::Done(result.map_err(Failed::Core)),
            Step::TransportFailed => Next::Done(Err(match self.transport_error.take() {
                Some(error) => Failed::Transport(error),
                None => Failed::Core(UsageError::RenewalFailed.into()),
            })),
        }
    }

    /// Hands back the outcome of the call: the response, or the transport's error. `sent_at`
    /// is when the request was sent (token lifetimes count from it).
    pub fn handle(
        &mut self,
        session: &mut TokenSession,
        answer: Result<Response<Vec<u8>>, E>,
        sent_at: SystemTime,
    ) {
        self.outstanding = false;
        match answer {
            Ok(response) => self.flow.handle_response(session, response, sent_at),
            Err(error) => {
                self.flow.handle_failure(session, sent_at);
                self.transport_error = Some(error);
            }
        }
    }

    /// Hands back the store's answer to the last [`Next::Store`], at `now`.
    pub fn handle_store(
        &mut self,
        session: &mut TokenSession,
        reply: Result<StoreReply, StoreError>,
        now: SystemTime,
    ) {
        self.outstanding = false;
        self.flow.handle_store(session, reply, now);
    }

    /// Whether a call is out: a driver dropped now must [`abandon`](Self::abandon) it.
    #[must_use]
    pub fn is_outstanding(&self) -> bool {
        self.outstanding
    }

    /// Reports the outstanding call, if any, as failed (the driver is going away), so nobody
    /// waits for its answer.
    pub fn abandon(&mut self, session: &mut TokenSession, now: SystemTime) {
        if std::mem::take(&mut self.outstanding) {
            self.flow.handle_failure(session, now);
        }
    }
}
