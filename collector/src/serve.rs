//! HTTP/1.1 serving for the collector's two HTTP ports, answering a client that half-closes
//! its side after sending (`curl`-like tools, `nc -N`, some proxies), as Jaeger's Go server
//! does: hyper closes such a connection unanswered unless told otherwise, and `axum::serve`
//! does not tell it.

use std::time::Duration;

use axum::Router;
use hyper_util::rt::TokioIo;
use hyper_util::service::TowerToHyperService;
use tokio::net::TcpListener;

/// Serves `app` on every connection `listener` accepts, until the task is aborted.
pub(crate) async fn serve(listener: TcpListener, app: Router) {
    loop {
        let stream = match listener.accept().await {
            Ok((stream, _)) => stream,
            // Out of descriptors, most likely: let connections finish rather than spin.
            Err(_) => {
                tokio::time::sleep(Duration::from_millis(10)).await;
                continue;
            }
        };
        let _ = stream.set_nodelay(true);
        let service = TowerToHyperService::new(app.clone());
        tokio::spawn(async move {
            let _ = hyper::server::conn::http1::Builder::new()
                .half_close(true)
                .serve_connection(TokioIo::new(stream), service)
                .await;
        });
    }
}
