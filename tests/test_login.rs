//! `auth-http-ldap test-login`: the real binary against a real slapd, the
//! password on standard input, every step printed and the answer last.

mod support;

use support::pki::Pki;
use support::slapd::Tls;
use support::{Slapd, test_login};

fn last_line(out: &str) -> &str {
    out.lines().last().unwrap_or_default()
}

#[test]
fn a_right_password_shows_every_step_and_exits_0() {
    let slapd = Slapd::start();
    let config = support::config(&slapd, "");
    let (code, out, err) = test_login(&config, &["romeo"], "iheartjuliet");
    assert_eq!(code, 0, "{out}\n{err}");
    for step in [
        "settings: the same for every XMPP domain",
        &format!("connecting to {} (the first in ldap.url)", slapd.url()),
        "bound as the service account, cn=auth-http-ldap,ou=services,dc=example,dc=com",
        "search under \"ou=people,dc=example,dc=com\", scope sub, filter (&(objectClass=inetOrgPerson)(uid=romeo)): 1 entry (success)",
        "uid=romeo,ou=people,dc=example,dc=com",
        "bind as uid=romeo,ou=people,dc=example,dc=com: result code 0 (success)",
        "login guard: nothing against this login",
    ] {
        assert!(out.contains(step), "missing {step:?} in:\n{out}");
    }
    assert_eq!(last_line(&out), "Prosody would get 200 true: the password is right", "{out}");
}

#[test]
fn each_refusal_is_named_and_exits_1() {
    let slapd = Slapd::start();
    let config = support::config(&slapd, "");
    let (code, out, _) = test_login(&config, &["romeo"], "wrong");
    assert_eq!(code, 1, "{out}");
    assert!(out.contains("result code 49 (invalidCredentials)"), "{out}");
    assert_eq!(last_line(&out), "Prosody would get 200 false: invalid credentials", "{out}");

    let (code, out, _) = test_login(&config, &["nobody"], "whatever");
    assert_eq!(code, 1, "{out}");
    assert!(out.contains("no entry matches"), "{out}");
    assert_eq!(last_line(&out), "Prosody would get 200 false: unknown user", "{out}");

    // A hostile name is escaped once, and so matches nothing.
    let (code, out, _) = test_login(&config, &["*)(uid=*"], "whatever");
    assert_eq!(code, 1, "{out}");
    assert!(out.contains("(uid=\\2a\\29\\28uid=\\2a)"), "the filter as sent:\n{out}");

    let (code, out, _) = test_login(&config, &["romeo"], "");
    assert_eq!(code, 1, "{out}");
    assert!(!out.contains("connecting to"), "an empty password reached the directory:\n{out}");
    assert_eq!(last_line(&out), "Prosody would get 200 false: empty password", "{out}");

    let group = "[users]\nrequire_group = \"cn=xmpp,ou=groups,dc=example,dc=com\"";
    let config = support::config(&slapd, group);
    let (code, out, _) = test_login(&config, &["juliet"], "romeo4ever");
    assert_eq!(code, 1, "{out}");
    assert!(out.contains("group check, cn=xmpp,ou=groups,dc=example,dc=com directly: not a member"), "{out}");
    assert_eq!(last_line(&out), "Prosody would get 200 false: not a member of users.require_group", "{out}");
}

#[test]
fn several_matching_entries_are_named() {
    let slapd = Slapd::start();
    let config = support::config(&slapd, "[users]\nfilter = \"(|(uid={user})(uid=juliet))\"");
    let (code, out, _) = test_login(&config, &["romeo"], "iheartjuliet");
    assert_eq!(code, 1, "{out}");
    assert!(out.contains("2 entries"), "{out}");
    assert_eq!(last_line(&out), "Prosody would get 200 false: several entries match the user name", "{out}");
}

#[test]
fn password_policy_states_are_decoded() {
    let slapd = Slapd::start_with_ppolicy();
    let config = support::config(&slapd, "");
    let (code, out, _) = test_login(&config, &["locked"], "locked-pass");
    assert_eq!(code, 1, "{out}");
    assert!(out.contains("password policy: account locked (password policy)"), "{out}");
    assert_eq!(last_line(&out), "Prosody would get 200 false: account locked (password policy)", "{out}");
}

#[test]
fn an_unreachable_server_is_named_and_exits_2() {
    let slapd = Slapd::start();
    let port = support::slapd::free_port();
    let url = format!("ldap://127.0.0.1:{port}");
    let config = support::config(&slapd, &format!("[ldap]\nurl = \"{url}\""));
    let (code, out, _) = test_login(&config, &["romeo"], "iheartjuliet");
    assert_eq!(code, 2, "{out}");
    assert!(out.contains(&format!("connecting to {url}")), "{out}");
    assert!(last_line(&out).starts_with("Prosody would get 503 the directory did not answer: "), "{out}");
    assert!(last_line(&out).contains(&url) && last_line(&out).contains("could not connect"), "{out}");
}

#[test]
fn tls_says_what_the_server_presented_and_why_it_is_trusted() {
    let pki = Pki::new();
    let slapd = Slapd::start_tcp(Some(Tls { pki: &pki, require_client_certificate: false }));
    let ldap =
        format!("[ldap]\nurl = \"{}\"\nca_file = \"{}\"", slapd.ldaps_url(), pki.path("ca.pem").display());
    let (code, out, _) = test_login(&support::config(&slapd, &ldap), &["romeo"], "iheartjuliet");
    assert_eq!(code, 0, "{out}");
    assert!(
        out.contains(
            "TLS: 127.0.0.1 presented subject \"CN=127.0.0.1\", issued by \"CN=auth-http-ldap test CA\""
        ),
        "{out}"
    );
    assert!(
        out.contains("trusted, as it chains to a certificate in ldap.ca_file, and it names 127.0.0.1"),
        "{out}"
    );

    let wrong = format!(
        "[ldap]\nurl = \"{}\"\nca_file = \"{}\"",
        slapd.ldaps_url(),
        pki.path("other-ca.pem").display()
    );
    let (code, out, _) = test_login(&support::config(&slapd, &wrong), &["romeo"], "iheartjuliet");
    assert_eq!(code, 2, "{out}");
    assert!(
        out.contains(
            "the certificate of 127.0.0.1 was refused: not signed by any certificate in ldap.ca_file"
        ),
        "{out}"
    );
}

#[test]
fn hosts_tables_need_the_domain() {
    let slapd = Slapd::start();
    let hosts = format!(
        "[hosts.\"example.com\".users]\nbase_dn = \"{}\"\n[hosts.\"example.org\".users]\nbase_dn = \"{}\"",
        support::slapd::PEOPLE,
        support::slapd::PEOPLE
    );
    let config = support::config(&slapd, &hosts);
    let (code, _, err) = test_login(&config, &["romeo"], "iheartjuliet");
    assert_eq!(code, 64, "{err}");
    assert!(err.contains("--server") && err.contains("example.com, example.org"), "{err}");
    let (code, out, _) = test_login(&config, &["romeo", "--server", "example.org"], "iheartjuliet");
    assert_eq!(code, 0, "{out}");
    assert!(out.contains("settings: the [hosts.\"example.org\"] table"), "{out}");
}
