//! One timer per call, carried from the response head to the body read.
//!
//! Each async-io timer that is armed wakes the reactor to re-plan its sleep; one per call
//! instead of one per phase halves that cost, and makes the timeout what users expect: the
//! whole call, body included.

use std::future::{Future, poll_fn};
use std::pin::Pin;
use std::task::Poll;
use std::time::Duration;

use async_io::Timer;

use crate::TransportError;

/// The end of a call's time.
#[derive(Debug)]
pub(crate) struct Deadline {
    timer: Timer,
    timeout: Duration,
}

impl Deadline {
    pub(crate) fn new(timeout: Duration) -> Self {
        Self {
            timer: Timer::after(timeout),
            timeout,
        }
    }

    /// Runs `future` until it ends or the deadline passes.
    pub(crate) async fn bound<F: Future>(
        &mut self,
        mut future: Pin<&mut F>,
    ) -> Result<F::Output, TransportError> {
        let timeout = self.timeout;
        let timer = &mut self.timer;
        poll_fn(|cx| {
            if let Poll::Ready(output) = future.as_mut().poll(cx) {
                return Poll::Ready(Ok(output));
            }
            match Pin::new(&mut *timer).poll(cx) {
                Poll::Ready(_) => Poll::Ready(Err(TransportError::Timeout(timeout))),
                Poll::Pending => Poll::Pending,
            }
        })
        .await
    }
}
