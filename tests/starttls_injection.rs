//! StartTLS command injection (CVE-2011-0411): someone on the network path
//! appends forged successful BindResponses to the server's StartTLS answer.
//! Nothing read in clear text may be taken for an answer over TLS, and a
//! server that sent anything after its StartTLS answer is refused: a wrong
//! password never logs in. (A directory that cannot do StartTLS at all:
//! tests/tls.rs.)

mod support;

use support::Bridge;
use support::hostile_ldap::{HostileLdap, Injection};
use support::pki::Pki;

/// What the log must say when a server is refused for bytes after its
/// StartTLS answer.
const REFUSAL: &str = "after its StartTLS answer";

const PEOPLE: &str = "ou=people,dc=example,dc=com";

/// StartTLS to `server`, trusting the test CA, with no service account: a
/// login is one bind of the user's own DN, the operation the forged answers
/// are numbered for. Neither login guard answers in the directory's place.
fn config(server: &HostileLdap, pki: &Pki) -> String {
    format!(
        r#"
[http]
listen = "127.0.0.1:0"
request_timeout = "3s"
[ldap]
url = "{url}"
starttls = true
ca_file = "{ca}"
connect_timeout = "1s"
timeout = "1s"
[users]
base_dn = "{PEOPLE}"
bind_dn_template = "uid={{user}},{PEOPLE}"
[logins]
max_failures_per_user = 0
remember_failed_for = "0s"
"#,
        url = server.url(),
        ca = pki.path("ca.pem").display(),
    )
}

#[tokio::test]
async fn forged_answers_behind_the_starttls_answer_never_log_in() {
    let (_capture, logs) = support::capture_logs();
    let pki = Pki::new();
    let server = HostileLdap::start(&pki, Injection::SameWrite).await;
    let bridge = Bridge::start(&config(&server, &pki)).await;
    let mut answers = Vec::new();
    for (user, password) in [("romeo", "wrong"), ("romeo", "also wrong"), ("juliet", "not hers either")] {
        let answer = bridge.check_password(user, password).await;
        answers.push((answer.status, String::from_utf8_lossy(&answer.body).into_owned()));
    }
    let seen = server.seen();
    assert!(
        answers.iter().all(|(_, body)| body != "true"),
        "a wrong password logged in: {answers:?}\n{seen:?}"
    );
    // Every attempt met the forgery: none was spared by a connection kept open.
    assert!(seen.starttls_answered >= 3, "{seen:?}");
    assert!(answers.iter().all(|(status, _)| *status == 503), "{answers:?}\n{seen:?}");
    let log = logs.text();
    assert!(log.contains(REFUSAL), "the log does not say why the server was refused:\n{log}");
}

/// The same server without the forged answers: TLS is set up and the wrong
/// password is refused by the server, so what the test above sees is the
/// injection's doing, and not a server the service could not talk to.
#[tokio::test]
async fn the_same_server_without_the_forgery_refuses_the_password() {
    let (_capture, logs) = support::capture_logs();
    let pki = Pki::new();
    let server = HostileLdap::start(&pki, Injection::None).await;
    let bridge = Bridge::start(&config(&server, &pki)).await;
    bridge.check_password("romeo", "wrong").await.assert_answer(false);
    // Past 127 octets the request's length takes the long form, which the
    // server must read as well as the short one.
    let long = "x".repeat(300);
    bridge.check_password("romeo", &long).await.assert_answer(false);
    let seen = server.seen();
    assert_eq!(seen.forgeries_sent, 0, "{seen:?}");
    assert!(seen.starttls_answered >= 1 && seen.handshakes >= 1, "{seen:?}");
    assert_eq!(seen.binds_refused, 2, "{seen:?}");
    assert!(!logs.text().contains(REFUSAL), "an honest server was refused:\n{}", logs.text());
}

/// Forged answers in a write of their own, after the client has started its
/// handshake: they arrive where the server's first TLS record should be.
#[tokio::test]
async fn forged_answers_during_the_handshake_never_log_in() {
    let pki = Pki::new();
    let server = HostileLdap::start(&pki, Injection::AfterClientHello).await;
    let bridge = Bridge::start(&config(&server, &pki)).await;
    for password in ["wrong", "also wrong", "still wrong"] {
        let answer = bridge.check_password("romeo", password).await;
        let seen = server.seen();
        assert!(answer.body != b"true", "a wrong password logged in: {answer:?}\n{seen:?}");
        assert_eq!(answer.status, 503, "{answer:?}\n{seen:?}");
    }
    let seen = server.seen();
    assert!(seen.forgeries_sent >= 3, "{seen:?}");
    assert_eq!(seen.binds_refused, 0, "a bind went over a handshake that should have failed: {seen:?}");
}
