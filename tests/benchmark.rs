//! The login benchmark (benches/login), run small against the real binary:
//! its figures mean nothing at this size, but every answer must still be
//! right, with logins running concurrently, one in ten with a wrong
//! password. Also runs the unit tests of this benchmark and of the
//! slow-client one (benches/slow_clients).

#[path = "../benches/login/benchmark.rs"]
mod benchmark;
#[path = "../benches/login/bridge.rs"]
mod bridge;
#[path = "../benches/login/ceiling.rs"]
mod ceiling;
#[path = "../benches/login/cpu.rs"]
mod cpu;
#[path = "../benches/login/directory.rs"]
mod directory;
#[path = "../benches/login/empty_server.rs"]
mod empty_server;
#[path = "../benches/login/http_load.rs"]
mod http_load;
#[path = "../benches/login/measure.rs"]
mod measure;
#[path = "../benches/login/report.rs"]
mod report;
#[path = "../benches/login/workload.rs"]
mod workload;
// Only its unit tests run here.
#[allow(dead_code)]
#[path = "../benches/slow_clients/service.rs"]
mod slow_clients_service;

#[tokio::test(flavor = "multi_thread")]
async fn a_short_run_gets_every_answer_right() {
    let args = ["--users", "300", "--seconds", "0.3", "--warmup", "0.1", "--levels", "1,8"];
    let options = benchmark::Options::parse(args.map(String::from).into_iter()).expect("options");
    assert!(benchmark::run(&options).await, "wrong answers or errors: see the report above");
}
