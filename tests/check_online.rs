//! `check-config --online` against a real slapd, the same checks logged at
//! start, and `/ready` that means a login could succeed.

mod support;

use std::io::{BufRead, BufReader};
use std::process::{Command, Stdio};
use std::sync::mpsc;
use std::time::Duration;

use support::pki::Pki;
use support::slapd::{PEOPLE, Tls};
use support::{Bridge, Slapd};

const BINARY: &str = env!("CARGO_BIN_EXE_auth-http-ldap");

/// `check-config --online` on `config`: its exit code, standard output and error.
fn check_online(config: &str) -> (i32, String, String) {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("config.toml");
    std::fs::write(&path, config).unwrap();
    let output = Command::new(BINARY)
        .args(["--config", path.to_str().unwrap(), "check-config", "--online"])
        .output()
        .expect("run the binary");
    let text = |bytes: &[u8]| String::from_utf8_lossy(bytes).into_owned();
    (output.status.code().unwrap_or(-1), text(&output.stdout), text(&output.stderr))
}

/// The lines the checks printed, after the configuration.
fn lines_of_checks(out: &str) -> Vec<&str> {
    out.lines().skip_while(|line| *line != "# Checked against the directory:").skip(1).collect()
}

#[test]
fn a_configuration_that_works_passes_every_check() {
    let slapd = Slapd::start();
    let config = support::config(&slapd, "[users]\nrequire_group = \"cn=xmpp,ou=groups,dc=example,dc=com\"");
    let (code, out, err) = check_online(&config);
    assert_eq!(code, 0, "{out}\n{err}");
    let checks = lines_of_checks(&out);
    let expected = [
        format!("ok       {}: connected in ", slapd.url()),
        format!("ok       {}: bound as the service account, cn=auth-http-ldap,ou=services,dc=example,dc=com", slapd.url()),
        format!("ok       users.base_dn: {PEOPLE} exists and the service account can read it"),
        "ok       users.filter: (&(objectClass=inetOrgPerson)(uid=*)) finds entries".to_owned(),
        "ok       users.require_group: cn=xmpp,ou=groups,dc=example,dc=com is a group the service account can read"
            .to_owned(),
        "ok       register.dn: ou=people,dc=example,dc=com exists, where register adds entries".to_owned(),
    ];
    for line in expected {
        assert!(checks.iter().any(|check| check.starts_with(&line)), "missing {line:?} in:\n{out}");
    }
    assert!(checks.iter().all(|check| check.starts_with("ok ")), "{out}");
}

#[test]
fn each_failure_names_the_key_to_change_and_exits_non_zero() {
    let slapd = Slapd::start();
    let wrong = "[users]\nbase_dn = \"ou=peple,dc=example,dc=com\"\nrequire_group = \"cn=nobody,ou=groups,dc=example,dc=com\"";
    let (code, out, err) = check_online(&support::config(&slapd, wrong));
    assert_eq!(code, 1, "{out}\n{err}");
    let checks = lines_of_checks(&out);
    assert!(
        checks.contains(&"FAILED   users.base_dn: ou=peple,dc=example,dc=com does not exist, or the service account cannot read it [change users.base_dn]"),
        "{out}"
    );
    assert!(
        checks.iter().any(|c| c.starts_with(
            "FAILED   users.require_group: cn=nobody,ou=groups,dc=example,dc=com does not exist"
        ) && c.ends_with("[change users.require_group]")),
        "{out}"
    );
    assert!(err.contains("checks failed"), "{err}");

    let (code, out, _) =
        check_online(&support::config(&slapd, "[users]\nfilter = \"(&(objectClass=device)(cn={user}))\""));
    assert_eq!(code, 1, "{out}");
    assert!(
        lines_of_checks(&out)
            .iter()
            .any(|c| c.contains("finds no entry") && c.ends_with("[change users.filter]")),
        "{out}"
    );

    let (code, out, _) = check_online(&support::config(&slapd, "[ldap]\nbind_password = \"wrong\""));
    assert_eq!(code, 1, "{out}");
    assert!(
        lines_of_checks(&out).iter().any(
            |c| c.contains("invalidCredentials") && c.ends_with("[change ldap.bind_dn and its password]")
        ),
        "{out}"
    );
}

#[test]
fn an_unreachable_server_fails_and_the_rest_is_not_guessed() {
    let slapd = Slapd::start();
    let url = format!("ldaps://127.0.0.1:{}", support::slapd::free_port());
    let (code, out, _) = check_online(&support::config(&slapd, &format!("[ldap]\nurl = \"{url}\"")));
    assert_eq!(code, 1, "{out}");
    let checks = lines_of_checks(&out);
    assert!(
        checks.iter().any(|c| c
            .starts_with(&format!("FAILED   {url}: directory unavailable: could not connect to {url}"))
            && c.ends_with("[change ldap.url]")),
        "{out}"
    );
    assert!(checks.iter().any(|c| c.contains("no directory server answered")), "{out}");
}

#[test]
fn tls_says_whom_it_trusted_and_warns_before_expiry() {
    let pki = Pki::new();
    let slapd = Slapd::start_tcp(Some(Tls { pki: &pki, require_client_certificate: false }));
    let ldap =
        format!("[ldap]\nurl = \"{}\"\nca_file = \"{}\"", slapd.ldaps_url(), pki.path("ca.pem").display());
    let (code, out, _) = check_online(&support::config(&slapd, &ldap));
    // The test certificates last two days: trusted, and warned about.
    assert_eq!(code, 0, "{out}");
    assert!(
        lines_of_checks(&out).iter().any(|c| c.starts_with(&format!(
            "warning  {}: TLS certificate trusted: subject \"CN=127.0.0.1\", issued by \"CN=auth-http-ldap test CA\"",
            slapd.ldaps_url()
        ))),
        "{out}"
    );
    let wrong = format!(
        "[ldap]\nurl = \"{}\"\nca_file = \"{}\"",
        slapd.ldaps_url(),
        pki.path("other-ca.pem").display()
    );
    let (code, out, _) = check_online(&support::config(&slapd, &wrong));
    assert_eq!(code, 1, "{out}");
    assert!(
        lines_of_checks(&out).iter().any(|c| c.contains("not signed by any certificate in ldap.ca_file")
            && c.ends_with("[change ldap.ca_file]")),
        "{out}"
    );
}

#[test]
fn the_service_warns_at_start_and_starts_anyway() {
    let slapd = Slapd::start();
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("config.toml");
    std::fs::write(&path, support::config(&slapd, "[users]\nbase_dn = \"ou=peple,dc=example,dc=com\""))
        .unwrap();
    let mut child = Command::new(BINARY)
        .args(["--config", path.to_str().unwrap()])
        .stderr(Stdio::piped())
        .spawn()
        .expect("start the binary");
    let (lines_tx, lines) = mpsc::channel::<String>();
    let stderr = child.stderr.take().unwrap();
    std::thread::spawn(move || {
        for line in BufReader::new(stderr).lines().map_while(Result::ok) {
            let _ = lines_tx.send(line);
        }
    });
    let (mut serving, mut warned) = (false, false);
    while !(serving && warned) {
        let Ok(line) = lines.recv_timeout(Duration::from_secs(10)) else { break };
        serving |= line.contains("serving");
        warned |= line
            .contains("directory check: FAILED   users.base_dn: ou=peple,dc=example,dc=com does not exist");
    }
    let _ = child.kill();
    let _ = child.wait();
    assert!(serving && warned, "serving: {serving}, warned: {warned}");
}

#[tokio::test]
async fn ready_means_a_login_could_succeed() {
    let slapd = Slapd::start();
    let bridge = Bridge::for_directory(&slapd, "").await;
    assert_eq!(bridge.get("/ready").await.status, 200);
    // The root DSE answers, but no one could log in.
    let bridge = Bridge::for_directory(&slapd, "[users]\nbase_dn = \"ou=peple,dc=example,dc=com\"").await;
    assert_eq!(bridge.get("/ready").await.status, 503);
}
