//! The IO shim: hyper 1 reads and writes through its own `hyper::rt::{Read, Write}` traits,
//! async-std's `TcpStream` and futures-rustls' `TlsStream` through `futures-io`'s. This adapts
//! the second to the first.
//!
//! hyper hands reads a possibly uninitialised buffer that only `unsafe` code can fill in place,
//! and the workspace forbids `unsafe`; so a read lands in a per-connection scratch buffer and is
//! copied with `put_slice`. On loopback the copy costs a few nanoseconds per kilobyte, far below
//! the syscall it follows.

use std::io;
use std::pin::Pin;
use std::task::{Context, Poll, ready};

use futures_lite::io::{AsyncRead, AsyncWrite};
use hyper::rt::ReadBufCursor;

/// The scratch buffer's size: hyper's first read buffer is 8 KiB and grows with the traffic.
const SCRATCH: usize = 16 * 1024;

/// A `futures-io` stream seen as a hyper one.
pub(crate) struct HyperIo<T> {
    inner: T,
    scratch: Box<[u8]>,
}

impl<T> HyperIo<T> {
    pub(crate) fn new(inner: T) -> Self {
        Self {
            inner,
            scratch: vec![0; SCRATCH].into_boxed_slice(),
        }
    }
}

impl<T: AsyncRead + Unpin> hyper::rt::Read for HyperIo<T> {
    fn poll_read(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        mut buf: ReadBufCursor<'_>,
    ) -> Poll<io::Result<()>> {
        let this = self.get_mut();
        let len = buf.remaining().min(this.scratch.len());
        let n = ready!(Pin::new(&mut this.inner).poll_read(cx, &mut this.scratch[..len]))?;
        buf.put_slice(&this.scratch[..n]);
        Poll::Ready(Ok(()))
    }
}

impl<T: AsyncWrite + Unpin> hyper::rt::Write for HyperIo<T> {
    fn poll_write(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        Pin::new(&mut self.get_mut().inner).poll_write(cx, buf)
    }

    fn poll_flush(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.get_mut().inner).poll_flush(cx)
    }

    fn poll_shutdown(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.get_mut().inner).poll_close(cx)
    }
}
