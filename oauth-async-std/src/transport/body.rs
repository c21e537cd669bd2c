//! A response body that gives its connection back to the pool once it has been read to the
//! end.

use std::fmt;
use std::pin::Pin;
use std::pin::pin;
use std::task::{Context, Poll, ready};

use http_body_util::BodyExt as _;
use hyper::body::{Body as HttpBody, Bytes, Frame, Incoming, SizeHint};
use oauth_core::http::HeaderMap;
use oauth_core::http::header::CONTENT_LENGTH;
use serde::de::DeserializeOwned;

use super::deadline::Deadline;
use super::pool::Lease;
use crate::{Error, TransportError};

/// The most a resource body is read into memory by [`Body::read_to_vec`] and friends unless
/// [`Body::limit`] says otherwise (10 MiB).
pub const DEFAULT_RESPONSE_BODY_LIMIT: u64 = 10 * 1024 * 1024;

/// The most memory reserved up front from a declared `Content-Length` (64 KiB): a larger
/// body grows as its bytes arrive, so a hostile header cannot make a huge allocation with
/// nothing behind it.
const MAX_INITIAL_CAPACITY: u64 = 64 * 1024;

/// The body of a response, streamed from its connection.
///
/// Read it to the end ([`read_to_vec`](Self::read_to_vec), [`read_to_string`](Self::read_to_string),
/// [`read_json`](Self::read_json), or frame by frame as an [`http_body::Body`](hyper::body::Body))
/// and its keep-alive connection goes back to the pool; drop it early and the connection is
/// closed instead. The read methods are bounded by [`limit`](Self::limit) and by what is left
/// of the request's timeout; reading frame by frame is bounded by nothing but the caller.
pub struct Body {
    incoming: Incoming,
    lease: Option<Lease>,
    limit: u64,
    deadline: Option<Deadline>,
}

impl fmt::Debug for Body {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Body")
            .field("limit", &self.limit)
            .finish_non_exhaustive()
    }
}

impl Body {
    pub(crate) fn new(incoming: Incoming, lease: Lease) -> Self {
        let mut body = Self {
            incoming,
            lease: Some(lease),
            limit: DEFAULT_RESPONSE_BODY_LIMIT,
            deadline: None,
        };
        body.release_if_complete();
        body
    }

    pub(crate) fn with_deadline(mut self, deadline: Deadline) -> Self {
        self.deadline = Some(deadline);
        self
    }

    /// Sets the most bytes the read methods accept (default [`DEFAULT_RESPONSE_BODY_LIMIT`]).
    #[must_use]
    pub fn limit(mut self, bytes: u64) -> Self {
        self.limit = bytes;
        self
    }

    /// Reads the whole body.
    ///
    /// # Errors
    /// [`TransportError::BodyTooLarge`] past the limit, [`TransportError::Timeout`] when the
    /// request's timeout runs out, or the connection failing mid-body
    /// ([`TransportError::Http`]).
    pub async fn read_to_vec(mut self) -> Result<Vec<u8>, Error> {
        let limit = self.limit;
        Ok(self.read_capped(None, limit).await?)
    }

    /// Reads the whole body as UTF-8 text.
    ///
    /// # Errors
    /// As [`read_to_vec`](Self::read_to_vec), and [`Error::Decode`] when it is not UTF-8.
    pub async fn read_to_string(self) -> Result<String, Error> {
        let bytes = self.read_to_vec().await?;
        String::from_utf8(bytes).map_err(|e| Error::Decode(Box::new(e)))
    }

    /// Reads the whole body as JSON.
    ///
    /// # Errors
    /// As [`read_to_vec`](Self::read_to_vec), and [`Error::Decode`] when it is not `T` in JSON.
    pub async fn read_json<T: DeserializeOwned>(self) -> Result<T, Error> {
        let bytes = self.read_to_vec().await?;
        serde_json::from_slice(&bytes).map_err(|e| Error::Decode(Box::new(e)))
    }

    /// Reads frame by frame, refusing a declared or actual length over `limit`.
    pub(crate) async fn read_capped(
        &mut self,
        headers: Option<&HeaderMap>,
        limit: u64,
    ) -> Result<Vec<u8>, TransportError> {
        let declared = headers
            .and_then(|h| h.get(CONTENT_LENGTH))
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.parse::<u64>().ok())
            .or_else(|| self.incoming.size_hint().exact());
        if declared.is_some_and(|len| len > limit) {
            return Err(TransportError::BodyTooLarge { limit });
        }
        let mut deadline = self.deadline.take();
        let read = pin!(async {
            let capacity = declared.map_or(0, |n| n.min(MAX_INITIAL_CAPACITY));
            let mut bytes = Vec::with_capacity(usize::try_from(capacity).unwrap_or(0));
            // Bounded by the byte limit and the deadline around it.
            while let Some(frame) = self.frame().await {
                if let Ok(data) = frame?.into_data() {
                    if bytes.len() as u64 + data.len() as u64 > limit {
                        self.lease = None;
                        return Err(TransportError::BodyTooLarge { limit });
                    }
                    bytes.extend_from_slice(&data);
                }
            }
            Ok(bytes)
        });
        match &mut deadline {
            Some(deadline) => deadline.bound(read).await?,
            None => read.await,
        }
    }

    fn release_if_complete(&mut self) {
        if self.incoming.is_end_stream() {
            if let Some(lease) = self.lease.take() {
                lease.release();
            }
        }
    }
}

impl HttpBody for Body {
    type Data = Bytes;
    type Error = hyper::Error;

    fn poll_frame(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, hyper::Error>>> {
        let this = &mut *self;
        let mut frame = Pin::new(&mut this.incoming).poll_frame(cx);
        if frame.is_pending() {
            // The body's bytes arrive only while its connection is driven (see `Conn`).
            if let Some(lease) = &mut this.lease {
                lease.conn.poll_drive(cx);
                frame = Pin::new(&mut this.incoming).poll_frame(cx);
            }
        }
        let frame = ready!(frame);
        match &frame {
            None => {
                if let Some(lease) = this.lease.take() {
                    lease.release();
                }
            }
            Some(Ok(_)) => this.release_if_complete(),
            // The connection is broken: it must not be reused.
            Some(Err(_)) => this.lease = None,
        }
        Poll::Ready(frame)
    }

    fn is_end_stream(&self) -> bool {
        self.incoming.is_end_stream()
    }

    fn size_hint(&self) -> SizeHint {
        self.incoming.size_hint()
    }
}
