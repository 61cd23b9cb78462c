//! Secrets from systemd credentials: the unit hands them over in
//! `$CREDENTIALS_DIRECTORY`, and a key set in the file wins over its
//! credential.

mod support;

use support::slapd::SERVICE_PASSWORD;
use support::{RunningBinary, Slapd, encode};

const ROMEO_PASSWORD: &str = "iheartjuliet";

const BINARY: &str = env!("CARGO_BIN_EXE_auth-http-ldap");

/// The tests' configuration without the two secrets, which then come from
/// the credentials.
fn config_without_secrets(slapd: &Slapd) -> toml::Table {
    let mut table: toml::Table = support::config(slapd, "").parse().unwrap();
    table["ldap"].as_table_mut().unwrap().remove("bind_password");
    table
}

fn credentials(dir: &tempfile::TempDir, ldap_password: &str, api: &str) -> std::path::PathBuf {
    let passed = dir.path().join("credentials");
    std::fs::create_dir(&passed).unwrap();
    std::fs::write(passed.join("auth-http-ldap.ldap-password"), ldap_password).unwrap();
    std::fs::write(passed.join("auth-http-ldap.api-credentials"), api).unwrap();
    passed
}

fn start(dir: &tempfile::TempDir, config: &toml::Table, passed: &std::path::Path) -> RunningBinary {
    let path = dir.path().join("config.toml");
    std::fs::write(&path, toml::to_string(config).unwrap()).unwrap();
    RunningBinary::start(&path, &[("CREDENTIALS_DIRECTORY", passed.to_str().unwrap())])
}

async fn check_password(address: std::net::SocketAddr, authorization: Option<&str>) -> support::Reply {
    let auth = authorization.map(|value| format!("Authorization: Basic {value}\r\n")).unwrap_or_default();
    let request = format!(
        "GET /check_password?user=romeo&pass={}&server=example.com HTTP/1.1\r\nHost: x\r\n{auth}\r\n",
        encode(ROMEO_PASSWORD)
    );
    support::send(address, request.as_bytes()).await
}

fn basic(value: &str) -> String {
    use base64::Engine;
    base64::engine::general_purpose::STANDARD.encode(value)
}

#[tokio::test]
async fn both_secrets_come_from_the_credentials_systemd_passes() {
    let slapd = Slapd::start();
    let dir = tempfile::tempdir().unwrap();
    // As systemd-ask-password -n writes them, and one with the newline `echo` adds.
    let passed = credentials(&dir, SERVICE_PASSWORD, "prosody:from-credential\n");
    let service = start(&dir, &config_without_secrets(&slapd), &passed);
    let address = service.api_address().await;

    assert_eq!(check_password(address, None).await.status, 401, "{}", service.log());
    let reply = check_password(address, Some(&basic("prosody:from-credential"))).await;
    // true needs the service account's search, with the password from its credential.
    reply.assert_answer(true);
}

#[tokio::test]
async fn a_key_set_in_the_file_wins_over_its_credential() {
    let slapd = Slapd::start();
    let dir = tempfile::tempdir().unwrap();
    let passed = credentials(&dir, "not-the-password", "prosody:from-credential");
    let mut config = config_without_secrets(&slapd);
    config["ldap"].as_table_mut().unwrap().insert("bind_password".into(), SERVICE_PASSWORD.into());
    config["http"].as_table_mut().unwrap().insert("credentials".into(), "prosody:from-file".into());
    let service = start(&dir, &config, &passed);
    let address = service.api_address().await;

    assert_eq!(check_password(address, Some(&basic("prosody:from-credential"))).await.status, 401);
    check_password(address, Some(&basic("prosody:from-file"))).await.assert_answer(true);
}

#[test]
fn a_missing_password_names_the_key_and_the_credential() {
    let slapd = Slapd::start();
    let dir = tempfile::tempdir().unwrap();
    let passed = dir.path().join("credentials");
    std::fs::create_dir(&passed).unwrap();
    let err = refused_by_check_config(&dir, &slapd, &passed);
    assert!(err.contains("ldap.bind_password") && err.contains("auth-http-ldap.ldap-password"), "{err}");
}

#[test]
fn an_empty_credential_is_refused_by_name() {
    let slapd = Slapd::start();
    let dir = tempfile::tempdir().unwrap();
    let passed = credentials(&dir, "\n", "prosody:x");
    let err = refused_by_check_config(&dir, &slapd, &passed);
    assert!(
        err.contains("the systemd credential auth-http-ldap.ldap-password") && err.contains("empty"),
        "{err}"
    );
}

/// Runs check-config on a configuration without secrets, with `passed` as the
/// unit's credentials, expects it to refuse, and returns what it said.
fn refused_by_check_config(dir: &tempfile::TempDir, slapd: &Slapd, passed: &std::path::Path) -> String {
    let path = dir.path().join("config.toml");
    std::fs::write(&path, toml::to_string(&config_without_secrets(slapd)).unwrap()).unwrap();
    let output = std::process::Command::new(BINARY)
        .args(["check-config", "--config", path.to_str().unwrap()])
        .env("CREDENTIALS_DIRECTORY", passed)
        .output()
        .unwrap();
    let err = String::from_utf8_lossy(&output.stderr).into_owned();
    assert_eq!(output.status.code(), Some(78), "{err}");
    err
}
