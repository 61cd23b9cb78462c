//! The request log line as a log pipeline reads it: with `log.format =
//! "json"`, the real binary writes one JSON object per line whose fields are
//! plain values (`"user":"romeo"`, `"status":200`, `"duration_ms":1.59`),
//! and a hostile user name stays one string value.

mod support;

use std::time::Duration;

use serde_json::Value;
use support::{RunningBinary, Slapd, encode};

/// A user name that would forge a line, or a field, if written as it is.
const HOSTILE: &str = "eve\" \"user\":\"romeo\nINFO request user=romeo\u{1b}[2J";

/// Every line of the service's log, each of which must be a JSON object.
fn json_lines(service: &RunningBinary) -> Vec<Value> {
    let log = service.log();
    // A line is complete once its newline is written.
    let complete = &log[..log.rfind('\n').map_or(0, |end| end + 1)];
    complete
        .lines()
        .map(|line| {
            serde_json::from_str(line).unwrap_or_else(|e| panic!("not a JSON line ({e}): {line}\n{log}"))
        })
        .collect()
}

/// The `listen` field of the line that says the API is served.
async fn api_address(service: &RunningBinary) -> std::net::SocketAddr {
    for _ in 0..200 {
        let serving = json_lines(service).into_iter().find(|line| line["message"] == "serving");
        if let Some(line) = serving {
            return line["listen"].as_str().expect("listen is a string").parse().expect("an address");
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    panic!("the service did not report its address:\n{}", service.log());
}

/// The request lines, once there are `count` of them (info lines are
/// written in batches, within 0.1 s).
async fn request_lines(service: &RunningBinary, count: usize) -> Vec<Value> {
    for _ in 0..200 {
        let requests: Vec<Value> =
            json_lines(service).into_iter().filter(|line| line["message"] == "request").collect();
        if requests.len() >= count {
            return requests;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    panic!("fewer than {count} request lines:\n{}", service.log());
}

#[tokio::test]
async fn json_request_lines_carry_plain_values() {
    let slapd = Slapd::start();
    let dir = tempfile::tempdir().unwrap();
    let config = dir.path().join("config.toml");
    std::fs::write(&config, support::config(&slapd, "[log]\nformat = \"json\"\n")).unwrap();
    let service = RunningBinary::start(&config, &[]);
    let address = api_address(&service).await;
    let check_password = |user: &str, password: &str| {
        format!(
            "GET /check_password?user={}&pass={}&server=example.com HTTP/1.1\r\nHost: x\r\n\r\n",
            encode(user),
            encode(password)
        )
    };
    support::send(address, check_password("romeo", "iheartjuliet").as_bytes()).await.assert_answer(true);
    support::send(address, check_password("romeo", "wrong").as_bytes()).await.assert_answer(false);
    let hostile = support::send(address, check_password(HOSTILE, "wrong").as_bytes()).await;

    let requests = request_lines(&service, 3).await;
    assert_eq!(requests.len(), 3, "one line per request:\n{}", service.log());
    for (line, outcome) in requests[..2].iter().zip(["true", "false"]) {
        assert_eq!(line["level"], "INFO", "{line}");
        assert_eq!(line["method"], "check_password", "{line}");
        assert_eq!(line["user"], "romeo", "{line}");
        assert_eq!(line["server"], "example.com", "{line}");
        assert_eq!(line["outcome"], outcome, "{line}");
        assert_eq!(line["status"].as_u64(), Some(200), "status is not the number 200: {line}");
        let duration =
            line["duration_ms"].as_f64().unwrap_or_else(|| panic!("no duration_ms number: {line}"));
        assert!(duration > 0.0 && duration < 3000.0, "{line}");
        assert!(line.get("duration").is_none(), "{line}");
    }
    // The filter an administrator writes finds the user's lines.
    let log = service.log();
    assert_eq!(log.matches(r#""user":"romeo""#).count(), 2, "{log}");

    // The hostile name is one string value, as sent, and forged nothing.
    assert_eq!(requests[2]["user"], HOSTILE, "{}", requests[2]);
    assert_eq!(requests[2]["status"].as_u64(), Some(u64::from(hostile.status)), "{}", requests[2]);
    assert!(!log.contains('\u{1b}'), "an escape sequence reached the log: {log:?}");
    assert!(log.lines().all(|line| line.starts_with('{') && line.ends_with('}')), "{log}");
}
