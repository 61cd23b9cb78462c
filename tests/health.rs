//! `/health` (the process answers) and `/ready` (the directory answers), on
//! the API listener or on a separate admin listener (with `/metrics`, which
//! tests/metrics.rs tests).

mod support;

use std::time::Duration;

use support::{Bridge, RunningBinary, Slapd};

#[tokio::test]
async fn health_and_readiness_on_the_api_listener() {
    let mut slapd = Slapd::start();
    let bridge = Bridge::for_directory(&slapd, "").await;
    let health = bridge.get("/health").await;
    assert_eq!((health.status, health.text()), (200, "ok\n"));
    let ready = bridge.get("/ready").await;
    assert_eq!((ready.status, ready.text()), (200, "ready\n"));
    // A method is still named by the last segment of any other path.
    assert_eq!(bridge.get("/auth/health").await.status, 501);
    slapd.stop();
    assert_eq!(bridge.get("/ready").await.status, 503);
    assert_eq!(bridge.get("/health").await.status, 200);
    slapd.resume_service();
    assert_eq!(bridge.get("/ready").await.status, 200);
}

#[tokio::test]
async fn the_api_listener_asks_for_credentials_for_them_too() {
    let slapd = Slapd::start();
    let bridge = Bridge::for_directory(&slapd, "[http]\ncredentials = \"prosody:secret\"").await;
    assert_eq!(bridge.get("/health").await.status, 401);
    let authorized = bridge
        .raw("GET /health HTTP/1.1\r\nHost: x\r\nAuthorization: Basic cHJvc29keTpzZWNyZXQ=\r\n\r\n")
        .await;
    assert_eq!(authorized.status, 200);
}

#[tokio::test]
async fn the_admin_listener_serves_them_without_credentials_and_nothing_else() {
    let slapd = Slapd::start();
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("config.toml");
    let config =
        support::config(&slapd, "[http]\nadmin_listen = \"127.0.0.1:0\"\ncredentials = \"prosody:secret\"");
    std::fs::write(&path, config).unwrap();
    let service = RunningBinary::start(&path, &[]);
    let address_of = |marker: &str| -> Option<std::net::SocketAddr> {
        let log = service.log();
        let line = log.lines().find(|line| line.contains(marker))?;
        let start = line.find("listen=")? + "listen=".len();
        line[start..].split_whitespace().next()?.parse().ok()
    };
    let mut addresses = None;
    for _ in 0..100 {
        if let (Some(admin), Some(api)) = (address_of("/health, /ready and /metrics"), address_of("from=")) {
            addresses = Some((admin, api));
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let (admin, api) = addresses.expect("the service did not report both listeners");
    let get = |addr, path: &str| {
        let request = format!("GET {path} HTTP/1.1\r\nHost: x\r\n\r\n");
        async move { support::send(addr, request.as_bytes()).await }
    };
    assert_eq!(get(admin, "/health").await.status, 200);
    assert_eq!(get(admin, "/ready").await.status, 200);
    let metrics = get(admin, "/metrics").await;
    assert_eq!(metrics.status, 200);
    assert!(metrics.text().ends_with("# EOF\n"), "{}", metrics.text());
    assert_eq!(get(admin, "/check_password?user=romeo&pass=iheartjuliet").await.status, 404);
    // On the API listener they are ordinary paths again, behind the credentials.
    assert_eq!(get(api, "/health").await.status, 401);
    let authorized = "GET /health HTTP/1.1\r\nHost: x\r\nAuthorization: Basic cHJvc29keTpzZWNyZXQ=\r\n\r\n";
    assert_eq!(support::send(api, authorized.as_bytes()).await.status, 501);
}
