//! The `auth-http-ldap` command: read the configuration, start logging,
//! serve until SIGTERM or SIGINT, and turn the outcome into an exit code.

use std::path::PathBuf;
use std::process::ExitCode;

use auth_http_ldap::config::{self, Settings};
use auth_http_ldap::http::sockets;
use auth_http_ldap::workers::{self, Workers};
use auth_http_ldap::{Sockets, logging, systemd};
use clap::{Parser, Subcommand};
use tokio::runtime::Builder;
use tokio::signal::unix::{Signal, SignalKind, signal};
use tokio::sync::mpsc;
use tracing::{error, info, warn};

/// Answers Prosody's mod_auth_http API (authentication = "http") from an LDAP directory.
#[derive(Parser)]
#[command(version, about)]
struct Cli {
    /// The configuration file.
    #[arg(long, short, global = true, value_name = "PATH", default_value = config::DEFAULT_PATH)]
    config: PathBuf,
    #[command(subcommand)]
    command: Option<Command>,
}

#[derive(Subcommand)]
enum Command {
    /// Check the configuration and print it as it will be used, secrets hidden.
    CheckConfig,
}

/// The configuration cannot be used (as sysexits' EX_CONFIG).
const EXIT_CONFIG: u8 = 78;

fn main() -> ExitCode {
    let cli = Cli::parse();
    let settings = match config::load(&cli.config) {
        Ok(settings) => settings,
        Err(error) => {
            eprintln!("auth-http-ldap: {} is not a usable configuration:\n{error}", cli.config.display());
            return ExitCode::from(EXIT_CONFIG);
        }
    };
    match cli.command {
        Some(Command::CheckConfig) => check_config(&cli.config, &settings),
        None => run(cli.config, settings),
    }
}

fn check_config(path: &std::path::Path, settings: &Settings) -> ExitCode {
    for warning in settings.warnings() {
        eprintln!("auth-http-ldap: warning: {warning}");
    }
    match toml::to_string_pretty(settings) {
        Ok(text) => {
            println!("# {} is valid. The effective configuration, secrets hidden:\n\n{text}", path.display());
            ExitCode::SUCCESS
        }
        Err(error) => {
            eprintln!("auth-http-ldap: cannot print the configuration: {error}");
            ExitCode::FAILURE
        }
    }
}

fn run(path: PathBuf, settings: Settings) -> ExitCode {
    logging::init(&settings.log);
    let started = Workers::start(workers::per_core())
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
        let sockets = match sockets(&settings, &workers) {
            Ok(sockets) => sockets,
            Err(exit) => return exit,
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

/// The sockets to serve on, each worker with its own: those systemd passed
/// (socket activation), which win over `http.listen`, or else `http.listen`'s;
/// and `http.admin_listen`'s, on the first worker.
fn sockets(settings: &Settings, workers: &Workers) -> Result<Sockets, ExitCode> {
    let runtimes = workers.handles();
    let (api, from) = match systemd::inherited_listeners() {
        Ok(inherited) if !inherited.is_empty() => {
            let shared: Result<Vec<_>, _> =
                inherited.into_iter().map(|listener| sockets::shared(listener, runtimes)).collect();
            match shared {
                Ok(shared) => (shared, "systemd socket"),
                Err(e) => {
                    error!(error = %e, "cannot use the sockets systemd passed");
                    return Err(ExitCode::FAILURE);
                }
            }
        }
        Ok(_) => {
            let mut groups = Vec::new();
            for &address in &settings.http.listen.0 {
                match sockets::bind(address, runtimes) {
                    Ok(group) => groups.push(group),
                    Err(e) => {
                        error!(error = %e, %address, "cannot listen (http.listen)");
                        return Err(ExitCode::FAILURE);
                    }
                }
            }
            (groups, "http.listen")
        }
        Err(e) => {
            error!(error = %e, "cannot use the sockets systemd passed");
            return Err(ExitCode::FAILURE);
        }
    };
    let admin = match settings.http.admin_listen {
        Some(address) => match sockets::bind(address, &runtimes[..1]) {
            Ok(mut admin) => {
                let admin = admin.remove(0);
                let listen = admin.listener.local_addr().unwrap_or(address);
                info!(%listen, "serving /health, /ready and /metrics");
                Some(admin)
            }
            Err(e) => {
                error!(error = %e, %address, "cannot listen (http.admin_listen)");
                return Err(ExitCode::FAILURE);
            }
        },
        None => None,
    };
    // The bound addresses, which differ from http.listen where a port is 0.
    for group in &api {
        if let Some(Ok(listen)) = group.first().map(|listening| listening.listener.local_addr()) {
            info!(%listen, from, workers = group.len(), https = settings.http.tls.is_some(), directory = %settings.ldap.url, version = env!("CARGO_PKG_VERSION"), "serving");
        }
    }
    Ok(Sockets { api: api.into_iter().flatten().collect(), admin, workers: runtimes.len() })
}

/// On each SIGHUP, reads the configuration and its secret files again. A
/// usable one replaces the one in use; an unusable one is logged, naming
/// the key, and the one in use stays. (`http.listen` and `log.level` take
/// a restart.)
async fn reload_on_hangup(path: PathBuf, mut hangups: Signal, reload: mpsc::Sender<Settings>) {
    while hangups.recv().await.is_some() {
        match config::load(&path) {
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
