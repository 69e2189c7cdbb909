//! A connection that sends a small vectored write as one buffer.
//!
//! hyper writes a response's head and body as one vectored write of the two (zero copy).
//! For the small bodies of an API, the kernel sends one buffer for less than a vector of
//! two (docs/performance.md); for a large body, the copy would cost more than it saves. So
//! a vectored write of at most [`COALESCE_UP_TO`] bytes is copied into one buffer and
//! written with a plain write; a larger one goes out as it is.

use std::io;
use std::io::IoSlice;
use std::pin::Pin;
use std::task::{Context, Poll};

use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};

/// The largest vectored write copied into one buffer: a response whose head and body fit.
pub(super) const COALESCE_UP_TO: usize = 4096;

/// `I`, whose small vectored writes are sent as one buffer.
pub(super) struct Coalescing<I> {
    io: I,
    /// Where a small vectored write is copied: allocated at the first, then reused.
    one: Vec<u8>,
}

impl<I> Coalescing<I> {
    /// `io`, coalescing its small vectored writes.
    pub(super) fn new(io: I) -> Coalescing<I> {
        Coalescing {
            io,
            one: Vec::new(),
        }
    }
}

impl<I: AsyncRead + Unpin> AsyncRead for Coalescing<I> {
    #[inline]
    fn poll_read(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        Pin::new(&mut self.io).poll_read(cx, buf)
    }
}

impl<I: AsyncWrite + Unpin> AsyncWrite for Coalescing<I> {
    #[inline]
    fn poll_write(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        Pin::new(&mut self.io).poll_write(cx, buf)
    }

    fn poll_write_vectored(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[IoSlice<'_>],
    ) -> Poll<io::Result<usize>> {
        let total = bufs.iter().map(|buf| buf.len()).sum::<usize>();
        if bufs.len() < 2 || total > COALESCE_UP_TO {
            return Pin::new(&mut self.io).poll_write_vectored(cx, bufs);
        }
        let this = &mut *self;
        this.one.clear();
        for buf in bufs {
            this.one.extend_from_slice(buf);
        }
        // A partial write reports the bytes written from the start, as a vectored one does.
        Pin::new(&mut this.io).poll_write(cx, &this.one)
    }

    #[inline]
    fn is_write_vectored(&self) -> bool {
        self.io.is_write_vectored()
    }

    #[inline]
    fn poll_flush(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.io).poll_flush(cx)
    }

    #[inline]
    fn poll_shutdown(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.io).poll_shutdown(cx)
    }
}

#[cfg(test)]
mod tests {
    use tokio::io::AsyncWriteExt;

    use super::*;

    /// A connection that records its writes (`(vectored, parts, bytes)`) and takes at most
    /// `room` bytes a write.
    struct Recorder {
        writes: Vec<(bool, usize, Vec<u8>)>,
        room: usize,
    }

    impl AsyncWrite for Recorder {
        fn poll_write(
            mut self: Pin<&mut Self>,
            _: &mut Context<'_>,
            buf: &[u8],
        ) -> Poll<io::Result<usize>> {
            let taken = buf.len().min(self.room);
            self.writes.push((false, 1, buf[..taken].to_vec()));
            Poll::Ready(Ok(taken))
        }

        fn poll_write_vectored(
            mut self: Pin<&mut Self>,
            _: &mut Context<'_>,
            bufs: &[IoSlice<'_>],
        ) -> Poll<io::Result<usize>> {
            let all: Vec<u8> = bufs.iter().flat_map(|buf| buf.iter().copied()).collect();
            let taken = all.len().min(self.room);
            self.writes.push((true, bufs.len(), all[..taken].to_vec()));
            Poll::Ready(Ok(taken))
        }

        fn is_write_vectored(&self) -> bool {
            true
        }

        fn poll_flush(self: Pin<&mut Self>, _: &mut Context<'_>) -> Poll<io::Result<()>> {
            Poll::Ready(Ok(()))
        }

        fn poll_shutdown(self: Pin<&mut Self>, _: &mut Context<'_>) -> Poll<io::Result<()>> {
            Poll::Ready(Ok(()))
        }
    }

    /// Writes `parts` as one vectored write through `Coalescing`: what it returned, and
    /// the writes the connection saw.
    async fn write_vectored(parts: &[&[u8]], room: usize) -> (usize, Vec<(bool, usize, Vec<u8>)>) {
        let mut writer = Coalescing::new(Recorder {
            writes: Vec::new(),
            room,
        });
        assert!(writer.is_write_vectored());
        let slices: Vec<IoSlice<'_>> = parts.iter().map(|part| IoSlice::new(part)).collect();
        let written = writer.write_vectored(&slices).await.unwrap();
        (written, writer.io.writes)
    }

    #[tokio::test]
    async fn a_small_vectored_write_goes_out_as_one_buffer() {
        let (written, writes) = write_vectored(&[b"HTTP/1.1 200 OK\r\n\r\n", b"{}"], 1 << 16).await;
        assert_eq!(written, 21);
        assert_eq!(writes, [(false, 1, b"HTTP/1.1 200 OK\r\n\r\n{}".to_vec())]);
    }

    #[tokio::test]
    async fn a_partial_write_counts_from_the_start() {
        let (written, writes) = write_vectored(&[b"0123456", b"789abcdef"], 10).await;
        assert_eq!(written, 10);
        assert_eq!(writes, [(false, 1, b"0123456789".to_vec())]);
    }

    #[tokio::test]
    async fn up_to_the_limit_a_vectored_write_is_coalesced() {
        let head = [b'h'; 100];
        let body = vec![b'b'; COALESCE_UP_TO - 100];
        let (written, writes) = write_vectored(&[&head, &body], 1 << 16).await;
        assert_eq!(written, COALESCE_UP_TO);
        assert_eq!(writes, [(false, 1, [&head[..], &body].concat())]);
    }

    #[tokio::test]
    async fn a_larger_vectored_write_and_a_single_part_go_out_as_they_are() {
        let head = [b'h'; 100];
        let body = vec![b'b'; COALESCE_UP_TO];
        let (written, writes) = write_vectored(&[&head, &body], 1 << 16).await;
        assert_eq!(written, 100 + COALESCE_UP_TO);
        assert_eq!(writes, [(true, 2, [&head[..], &body].concat())]);

        let (written, writes) = write_vectored(&[b"only"], 1 << 16).await;
        assert_eq!(written, 4);
        assert_eq!(writes, [(true, 1, b"only".to_vec())]);
    }
}
