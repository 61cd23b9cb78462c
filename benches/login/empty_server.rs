//! The baseline: a hyper server that answers `true` to every request and
//! does nothing else, closing each connection after its answer. It runs on a runtime and threads of its own, as the
//! bridge does in its process, so that the two compete alike for the
//! machine with the load generator and slapd.

use std::convert::Infallible;
use std::net::SocketAddr;

use bytes::Bytes;
use http_body_util::Full;
use hyper::server::conn::http1;
use hyper::service::service_fn;
use hyper::{Request, Response};
use hyper_util::rt::TokioIo;

pub struct EmptyServer {
    pub address: SocketAddr,
}

impl EmptyServer {
    /// Serves until the process ends.
    pub fn start() -> EmptyServer {
        let listener = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
        listener.set_nonblocking(true).expect("non-blocking");
        let address = listener.local_addr().expect("address");
        std::thread::spawn(move || {
            let runtime = tokio::runtime::Runtime::new().expect("a runtime");
            runtime.block_on(serve(listener));
        });
        EmptyServer { address }
    }
}

async fn serve(listener: std::net::TcpListener) {
    let listener = tokio::net::TcpListener::from_std(listener).expect("a tokio listener");
    loop {
        let Ok((stream, _)) = listener.accept().await else { continue };
        tokio::spawn(async move {
            let answer = service_fn(|_: Request<hyper::body::Incoming>| async {
                Ok::<_, Infallible>(Response::new(Full::new(Bytes::from_static(b"true"))))
            });
            // Closing after the answer, as the bridge does: a server that
            // waits for the client to close is slower, and would flatter it.
            let _ =
                http1::Builder::new().keep_alive(false).serve_connection(TokioIo::new(stream), answer).await;
        });
    }
}
