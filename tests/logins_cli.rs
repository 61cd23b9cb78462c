//! `auth-http-ldap logins show|clear USER`, the real binary against the real
//! service: it finds the admin listener in the configuration, says what the
//! login guard holds in words, clears it, and fails clearly when the admin
//! listener is not configured or not there.

mod support;

use std::net::SocketAddr;
use std::path::Path;
use std::process::Command;
use std::time::Duration;

use support::slapd::free_port;
use support::{RunningBinary, Slapd};

const BINARY: &str = env!("CARGO_BIN_EXE_auth-http-ldap");

/// Exit status, standard output and standard error of the command.
fn logins(config: &Path, args: &[&str]) -> (i32, String, String) {
    let output = Command::new(BINARY)
        .arg("--config")
        .arg(config)
        .arg("logins")
        .args(args)
        .output()
        .expect("run binary");
    let text = |bytes: Vec<u8>| String::from_utf8_lossy(&bytes).into_owned();
    (output.status.code().unwrap_or(-1), text(output.stdout), text(output.stderr))
}

fn write_config(dir: &tempfile::TempDir, text: &str) -> std::path::PathBuf {
    let path = dir.path().join("config.toml");
    std::fs::write(&path, text).unwrap();
    path
}

async fn check_password(api: SocketAddr, password: &str) -> support::Reply {
    let request = format!(
        "GET /check_password?user=romeo&pass={password}&server=example.com HTTP/1.1\r\nHost: x\r\n\r\n"
    );
    support::send(api, request.as_bytes()).await
}

/// Waits until the admin listener answers.
async fn wait_for_admin(service: &RunningBinary, admin: SocketAddr) {
    for _ in 0..200 {
        if tokio::net::TcpStream::connect(admin).await.is_ok() {
            return;
        }
        tokio::time::sleep(Duration::from_millis(25)).await;
    }
    panic!("the admin listener did not open:\n{}", service.log());
}

#[tokio::test]
async fn show_and_clear_a_users_state_on_the_running_service() {
    let slapd = Slapd::start();
    let dir = tempfile::tempdir().unwrap();
    let admin: SocketAddr = format!("127.0.0.1:{}", free_port()).parse().unwrap();
    let overrides = format!(
        "[http]\nadmin_listen = \"{admin}\"\n[logins]\nmax_failures_per_user = 2\nremember_failed_for = \"5m\""
    );
    let config = write_config(&dir, &support::config(&slapd, &overrides));
    let service = RunningBinary::start(&config, &[]);
    let api = service.api_address().await;
    wait_for_admin(&service, admin).await;

    let (code, out, err) = logins(&config, &["show", "romeo"]);
    assert_eq!(
        (code, out.as_str(), err.as_str()),
        (0, "romeo: nothing held; the next login goes to the directory.\n", "")
    );

    for guess in ["guess-one", "guess-two"] {
        check_password(api, guess).await.assert_answer(false);
    }
    check_password(api, "iheartjuliet").await.assert_answer(false);
    let (code, out, err) = logins(&config, &["show", "romeo", "--server", "example.com"]);
    assert_eq!((code, err.as_str()), (0, ""), "{out}");
    assert!(out.starts_with("romeo in example.com: held\n"), "{out}");
    assert!(out.contains("failed logins counted: 2 of a budget of 2, the last at "), "{out}");
    assert!(out.contains("every new password is answered false without the directory until "), "{out}");
    assert!(out.contains("wrong passwords answered false without the directory while retried: 2"), "{out}");
    assert!(!out.contains("guess"), "{out}");

    let (code, out, _) = logins(&config, &["clear", "romeo"]);
    assert_eq!(code, 0, "{out}");
    assert!(out.starts_with("romeo in example.com: cleared\n"), "{out}");
    assert!(out.ends_with("The next login goes to the directory.\n"), "{out}");
    check_password(api, "iheartjuliet").await.assert_answer(true);
    let (code, out, _) = logins(&config, &["clear", "romeo", "--server", "example.com"]);
    assert_eq!(
        (code, out.as_str()),
        (0, "romeo in example.com: nothing to clear; the next login goes to the directory.\n")
    );

    // A name the service refuses: its reason, and a failure.
    let (code, out, err) = logins(&config, &["show", ""]);
    assert_eq!((code, out.as_str()), (1, ""));
    assert!(err.contains("refused the request (400 Bad Request): the user name is empty"), "{err}");
    // The administrator's actions are in the service's log, without passwords.
    for _ in 0..200 {
        if service.log().contains("login guard state") {
            break;
        }
        tokio::time::sleep(Duration::from_millis(25)).await;
    }
    assert!(service.log().contains("login guard state"), "{}", service.log());
    assert!(!service.log().contains("guess-one"), "{}", service.log());
}

#[tokio::test]
async fn without_an_admin_listener_it_says_which_key_to_set() {
    let slapd = Slapd::start();
    let dir = tempfile::tempdir().unwrap();
    let config = write_config(&dir, &support::config(&slapd, ""));
    let (code, out, err) = logins(&config, &["show", "romeo"]);
    assert_eq!((code, out.as_str()), (78, ""));
    assert!(err.contains("http.admin_listen is not set"), "{err}");
}

#[tokio::test]
async fn a_service_that_is_not_there_is_named() {
    let slapd = Slapd::start();
    let dir = tempfile::tempdir().unwrap();
    let admin = format!("127.0.0.1:{}", free_port());
    let config = write_config(&dir, &support::config(&slapd, &format!("[http]\nadmin_listen = \"{admin}\"")));
    let (code, out, err) = logins(&config, &["clear", "romeo"]);
    assert_eq!((code, out.as_str()), (69, ""));
    assert!(
        err.contains(&format!("could not connect to the admin listener at {admin} (http.admin_listen)")),
        "{err}"
    );
}
