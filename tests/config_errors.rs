//! The real binary's answer to a configuration it cannot use: exit status
//! 78, and for each mistake the key, where its value came from, what was
//! given and the form expected, in the administrator's words and never in
//! serde's.

use std::process::Command;

const BINARY: &str = env!("CARGO_BIN_EXE_auth-http-ldap");

/// A base that every case but the DN ones leaves alone.
const USERS: &str = "[users]\nbase_dn = \"ou=people,dc=example,dc=com\"\n";

/// `check-config` on `text`, with `envs` set: exit status, stdout, stderr.
fn check_config(text: &str, envs: &[(&str, &str)]) -> (i32, String, String) {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("config.toml");
    std::fs::write(&path, text).unwrap();
    let output = Command::new(BINARY)
        .args(["check-config", "--config"])
        .arg(&path)
        .envs(envs.iter().copied())
        .output()
        .expect("run binary");
    (
        output.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&output.stdout).into_owned(),
        String::from_utf8_lossy(&output.stderr).into_owned(),
    )
}

/// The problems reported for `text`, after asserting that the binary
/// refused it as a configuration error and said nothing of serde.
fn refused(text: &str, envs: &[(&str, &str)]) -> Vec<String> {
    let (code, out, err) = check_config(text, envs);
    assert_eq!(code, 78, "{text}\n{err}");
    assert!(out.is_empty(), "{out}");
    for word in ["untagged", "variant", "OneOrMany"] {
        assert!(!err.contains(word), "{word} in:\n{err}");
    }
    let mut lines = err.lines();
    assert!(lines.next().is_some_and(|first| first.contains("is not a usable configuration")), "{err}");
    lines.map(str::to_owned).collect()
}

/// The one problem reported for `text`, which must start with `key`
/// (and where it came from) and contain each of `words`.
fn one_problem(text: &str, key: &str, words: &[&str]) {
    let problems = refused(text, &[]);
    assert_eq!(problems.len(), 1, "{problems:#?}");
    let problem = &problems[0];
    assert!(problem.starts_with(&format!("{key} (from ")), "{key} not named: {problem}");
    for word in words {
        assert!(problem.contains(word), "{word:?} missing: {problem}");
    }
}

#[test]
fn ldap_urls_are_named_with_the_forms_expected() {
    let expected = "expected ldap://, ldaps:// or ldapi://, e.g. ldaps://dc1.corp.example:636";
    one_problem(
        &format!("{USERS}[ldap]\nurl = \"htp://host\"\n"),
        "ldap.url",
        &["`htp://host` is not an LDAP URL", expected],
    );
    one_problem(
        &format!("{USERS}[ldap]\nurl = \"\"\n"),
        "ldap.url",
        &["is empty", "ldaps://dc1.corp.example:636"],
    );
    one_problem(
        &format!("{USERS}[ldap]\nurl = [\"ldaps://dc1.example.com\", \"ldaps://dc2.example.com:99999\"]\n"),
        "ldap.url",
        &["port 99999 in `ldaps://dc2.example.com:99999` is out of range", "1 to 65535"],
    );
}

#[test]
fn listen_addresses_are_named_with_the_forms_expected() {
    one_problem(
        &format!("{USERS}[http]\nlisten = \"127.0.0.1:99999\"\n"),
        "http.listen",
        &["port 99999", "out of range", "e.g. 127.0.0.1:5281"],
    );
    one_problem(
        &format!("{USERS}[http]\nlisten = \"::1:5281\"\n"),
        "http.listen",
        &["`::1:5281`", "in brackets", "[::1]:5281"],
    );
    one_problem(
        &format!("{USERS}[http]\nlisten = \"nowhere.invalid:5281\"\n"),
        "http.listen",
        &["`nowhere.invalid`", "cannot be resolved", "e.g. 127.0.0.1:5281"],
    );
    one_problem(
        &format!("{USERS}[http]\nadmin_listen = \"127.0.0.1\"\n"),
        "http.admin_listen",
        &["`127.0.0.1` has no port", "127.0.0.1:5281"],
    );
}

#[test]
fn a_host_name_in_listen_is_resolved_and_shown() {
    let (code, out, err) = check_config(&format!("{USERS}[http]\nlisten = \"localhost:5281\"\n"), &[]);
    assert_eq!(code, 0, "{err}");
    // localhost is at least 127.0.0.1 on every machine, and ::1 on most.
    let listen = out.lines().find(|line| line.starts_with("listen = ")).unwrap_or_default();
    assert!(listen.contains("127.0.0.1:5281") && !listen.contains("localhost"), "{out}");
}

#[test]
fn malformed_dns_are_named_by_key() {
    one_problem(
        "[users]\nbase_dn = \"ou=people,,dc=example\"\n",
        "users.base_dn",
        &["`ou=people,,dc=example` has an empty part between two commas", "expected a DN such as"],
    );
    one_problem(
        &format!("{USERS}[ldap]\nbind_dn = \"CN=Smith, John,CN=Users,DC=corp\"\nbind_password = \"x\"\n"),
        "ldap.bind_dn",
        &["a part without `=` (`John`)", r"CN=Smith\, John"],
    );
    one_problem(
        &format!("{USERS}require_group = \"cn=xmpp users;dc=example\"\n"),
        "users.require_group",
        &["unescaped `;`", "cn=xmpp-users,ou=groups,dc=example,dc=com"],
    );
    one_problem(
        &format!(
            "{USERS}[hosts.\"example.com\"]\nusers = {{ bind_dn_template = \"uid={{user}},ou=people,\" }}\n"
        ),
        "hosts.example.com.users.bind_dn_template",
        &["`uid={user},ou=people,` ends with a comma", "uid={user},ou=people,dc=example,dc=com"],
    );
    one_problem(
        &format!(
            "{USERS}[operations]\nregister = true\n[register]\ndn = \"uid={{user}},ou=people,dc=example,dc=com\\\\\"\n"
        ),
        "register.dn",
        &["ends with a lone backslash"],
    );
}

#[test]
fn active_directory_dns_pass() {
    let text = "[ldap]\ndirectory = \"active-directory\"\nurl = \"ldaps://dc1.example.com\"\n\
                bind_dn = \"CN=Smith\\\\, John,OU=Service Accounts,DC=example,DC=com\"\nbind_password = \"x\"\n\
                [users]\nbase_dn = \"CN=Users,DC=example,DC=com\"\n\
                require_group = \"CN=XMPP Users,OU=Groups,DC=example,DC=com\"\n\
                bind_dn_template = \"CN={user},CN=Users,DC=example,DC=com\"\n";
    let (code, out, err) = check_config(text, &[]);
    assert_eq!(code, 0, "{err}");
    assert!(out.contains(r"bind_dn = 'CN=Smith\, John,OU=Service Accounts,DC=example,DC=com'"), "{out}");
}

#[test]
fn a_missing_password_file_is_the_only_error() {
    one_problem(
        &format!(
            "{USERS}[ldap]\nbind_dn = \"cn=svc,dc=example,dc=com\"\nbind_password_file = \"/nonexistent/ldap-password\"\n"
        ),
        "ldap.bind_password_file",
        &["cannot read /nonexistent/ldap-password"],
    );
}

#[test]
fn a_value_from_the_environment_names_its_variable() {
    let problems = refused(USERS, &[("AUTH_HTTP_LDAP_LDAP__URL", "htp://host")]);
    assert_eq!(problems.len(), 1, "{problems:#?}");
    assert!(
        problems[0].starts_with(
            "ldap.url (from environment variable AUTH_HTTP_LDAP_LDAP__URL): `htp://host` is not an LDAP URL"
        ),
        "{problems:#?}"
    );
    let problems = refused(USERS, &[("AUTH_HTTP_LDAP_USERS__BASE_DN", "ou=people,,dc=example")]);
    assert!(
        problems[0].starts_with("users.base_dn (from environment variable AUTH_HTTP_LDAP_USERS__BASE_DN)")
            && problems[0].contains("empty part between two commas"),
        "{problems:#?}"
    );
}
