//! The HTTP rules of the protocol: routing, methods, parameters, limits,
//! API credentials and the status of every kind of failure.

mod support;

use base64::Engine;
use support::{Bridge, Slapd};

#[tokio::test]
async fn any_prefix_routes_on_the_last_segment() {
    let slapd = Slapd::start();
    let bridge = Bridge::for_directory(&slapd, "").await;
    for prefix in ["", "/auth", "/example.com", "/auth/", "//", "/a/b/c"] {
        bridge
            .get(&format!("{prefix}/check_password?user=romeo&pass=iheartjuliet&server=example.com"))
            .await
            .assert_answer(true);
    }
}

#[tokio::test]
async fn prosody_13s_requests_work_too() {
    let slapd = Slapd::start();
    let bridge = Bridge::for_directory(&slapd, "").await;
    // Prosody 13 fixed the Content-Type and adds Connection: close.
    let body = "user=romeo&pass=iheartjuliet&server=example.com";
    let reply = bridge
        .raw(&format!(
            "POST /auth/check_password HTTP/1.1\r\nHost: x\r\nUser-Agent: Prosody XMPP Server\r\nConnection: close\r\n\
             Content-Type: application/x-www-form-urlencoded\r\nContent-Length: {}\r\n\r\n{body}",
            body.len()
        ))
        .await;
    reply.assert_answer(true);
    let reply = bridge
        .raw("GET /auth/user_exists?user=juliet&server=example.com HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
        .await;
    reply.assert_answer(true);
}

#[tokio::test]
async fn a_client_too_slow_with_its_body_gets_408_not_503() {
    let slapd = Slapd::start();
    let overrides =
        "[http]\nrequest_timeout = \"700ms\"\n[ldap]\ntimeout = \"500ms\"\nconnect_timeout = \"500ms\"";
    let bridge = Bridge::for_directory(&slapd, overrides).await;
    // Ten bytes of a declared hundred, then silence.
    let reply =
        bridge.raw("POST /set_password HTTP/1.1\r\nHost: x\r\nContent-Length: 100\r\n\r\nuser=romeo").await;
    assert_eq!(reply.status, 408);
    bridge.check_password("romeo", "iheartjuliet").await.assert_answer(true);
}

#[tokio::test]
async fn requests_hyper_rejects_get_an_answer_and_the_server_goes_on() {
    let slapd = Slapd::start();
    let bridge = Bridge::for_directory(&slapd, "").await;
    let big =
        format!("GET /user_exists?user=romeo HTTP/1.1\r\nHost: x\r\nX-Big: {}\r\n\r\n", "a".repeat(1 << 20));
    assert_eq!(bridge.raw(&big).await.status, 431);
    // Past the 64 KB a connection may buffer, well below hyper's own 400 KB.
    let large =
        format!("GET /user_exists?user=romeo HTTP/1.1\r\nHost: x\r\nX-Big: {}\r\n\r\n", "a".repeat(100_000));
    assert_eq!(bridge.raw(&large).await.status, 431);
    assert_eq!(bridge.raw("NOT HTTP AT ALL\r\n\r\n").await.status, 400);
    bridge.user_exists("romeo").await.assert_answer(true);
}

#[tokio::test]
async fn other_methods_are_not_implemented() {
    let slapd = Slapd::start();
    let bridge = Bridge::for_directory(&slapd, "").await;
    for path in
        ["/get_password?user=romeo", "/users", "/", "/get_certs", "/check_password/x", "/CHECK_PASSWORD"]
    {
        assert_eq!(bridge.get(path).await.status, 501, "{path}");
        assert_eq!(bridge.post(path, "user=romeo").await.status, 501, "{path}");
    }
}

#[tokio::test]
async fn writes_over_get_are_refused_with_allow() {
    let slapd = Slapd::start();
    let bridge = Bridge::for_directory(&slapd, "").await;
    for method in ["register", "set_password", "remove_user"] {
        let reply = bridge.get(&format!("/{method}?user=romeo&pass=x&server=example.com")).await;
        assert_eq!(reply.status, 405, "{method}");
        assert_eq!(reply.header("allow"), Some("POST"));
    }
    bridge.check_password("romeo", "iheartjuliet").await.assert_answer(true);
    let reply =
        bridge.raw("PUT /check_password?user=romeo HTTP/1.1\r\nHost: x\r\nContent-Length: 0\r\n\r\n").await;
    assert_eq!(reply.status, 405);
    assert_eq!(reply.header("allow"), Some("GET, POST"));
}

#[tokio::test]
async fn missing_and_malformed_parameters_are_bad_requests() {
    let slapd = Slapd::start();
    let bridge = Bridge::for_directory(&slapd, "").await;
    assert_eq!(bridge.get("/check_password?pass=x&server=example.com").await.status, 400);
    assert_eq!(bridge.get("/check_password?user=romeo&server=example.com").await.status, 400);
    assert_eq!(bridge.get("/user_exists?server=example.com").await.status, 400);
    assert_eq!(bridge.post("/register", "user=new&server=example.com").await.status, 400);
    assert_eq!(bridge.post("/set_password", "user=romeo&server=example.com").await.status, 400);
    assert_eq!(bridge.post("/remove_user", "server=example.com").await.status, 400);
    // Repeated, and invalid UTF-8: which value was meant cannot be known.
    assert_eq!(bridge.get("/check_password?user=romeo&user=juliet&pass=iheartjuliet").await.status, 400);
    assert_eq!(bridge.get("/check_password?user=romeo&pass=%ff").await.status, 400);
    // A stray percent sign is a literal, as in any form decoder.
    bridge.get("/check_password?user=romeo&pass=%zz&server=example.com").await.assert_answer(false);
    bridge.user_exists("romeo").await.assert_answer(true);
}

#[tokio::test]
async fn bodies_over_the_limit_are_refused() {
    let slapd = Slapd::start();
    let bridge = Bridge::for_directory(&slapd, "[http]\nmax_body_bytes = 100").await;
    let big = format!("user=romeo&server=example.com&pass={}", "x".repeat(200));
    assert_eq!(bridge.post("/set_password", &big).await.status, 413);
    // Without a declared length the limit is counted while reading.
    let chunk = format!("{:x}\r\n{big}\r\n0\r\n\r\n", big.len());
    let reply = bridge
        .raw(&format!("POST /set_password HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n{chunk}"))
        .await;
    assert_eq!(reply.status, 413);
    bridge.check_password("romeo", "iheartjuliet").await.assert_answer(true);
    // A megabyte body is refused too, and the password did not change.
    let huge = format!("user=romeo&server=example.com&pass={}", "x".repeat(1 << 20));
    let reply = bridge
        .raw(&format!("POST /set_password HTTP/1.1\r\nHost: x\r\nContent-Length: {}\r\n\r\n", huge.len()))
        .await;
    assert_eq!(reply.status, 413);
    bridge.check_password("romeo", "iheartjuliet").await.assert_answer(true);
}

#[tokio::test]
async fn api_credentials_are_required_when_configured() {
    let slapd = Slapd::start();
    let bridge = Bridge::for_directory(&slapd, "[http]\ncredentials = \"prosody:s3cr:et pass\"").await;
    let request = |authorization: &str| {
        format!(
            "GET /check_password?user=romeo&pass=iheartjuliet&server=example.com HTTP/1.1\r\nHost: x\r\n{authorization}\r\n"
        )
    };
    let basic = |credentials: &str| {
        format!("Authorization: Basic {}\r\n", base64::engine::general_purpose::STANDARD.encode(credentials))
    };

    let reply = bridge.raw(&request("")).await;
    assert_eq!(reply.status, 401);
    assert_eq!(reply.header("www-authenticate"), Some("Basic realm=\"auth-http-ldap\""));
    assert_eq!(bridge.raw(&request(&basic("prosody:s3cr"))).await.status, 401);
    assert_eq!(bridge.raw(&request(&basic("prosody:wrong"))).await.status, 401);
    assert_eq!(bridge.raw(&request(&basic("other:s3cr:et pass"))).await.status, 401);
    bridge.raw(&request(&basic("prosody:s3cr:et pass"))).await.assert_answer(true);
    // Every method, even an unsupported one, asks for credentials first.
    assert_eq!(bridge.get("/users").await.status, 401);
    assert_eq!(bridge.post("/remove_user", "user=romeo&server=example.com").await.status, 401);
    bridge.raw(&request(&basic("prosody:s3cr:et pass"))).await.assert_answer(true);
}

#[tokio::test]
async fn directory_errors_are_500_without_the_cause() {
    let slapd = Slapd::start();
    // A base DN that does not exist: the directory answers noSuchObject.
    let bridge = Bridge::for_directory(&slapd, "[users]\nbase_dn = \"ou=missing,dc=example,dc=com\"").await;
    let reply = bridge.check_password("romeo", "iheartjuliet").await;
    assert_eq!(reply.status, 500);
    assert_eq!(reply.text(), "directory error\n");
    // A service account with the wrong password.
    let bridge = Bridge::for_directory(&slapd, "[ldap]\nbind_password = \"wrong\"").await;
    let reply = bridge.user_exists("romeo").await;
    assert_eq!(reply.status, 500);
    assert!(!reply.text().contains("49") && !reply.text().contains("cn="));
}
