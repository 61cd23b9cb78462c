//! The real `auth-http-ldap` binary: its command line, its refusal of bad
//! configurations, and its logs, which must never carry a password, a query
//! string or a request body.

mod support;

use std::io::{BufRead, BufReader};
use std::process::{Command, Stdio};
use std::sync::mpsc;
use std::time::Duration;

use support::{Slapd, encode};

const BINARY: &str = env!("CARGO_BIN_EXE_auth-http-ldap");

fn run(args: &[&str], envs: &[(&str, &str)]) -> (i32, String, String) {
    let output = Command::new(BINARY).args(args).envs(envs.iter().copied()).output().expect("run binary");
    (
        output.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&output.stdout).into_owned(),
        String::from_utf8_lossy(&output.stderr).into_owned(),
    )
}

fn write_config(dir: &tempfile::TempDir, text: &str) -> String {
    let path = dir.path().join("config.toml");
    std::fs::write(&path, text).unwrap();
    path.display().to_string()
}

#[test]
fn help_and_version() {
    let (code, out, _) = run(&["--help"], &[]);
    assert_eq!(code, 0);
    assert!(out.contains("check-config") && out.contains("--config"), "{out}");
    let (code, out, _) = run(&["--version"], &[]);
    assert_eq!(code, 0);
    assert_eq!(out.trim(), format!("auth-http-ldap {}", env!("CARGO_PKG_VERSION")));
}

/// The man pages and completion come from the definitions `--help` prints:
/// every subcommand has its page, carrying its own help text, and every
/// subcommand completes.
#[test]
fn man_pages_and_completion_cover_every_subcommand() {
    let dir = tempfile::tempdir().unwrap();
    let (code, _, err) = run(&["man-pages", dir.path().to_str().unwrap()], &[]);
    assert_eq!(code, 0, "{err}");
    let subcommands = [
        ("check-config", vec!["check-config"]),
        ("test-login", vec!["test-login"]),
        ("logins", vec!["logins"]),
        ("logins-show", vec!["logins", "show"]),
        ("logins-clear", vec!["logins", "clear"]),
        ("completions", vec!["completions"]),
    ];
    // roff escapes hyphens and apostrophes; words compare without line breaks.
    let plain = |text: &str| {
        text.replace("\\-", "-").replace("\\*(Aq", "'").split_whitespace().collect::<Vec<_>>().join(" ")
    };
    let page = |name: &str| plain(&std::fs::read_to_string(dir.path().join(format!("{name}.8"))).unwrap());
    let top = page("auth-http-ldap");
    assert!(top.contains(".TH auth-http-ldap 8") && top.contains("/etc/auth-http-ldap/config.toml"), "{top}");
    for (name, args) in &subcommands {
        let text = page(&format!("auth-http-ldap-{name}"));
        let mut help_args = args.clone();
        help_args.push("--help");
        let (code, help, _) = run(&help_args, &[]);
        assert_eq!(code, 0);
        // The first line of --help is the subcommand's description.
        let description = plain(help.lines().next().unwrap());
        assert!(text.contains(&description), "{name}: {description:?} not in\n{text}");
        let parent = if args.len() == 1 { top.clone() } else { page(&format!("auth-http-ldap-{}", args[0])) };
        assert!(
            parent.contains(&format!("auth-http-ldap-{name}(8)")),
            "{name} not listed on its parent's page"
        );
    }
    let entries = std::fs::read_dir(dir.path()).unwrap().count();
    assert_eq!(entries, subcommands.len() + 1, "a page for the command and one per subcommand, no other");

    for shell in ["bash", "zsh", "fish"] {
        let (code, script, err) = run(&["completions", shell], &[]);
        assert_eq!(code, 0, "{err}");
        for word in ["check-config", "test-login", "logins", "config", "online"] {
            assert!(script.contains(word), "{shell} completion lacks {word}");
        }
    }
}

#[test]
fn bad_configurations_exit_non_zero_naming_the_key() {
    let dir = tempfile::tempdir().unwrap();
    let cases = [
        ("[users]\nbase_dn = \"ou=people\"\nfitler = \"(uid={user})\"\n", "fitler"),
        ("[users]\nbase_dn = \"ou=people\"\n[http]\nrequest_timeout = \"soon\"\n", "http.request_timeout"),
        ("[users]\nbase_dn = \"ou=people\"\nfilter = \"(uid=fixed)\"\n", "users.filter"),
        ("[users]\nbase_dn = \"ou=people\"\n[ldap]\nurl = \"http://x\"\n", "ldap.url"),
        ("[users]\nbase_dn = \"ou=people\"\n[operations]\nregister = true\n", "register.dn"),
        ("[http]\nlisten = \"127.0.0.1:0\"\n", "users.base_dn"),
        ("[users]\nbase_dn = \"ou=people\"\n[http]\nworkers = 0\n", "http.workers"),
        ("[users]\nbase_dn = \"ou=people\"\n[logins]\nfailure_window = \"0s\"\n", "logins.failure_window"),
        ("[users]\nbase_dn = \"ou=people\"\n[logins]\nmax_entries = 0\n", "logins.max_entries"),
        ("this is not toml", "configuration"),
    ];
    for (text, key) in cases {
        let path = write_config(&dir, text);
        for args in [vec!["--config", &path], vec!["check-config", "--config", &path]] {
            let (code, out, err) = run(&args, &[]);
            assert_ne!(code, 0, "{text}");
            assert!(err.contains(key), "{key} not named for {text:?}:\n{err}");
            assert!(out.is_empty());
        }
    }
    let (code, _, err) = run(&["--config", "/nonexistent/auth-http-ldap.toml"], &[]);
    assert_ne!(code, 0);
    assert!(err.contains("/nonexistent/auth-http-ldap.toml"), "{err}");
}

#[test]
fn environment_overrides_name_their_variable() {
    let dir = tempfile::tempdir().unwrap();
    let path = write_config(&dir, "[users]\nbase_dn = \"ou=people\"\n");
    let (code, _, err) =
        run(&["check-config", "--config", &path], &[("AUTH_HTTP_LDAP_HTTP__MAX_BODY_BYTES", "lots")]);
    assert_ne!(code, 0);
    assert!(err.contains("AUTH_HTTP_LDAP_HTTP__MAX_BODY_BYTES"), "{err}");
    let (code, out, _) = run(
        &["check-config", "--config", &path],
        &[("AUTH_HTTP_LDAP_LDAP__URL", "ldaps://ldap.example.com")],
    );
    assert_eq!(code, 0);
    assert!(out.contains("url = \"ldaps://ldap.example.com\""), "{out}");
}

#[test]
fn check_config_prints_the_effective_configuration_without_secrets() {
    let dir = tempfile::tempdir().unwrap();
    let secret_file = dir.path().join("ldap-password");
    std::fs::write(&secret_file, "file-secret-value\n").unwrap();
    let path = write_config(
        &dir,
        &format!(
            "[http]\ncredentials = \"prosody:inline-secret-value\"\n[ldap]\nbind_dn = \"cn=svc\"\nbind_password_file = \"{}\"\n[users]\nbase_dn = \"ou=people\"\n",
            secret_file.display()
        ),
    );
    let (code, out, err) = run(&["check-config", "--config", &path], &[]);
    assert_eq!(code, 0, "{err}");
    assert!(out.contains("base_dn = \"ou=people\"") && out.contains("request_timeout = \"5s\""), "{out}");
    // Each secret is shown as it was given: inline, hidden; from a file, by the file's name.
    assert!(
        out.contains("credentials = \"<hidden>\"")
            && out.contains(&format!("bind_password_file = \"{}\"", secret_file.display()))
            && !out.contains("bind_password = "),
        "{out}"
    );
    assert!(!out.contains("secret-value"), "{out}");
}

#[tokio::test]
async fn no_password_query_or_body_in_any_log_line_at_trace() {
    let slapd = Slapd::start();
    let dir = tempfile::tempdir().unwrap();
    // A second host whose base DN does not exist, for a 500 whose cause must be logged.
    let config = support::config(
        &slapd,
        "[log]\nlevel = \"trace\"\n[http]\ncredentials = \"prosody:MARKER-api\"\n\
         [hosts.\"example.com\"]\n[hosts.\"broken.example\"]\nusers = { base_dn = \"ou=missing,dc=example,dc=com\" }",
    );
    let path = write_config(&dir, &config);
    let mut child =
        Command::new(BINARY).args(["--config", &path]).stderr(Stdio::piped()).spawn().expect("start binary");

    let (lines_tx, lines) = mpsc::channel::<String>();
    let stderr = child.stderr.take().unwrap();
    std::thread::spawn(move || {
        for line in BufReader::new(stderr).lines().map_while(Result::ok) {
            let _ = lines_tx.send(line);
        }
    });
    let mut log = Vec::new();
    let addr = loop {
        let line =
            lines.recv_timeout(Duration::from_secs(10)).expect("the binary did not report it was serving");
        log.push(line.clone());
        if line.contains("serving") {
            let start = line.find("listen=").expect("listen field") + "listen=".len();
            break line[start..].split_whitespace().next().unwrap().parse::<std::net::SocketAddr>().unwrap();
        }
    };

    let auth = "Authorization: Basic cHJvc29keTpNQVJLRVItYXBp\r\n"; // prosody:MARKER-api
    let get = |query: String| format!("GET /auth/{query} HTTP/1.1\r\nHost: x\r\n{auth}\r\n");
    let post = |method: &str, body: String| {
        format!(
            "POST /auth/{method} HTTP/1.1\r\nHost: x\r\n{auth}Content-Length: {}\r\n\r\n{body}",
            body.len()
        )
    };
    let marker = encode("MARKER p@ss");
    let requests = [
        get(format!("check_password?user=romeo&pass={marker}&server=example.com&MARKERq=1")),
        get("check_password?user=romeo&pass=iheartjuliet&server=example.com".into()),
        get(format!("user_exists?user=romeo&server=example.com&MARKERq={marker}")),
        post("register", format!("user=newuser&pass={marker}&server=example.com")),
        post("set_password", format!("user=newuser&pass={marker}2&server=example.com")),
        post("remove_user", format!("user=newuser&server=example.com&MARKERbody={marker}")),
        post("check_password", format!("user=romeo&pass={marker}&server=example.com")),
        get(format!("get_password?user=romeo&pass={marker}")),
        get(format!("register?user=romeo&pass={marker}")),
        post("set_password", format!("user=romeo&pass={marker}&pass={marker}")),
        format!(
            "GET /check_password?user=romeo&pass={marker} HTTP/1.1\r\nHost: x\r\nAuthorization: Basic TUFSS0VSOk1BUktFUg==\r\n\r\n"
        ),
        get(format!("check_password?user=romeo&pass={marker}&server=broken.example")),
        get(format!("check_password?user=romeo&pass={marker}&server=elsewhere.example")),
        format!("GARBAGE /check_password?pass={marker} HTTP/9\r\n\r\n"),
    ];
    let mut statuses = Vec::new();
    for request in &requests {
        statuses.push(support::send(addr, request.as_bytes()).await.status);
    }
    assert_eq!(statuses, [200, 200, 200, 201, 204, 204, 200, 501, 405, 400, 401, 500, 403, 400]);
    // Nor do the metrics carry anything a client sent but the protocol's names.
    let metrics =
        support::send(addr, format!("GET /metrics HTTP/1.1\r\nHost: x\r\n{auth}\r\n").as_bytes()).await;
    assert_eq!(metrics.status, 200);
    assert!(metrics.text().contains("auth_http_ldap_requests_total"), "{}", metrics.text());
    for needle in ["MARKER", "p%40ss", "romeo", "get_password"] {
        assert!(!metrics.text().contains(needle), "{needle:?} appears in the metrics:\n{}", metrics.text());
    }

    // SIGTERM: a clean stop, exit 0.
    let status = Command::new("kill").arg("-TERM").arg(child.id().to_string()).status().unwrap();
    assert!(status.success());
    let exit = child.wait().unwrap();
    assert_eq!(exit.code(), Some(0));
    log.extend(lines.try_iter());

    let text = log.join("\n");
    let requests_logged = log.iter().filter(|l| l.contains(" request ")).count();
    let rejected = log.iter().filter(|l| l.contains("outcome=\"rejected\"")).count();
    assert_eq!(requests_logged + rejected, requests.len(), "one line per request expected:\n{text}");
    for field in [
        "method=\"check_password\"",
        "user=\"romeo\"",
        "server=\"example.com\"",
        "status=200",
        "duration_ms=",
    ] {
        assert!(text.contains(field), "no {field} in the log:\n{text}");
    }
    // The 500's cause is in the log (and only there), with a hint.
    assert!(text.contains("noSuchObject") && text.contains("users.base_dn"), "{text}");
    // The request hyper rejected before the handler saw it has its line too.
    assert_eq!(rejected, 1, "{text}");
    for needle in ["MARKER", "iheartjuliet", "p%40ss", "pass="] {
        assert!(!text.contains(needle), "{needle:?} appears in the log:\n{text}");
    }
}

#[test]
fn weakened_security_is_warned_about_at_every_start() {
    let dir = tempfile::tempdir().unwrap();
    let path = write_config(
        &dir,
        "[http]\nlisten = \"127.0.0.1:0\"\n[ldap]\nurl = [\"ldaps://127.0.0.1:1\", \"ldap://192.0.2.1\"]\n\
         tls_insecure_skip_verify = true\nallow_plaintext = true\n[users]\nbase_dn = \"ou=people\"\n",
    );
    let (code, _, err) = run(&["check-config", "--config", &path], &[]);
    assert_eq!(code, 0, "{err}");
    assert!(err.contains("warning: ldap.tls_insecure_skip_verify is on"), "{err}");
    assert!(
        err.contains("warning: ldap.allow_plaintext is on: passwords go in clear text to ldap://192.0.2.1"),
        "{err}"
    );

    // The service says the same in its log when it starts.
    let mut child = Command::new(BINARY).args(["--config", &path]).stderr(Stdio::piped()).spawn().unwrap();
    let stderr = child.stderr.take().unwrap();
    let (lines_tx, lines) = mpsc::channel::<String>();
    std::thread::spawn(move || {
        for line in BufReader::new(stderr).lines().map_while(Result::ok) {
            let _ = lines_tx.send(line);
        }
    });
    let mut seen = Vec::new();
    while seen.len() < 3 {
        match lines.recv_timeout(Duration::from_secs(10)) {
            Ok(line) => seen.push(line),
            Err(_) => break,
        }
    }
    let _ = child.kill();
    let _ = child.wait();
    let text = seen.join("\n");
    assert!(text.contains("serving") && text.contains("tls_insecure_skip_verify is on"), "{text}");
    assert!(text.contains("WARN") && text.contains("allow_plaintext is on"), "{text}");
}

#[test]
fn check_config_says_what_the_ca_file_holds() {
    let certs = support::certificates::Certificates::new();
    let current = certs.self_signed("dc1", "dc1.corp.example", "DNS:dc1.corp.example");
    let expired = certs.expired("old", "old.corp.example", "DNS:old.corp.example", true);
    let bundle = certs.concatenate("bundle.pem", &[&current, &expired]);
    let dir = tempfile::tempdir().unwrap();
    let path = write_config(
        &dir,
        &format!(
            "[ldap]\nurl = \"ldaps://dc1.corp.example\"\nca_file = \"{}\"\n[users]\nbase_dn = \"ou=people\"\n",
            bundle.display()
        ),
    );
    let (code, out, err) = run(&["check-config", "--config", &path], &[]);
    assert_eq!(code, 0, "{err}");
    assert!(out.contains(&format!("# ldap.ca_file ({}) holds 2 certificates:", bundle.display())), "{out}");
    assert!(out.contains("subject \"CN=dc1.corp.example\", self-signed, valid "), "{out}");
    assert!(out.contains("subject \"CN=old.corp.example\", self-signed, valid 2024-01-"), "{out}");
    assert!(err.contains("\"CN=old.corp.example\" expired "), "{err}");
}
