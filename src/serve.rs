//! Serving HTTP over hyper with the limits a public node needs and `axum::serve` does not set:
//! a client gets `header_timeout` to send a request's head (which also closes a keep-alive
//! connection left idle that long), and the node holds at most `max_connections` at once
//! (websockets included); past that, new connections wait in the kernel's queue.

use std::{
    io,
    net::SocketAddr,
    pin::Pin,
    sync::Arc,
    task::{Context, Poll},
    time::Duration,
};

use axum::{Router, body::Body, extract::ConnectInfo};
use hyper::{Request, body::Incoming, server::conn::http1};
use hyper_util::rt::{TokioIo, TokioTimer};
use tokio::{
    io::{AsyncRead, AsyncWrite, ReadBuf},
    net::TcpStream,
    sync::{OwnedSemaphorePermit, Semaphore, watch},
};
use tower::ServiceExt;

use crate::state::Peer;

#[derive(Clone, Copy, Debug)]
pub struct Limits {
    pub header_timeout: Duration,
    pub max_connections: usize,
}

/// Serves `app` on connections from `listener` until `stop` resolves; then every connection
/// is asked to finish what it is doing and close, and this returns once all have.
pub async fn serve<L>(mut listener: L, app: Router, limits: Limits, stop: impl Future<Output = ()>)
where
    L: axum::serve::Listener<Io = TcpStream, Addr = SocketAddr>,
{
    let permits = Arc::new(Semaphore::new(limits.max_connections));
    // Dropping the one receiver tells connections to shut down (each waits for its sender to
    // close); each holds a `close` receiver until it is done, so the sender learns when the
    // last one has gone.
    let (signal_tx, signal_rx) = watch::channel(());
    let (close_tx, close_rx) = watch::channel(());
    let mut stop = std::pin::pin!(stop);
    loop {
        let accepted = async {
            let permit = permits.clone().acquire_owned().await.ok()?;
            let (stream, addr) = listener.accept().await;
            Some((stream, addr, permit))
        };
        let (stream, addr, permit) = tokio::select! {
            accepted = accepted => match accepted {
                Some(accepted) => accepted,
                None => break,
            },
            () = &mut stop => break,
        };
        let io = TokioIo::new(Held {
            stream,
            _permit: permit,
        });
        let service = hyper::service::service_fn({
            let app = app.clone();
            move |req: Request<Incoming>| {
                let mut req = req.map(Body::new);
                req.extensions_mut().insert(ConnectInfo(Peer(addr)));
                app.clone().oneshot(req)
            }
        });
        let (signal, close) = (signal_tx.clone(), close_rx.clone());
        tokio::spawn(async move {
            let mut builder = http1::Builder::new();
            builder
                .timer(TokioTimer::new())
                .header_read_timeout(limits.header_timeout);
            let conn = builder.serve_connection(io, service).with_upgrades();
            let mut conn = std::pin::pin!(conn);
            tokio::select! {
                result = conn.as_mut() => log_end(result),
                () = signal.closed() => {
                    conn.as_mut().graceful_shutdown();
                    log_end(conn.await);
                }
            }
            drop(close);
        });
    }
    drop(signal_rx);
    drop(close_rx);
    drop(listener);
    close_tx.closed().await;
}

fn log_end(result: Result<(), hyper::Error>) {
    if let Err(e) = result {
        tracing::debug!(error = %e, "connection ended");
    }
}

/// A connection that holds its place among `max_connections` for as long as it lives, an
/// upgraded websocket included.
struct Held {
    stream: TcpStream,
    _permit: OwnedSemaphorePermit,
}

impl AsyncRead for Held {
    fn poll_read(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        Pin::new(&mut self.stream).poll_read(cx, buf)
    }
}

impl AsyncWrite for Held {
    fn poll_write(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
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
