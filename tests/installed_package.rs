//! The installed Debian package, as an administrator uses it: the shipped
//! configuration edited for a real slapd, both secrets stored as encrypted
//! systemd credentials the way the README says, `check-config --online`,
//! and the installed binary answering logins. scripts/test-package installs
//! the package, runs this as root, and then upgrades and purges it.
#![cfg(feature = "installed-package")]

mod support;

use std::io::Write;
use std::process::{Command, Stdio};

use support::slapd::{SERVICE_DN, SERVICE_PASSWORD};
use support::{RunningBinary, Slapd, encode};

const BINARY: &str = "/usr/sbin/auth-http-ldap";
const CONFIG: &str = "/etc/auth-http-ldap/config.toml";
const STORE: &str = "/etc/credstore.encrypted";
const API_CREDENTIALS: &str = "prosody:installed-secret";

/// `systemd-creds encrypt`, the secret on standard input, as the README's
/// install steps pipe it from `systemd-ask-password -n`.
fn store_credential(name: &str, secret: &str) {
    std::fs::create_dir_all(STORE).unwrap();
    let mut child = Command::new("systemd-creds")
        .args(["encrypt", &format!("--name={name}"), "-", &format!("{STORE}/{name}")])
        .stdin(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("systemd-creds");
    child.stdin.take().unwrap().write_all(secret.as_bytes()).unwrap();
    let output = child.wait_with_output().unwrap();
    assert!(output.status.success(), "{}", String::from_utf8_lossy(&output.stderr));
    let stored = std::fs::read(format!("{STORE}/{name}")).unwrap();
    assert!(!stored.windows(secret.len()).any(|w| w == secret.as_bytes()), "{name} is stored in clear");
}

/// The shipped configuration, edited as the administrator would: the
/// directory's address, the service account's DN uncommented, and a free
/// port. Everything else stays as shipped.
fn edit_installed_config(slapd: &Slapd) {
    let shipped = std::fs::read_to_string(CONFIG).unwrap();
    let edited = shipped
        .replacen("url = \"ldap://127.0.0.1:389\"", &format!("url = \"{}\"", slapd.url()), 1)
        .replacen(&format!("# bind_dn = \"{SERVICE_DN}\""), &format!("bind_dn = \"{SERVICE_DN}\""), 1)
        .replacen("listen = \"127.0.0.1:5281\"", "listen = \"127.0.0.1:0\"", 1);
    for edit in [slapd.url(), format!("\nbind_dn = \"{SERVICE_DN}\""), "127.0.0.1:0".to_owned()] {
        assert!(
            edited.contains(&edit),
            "the shipped configuration no longer has the line to edit for {edit}"
        );
    }
    std::fs::write(CONFIG, edited).unwrap();
}

fn run(args: &[&str]) -> (i32, String, String) {
    let output = Command::new(BINARY).args(args).output().expect("the installed binary runs");
    let text = |bytes: &[u8]| String::from_utf8_lossy(bytes).into_owned();
    (output.status.code().unwrap_or(-1), text(&output.stdout), text(&output.stderr))
}

#[tokio::test]
async fn the_installed_service_answers_logins_from_its_edited_configuration() {
    let (code, out, err) = run(&["check-config"]);
    assert_eq!(code, 0, "the shipped configuration does not pass check-config:\n{err}");
    assert!(out.contains(&format!("# {CONFIG} is valid.")), "{out}");

    let slapd = Slapd::start();
    edit_installed_config(&slapd);
    store_credential("auth-http-ldap.ldap-password", SERVICE_PASSWORD);
    store_credential("auth-http-ldap.api-credentials", API_CREDENTIALS);

    // As root, check-config decrypts the credentials as the unit would pass them.
    let (code, out, err) = run(&["check-config", "--online"]);
    assert_eq!(code, 0, "{out}\n{err}");
    assert!(!out.contains("installed-secret") && !out.contains(SERVICE_PASSWORD), "{out}");

    let log = tempfile::tempdir().unwrap();
    let service = RunningBinary::start_binary(BINARY, CONFIG.as_ref(), &log.path().join("service.log"), &[]);
    let address = service.api_address().await;
    let login = |password: &str, credentials: &str| {
        use base64::Engine;
        let basic = base64::engine::general_purpose::STANDARD.encode(credentials);
        format!(
            "GET /check_password?user=romeo&pass={}&server=example.com HTTP/1.1\r\nHost: x\r\n\
             Authorization: Basic {basic}\r\n\r\n",
            encode(password)
        )
    };
    support::send(address, login("iheartjuliet", API_CREDENTIALS).as_bytes()).await.assert_answer(true);
    support::send(address, login("wrong", API_CREDENTIALS).as_bytes()).await.assert_answer(false);
    let refused = support::send(address, login("iheartjuliet", "prosody:wrong").as_bytes()).await;
    assert_eq!(refused.status, 401, "{}", service.log());
    assert!(!service.log().contains("iheartjuliet"), "{}", service.log());

    // test-login reads the same credentials.
    let mut child = Command::new(BINARY)
        .args(["test-login", "romeo"])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .spawn()
        .unwrap();
    child.stdin.take().unwrap().write_all(b"iheartjuliet\n").unwrap();
    let output = child.wait_with_output().unwrap();
    assert_eq!(output.status.code(), Some(0), "{}", String::from_utf8_lossy(&output.stdout));
}
