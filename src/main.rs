//! The `auth-http-ldap` command: read the configuration, start logging,
//! serve until SIGTERM or SIGINT, and turn the outcome into an exit code.

use std::io::IsTerminal;
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::time::{SystemTime, UNIX_EPOCH};

use auth_http_ldap::admin_client;
use auth_http_ldap::checks::{login, online};
use auth_http_ldap::config::{self, Settings};
use auth_http_ldap::http::sockets;
use auth_http_ldap::workers::{self, Workers};
use auth_http_ldap::{directory, logging, open_files, systemd};
use clap::Parser;
use tokio::runtime::Builder;
use tokio::signal::unix::{Signal, SignalKind, signal};
use tokio::sync::mpsc;
use tracing::{error, warn};

use crate::cli::{Cli, Command};

mod cli;

/// The configuration cannot be used (as sysexits' EX_CONFIG).
const EXIT_CONFIG: u8 = 78;

/// The command line cannot be used (as sysexits' EX_USAGE).
const EXIT_USAGE: u8 = 64;

fn main() -> ExitCode {
    let cli = Cli::parse();
    // These describe the command itself, and need no configuration.
    match &cli.command {
        Some(Command::Completions { shell }) => return cli::print_completions(*shell),
        Some(Command::ManPages { dir }) => return cli::write_man_pages(dir),
        _ => {}
    }
    let settings = match load(&cli.config) {
        Ok(settings) => settings,
        Err(error) => {
            eprintln!("auth-http-ldap: {} is not a usable configuration:\n{error}", cli.config.display());
            return ExitCode::from(EXIT_CONFIG);
        }
    };
    match cli.command {
        Some(Command::CheckConfig { online }) => {
            let offline = check_config(&cli.config, &settings);
            if online && offline == ExitCode::SUCCESS { check_online(&settings) } else { offline }
        }
        Some(Command::TestLogin { user, server }) => {
            test_login(&cli.config, settings, &user, server.as_deref())
        }
        Some(Command::Logins(command)) => admin_client::run(&settings.http, &command),
        Some(Command::Completions { .. } | Command::ManPages { .. }) => unreachable!("answered above"),
        None => run(cli.config, settings),
    }
}

/// The configuration at `path`, and the directory's TLS client built from
/// it, so that certificate files rustls cannot use are a configuration
/// error, named by key, and not a failure at the first connection.
fn load(path: &Path) -> Result<Settings, String> {
    let settings = config::load(path).map_err(|e| e.to_string())?;
    if let Err(e) = directory::tls::client_config(&settings.ldap) {
        return Err(format!("{}: {e}", e.key()));
    }
    Ok(settings)
}

fn check_config(path: &Path, settings: &Settings) -> ExitCode {
    let (ca_file, ca_warnings) = settings.ca_file_summary(unix_now()).unwrap_or_default();
    for warning in settings.warnings().into_iter().chain(ca_warnings) {
        eprintln!("auth-http-ldap: warning: {warning}");
    }
    match toml::to_string_pretty(settings) {
        Ok(text) => {
            println!("# {} is valid.", path.display());
            for line in ca_file {
                println!("# {line}");
            }
            println!("# The effective configuration, secrets hidden:\n\n{text}");
            ExitCode::SUCCESS
        }
        Err(error) => {
            eprintln!("auth-http-ldap: cannot print the configuration: {error}");
            ExitCode::FAILURE
        }
    }
}

fn check_online(settings: &Settings) -> ExitCode {
    let runtime = match Builder::new_current_thread().enable_all().build() {
        Ok(runtime) => runtime,
        Err(e) => {
            eprintln!("auth-http-ldap: cannot start: {e}");
            return ExitCode::FAILURE;
        }
    };
    println!("# Checked against the directory:");
    let checks = runtime.block_on(online::run(settings, unix_now()));
    for check in &checks {
        println!("{check}");
    }
    let failures = checks.iter().filter(|check| check.status == online::Status::Failed).count();
    match failures {
        0 => ExitCode::SUCCESS,
        n => {
            eprintln!("auth-http-ldap: {n} of {} checks failed", checks.len());
            ExitCode::FAILURE
        }
    }
}

fn unix_now() -> i64 {
    SystemTime::now().duration_since(UNIX_EPOCH).map_or(0, |since| since.as_secs() as i64)
}

fn test_login(path: &Path, settings: Settings, user: &str, server: Option<&str>) -> ExitCode {
    let password = match read_password(user) {
        Ok(password) => password,
        Err(e) => {
            eprintln!("auth-http-ldap: cannot read the password from standard input: {e}");
            return ExitCode::from(EXIT_USAGE);
        }
    };
    let runtime = match Builder::new_current_thread().enable_all().build() {
        Ok(runtime) => runtime,
        Err(e) => {
            eprintln!("auth-http-ldap: cannot start: {e}");
            return ExitCode::FAILURE;
        }
    };
    println!("configuration: {}", path.display());
    match runtime.block_on(login::test_login(settings, user, server, password)) {
        Ok(answer) => ExitCode::from(answer.exit_code()),
        Err(e) => {
            eprintln!("auth-http-ldap: {e}");
            ExitCode::from(EXIT_USAGE)
        }
    }
}

/// The password: one line of standard input, or typed at a prompt that
/// does not echo it when standard input is a terminal. Never an argument,
/// where other users of the machine could read it.
fn read_password(user: &str) -> std::io::Result<String> {
    if std::io::stdin().is_terminal() {
        return rpassword::prompt_password(format!("Password for {user}: "));
    }
    let mut line = String::new();
    std::io::stdin().read_line(&mut line)?;
    let password = line.strip_suffix('\n').unwrap_or(&line);
    Ok(password.strip_suffix('\r').unwrap_or(password).to_owned())
}

fn run(path: PathBuf, settings: Settings) -> ExitCode {
    logging::init(&settings.log);
    open_files::raise(&settings);
    let started = Workers::start(settings.http.workers.unwrap_or_else(workers::per_core))
        .and_then(|workers| Ok((workers, Builder::new_current_thread().enable_all().build()?)));
    let (workers, runtime) = match started {
        Ok(started) => started,
        Err(e) => {
            error!(error = %e, "cannot start the threads that serve requests");
            return ExitCode::FAILURE;
        }
    };
    // This thread watches signals and hands over reloads; the workers serve.
    let exit = runtime.block_on(async {
        let Some(sockets) = sockets::open(&settings, workers.handles()) else {
            return ExitCode::FAILURE;
        };
        for warning in settings.warnings() {
            warn!("{warning}");
        }
        // Every signal is watched before READY: the default action of each
        // is to end the process at once, and systemd may stop or reload the
        // service as soon as it is ready.
        let signals = [SignalKind::hangup(), SignalKind::terminate(), SignalKind::interrupt()].map(signal);
        let [hangups, terminate, interrupt] = match signals {
            [Ok(hangups), Ok(terminate), Ok(interrupt)] => [hangups, terminate, interrupt],
            _ => {
                error!("cannot watch for SIGHUP, SIGTERM and SIGINT");
                return ExitCode::FAILURE;
            }
        };
        // The directory may come up later: failures are warnings, and the
        // service starts all the same.
        let checked = settings.clone();
        tokio::spawn(async move {
            for check in online::run(&checked, unix_now()).await {
                if check.status != online::Status::Passed {
                    warn!("directory check: {check}");
                }
            }
        });
        let (reload, reloads) = mpsc::channel(1);
        tokio::spawn(reload_on_hangup(path, hangups, reload));
        systemd::notify_ready();
        let shutdown = async {
            shutdown_signal(terminate, interrupt).await;
            systemd::notify_stopping();
        };
        auth_http_ldap::serve_with_reloads(settings, sockets, shutdown, reloads).await;
        ExitCode::SUCCESS
    });
    drop(workers);
    logging::flush();
    exit
}

/// On each SIGHUP, reads the configuration and its secret files again. A
/// usable one replaces the one in use; an unusable one is logged, naming
/// the key, and the one in use stays. (`http.listen`, `http.workers` and
/// `log.level` take a restart.)
async fn reload_on_hangup(path: PathBuf, mut hangups: Signal, reload: mpsc::Sender<Settings>) {
    while hangups.recv().await.is_some() {
        match load(&path) {
            Ok(settings) => {
                for warning in settings.warnings() {
                    warn!("{warning}");
                }
                if reload.send(settings).await.is_err() {
                    return;
                }
            }
            Err(e) => {
                let problems = e.to_string().replace('\n', "; ");
                error!(path = %path.display(), %problems, "the new configuration is not usable; the one in use stays");
            }
        }
    }
}

/// Completes on SIGTERM (systemd's stop) or SIGINT (Ctrl-C).
async fn shutdown_signal(mut terminate: Signal, mut interrupt: Signal) {
    tokio::select! {
        _ = terminate.recv() => {}
        _ = interrupt.recv() => {}
    }
}
