//! Accepted connections, capped: at most `max` open at once. A connection over the cap is closed as soon as
//! it is accepted (the client sees a reset and retries later, perhaps on another node), so a flood of
//! connections cannot take the server's memory or file descriptors.

use std::io;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};
use std::time::Duration;

use futures::{Stream, StreamExt as _};
use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::{OwnedSemaphorePermit, Semaphore};
use tonic::transport::server::{Connected, TcpConnectInfo, TcpIncoming};

/// A connection that holds its place under the cap until it is dropped.
#[derive(Debug)]
pub(crate) struct Capped {
    stream: TcpStream,
    _place: OwnedSemaphorePermit,
    _open: metrics::Open,
}

/// The accepted connections of `listener`, at most `max` open at once, with `TCP_NODELAY` and keepalive set;
/// those open and those refused are counted in `metrics`.
pub(crate) fn capped(
    listener: TcpListener,
    max: usize,
    metrics: metrics::Rpc,
) -> impl Stream<Item = io::Result<Capped>> + Send + 'static {
    let places = Arc::new(Semaphore::new(max.max(1)));
    // Serving from a listener ignores the builder's TCP settings: set them on the accepted sockets here.
    // Without TCP_NODELAY, small responses wait for the client's delayed ACK (tens of milliseconds).
    let incoming = TcpIncoming::from(listener).with_nodelay(Some(true)).with_keepalive(Some(Duration::from_secs(60)));
    incoming.filter_map(move |accepted| {
        let (places, metrics) = (places.clone(), metrics.clone());
        async move {
            let stream = match accepted {
                Ok(stream) => stream,
                Err(e) => return Some(Err(e)),
            };
            match places.try_acquire_owned() {
                Ok(place) => Some(Ok(Capped { stream, _place: place, _open: metrics.connection() })),
                Err(_) => {
                    metrics.connection_refused();
                    tracing::warn!(peer = ?stream.peer_addr().ok(), "connection refused: the server is at its connection limit");
                    None
                }
            }
        }
    })
}

impl Connected for Capped {
    type ConnectInfo = TcpConnectInfo;

    fn connect_info(&self) -> Self::ConnectInfo {
        self.stream.connect_info()
    }
}

impl AsyncRead for Capped {
    fn poll_read(mut self: Pin<&mut Self>, cx: &mut Context<'_>, buf: &mut ReadBuf<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.stream).poll_read(cx, buf)
    }
}

impl AsyncWrite for Capped {
    fn poll_write(mut self: Pin<&mut Self>, cx: &mut Context<'_>, buf: &[u8]) -> Poll<io::Result<usize>> {
        Pin::new(&mut self.stream).poll_write(cx, buf)
    }

    fn poll_flush(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.stream).poll_flush(cx)
    }

    fn poll_shutdown(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.stream).poll_shutdown(cx)
    }

    fn poll_write_vectored(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[io::IoSlice<'_>],
    ) -> Poll<io::Result<usize>> {
        Pin::new(&mut self.stream).poll_write_vectored(cx, bufs)
    }

    fn is_write_vectored(&self) -> bool {
        self.stream.is_write_vectored()
    }
}
