//! The command line, and the man pages and shell completion generated from
//! the same definitions, so that neither can say something `--help` does not.

use std::fs;
use std::io;
use std::path::{Path, PathBuf};
use std::process::ExitCode;

use auth_http_ldap::admin_client::LoginsCommand;
use auth_http_ldap::config;
use clap::{CommandFactory, Parser, Subcommand};
use clap_complete::Shell;

/// Answers Prosody's mod_auth_http API (authentication = "http") from an LDAP directory.
#[derive(Parser)]
#[command(name = "auth-http-ldap", version, about)]
#[command(disable_help_subcommand = true, after_help = AFTER_HELP, after_long_help = format!("{AFTER_HELP}\n\n{FILES}"))]
pub struct Cli {
    /// The configuration file.
    #[arg(long, short, global = true, value_name = "PATH", default_value = config::DEFAULT_PATH)]
    pub config: PathBuf,
    #[command(subcommand)]
    pub command: Option<Command>,
}

/// What the command does without a subcommand, and its exit codes.
const AFTER_HELP: &str = "Without a subcommand, serves the API until SIGTERM or SIGINT; SIGHUP reads the \
configuration again. Exit codes: 0 success, 1 failure, 2 directory unreachable (test-login), 64 bad \
command line, 78 unusable configuration.";

/// What `--help` and the man page add: the files it reads.
const FILES: &str = "Files: /etc/auth-http-ldap/config.toml, the configuration (every key is documented in \
/usr/share/doc/auth-http-ldap/examples/config.toml). Secrets the configuration does not set are read \
from the systemd credentials auth-http-ldap.ldap-password and auth-http-ldap.api-credentials: from \
$CREDENTIALS_DIRECTORY under the unit, or decrypted from /etc/credstore.encrypted/ by systemd-creds \
when run as root. Full guide: /usr/share/doc/auth-http-ldap/README.md.";

#[derive(Subcommand)]
pub enum Command {
    /// Check the configuration and print it as it will be used, secrets hidden.
    CheckConfig {
        /// Then hold it against the live directory: every server, its
        /// certificate, the service account, and each host's settings.
        /// Exits 1 when any check fails.
        #[arg(long)]
        online: bool,
    },
    /// Log USER in as Prosody's check_password would, printing every step.
    /// The password is read from standard input (a prompt on a terminal).
    /// Exits 0 for true, 1 for false, 2 when the directory could not answer.
    TestLogin {
        /// The user name, as Prosody sends it.
        user: String,
        /// The XMPP domain (Prosody's VirtualHost); needed with [hosts] tables.
        #[arg(long, value_name = "DOMAIN")]
        server: Option<String>,
    },
    /// See or clear the login guard's state of a user on the running service (through http.admin_listen).
    #[command(subcommand)]
    Logins(LoginsCommand),
    /// Print the completion script for SHELL, for example into
    /// /usr/local/share/bash-completion/completions/auth-http-ldap.
    Completions {
        /// bash, zsh, fish, elvish or powershell.
        shell: Shell,
    },
    /// Write the man pages into DIR: one for the command, one per subcommand.
    #[command(hide = true)]
    ManPages {
        /// Where to write them; it must exist.
        dir: PathBuf,
    },
}

/// The name the packaged binary and its pages go by.
const NAME: &str = "auth-http-ldap";

/// Man page section: the binary is a system daemon in /usr/sbin.
const SECTION: &str = "8";

pub fn print_completions(shell: Shell) -> ExitCode {
    clap_complete::generate(shell, &mut Cli::command(), NAME, &mut io::stdout());
    ExitCode::SUCCESS
}

pub fn write_man_pages(dir: &Path) -> ExitCode {
    // Built, so that each subcommand's page shows the global --config.
    let mut command = Cli::command();
    command.build();
    match write_pages(&command, NAME, NAME, dir) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("auth-http-ldap: cannot write man pages into {}: {e}", dir.display());
            ExitCode::FAILURE
        }
    }
}

/// `command`'s page as `name.8`, then each visible subcommand's as
/// `name-subcommand.8`, as git and cargo name theirs. `invoked` is how it is
/// typed: `auth-http-ldap logins show`.
fn write_pages(command: &clap::Command, name: &str, invoked: &str, dir: &Path) -> io::Result<()> {
    let page = command.clone().name(name.to_owned()).bin_name(invoked.to_owned());
    let mut text = Vec::new();
    clap_mangen::Man::new(page).section(SECTION).render(&mut text)?;
    fs::write(dir.join(format!("{name}.{SECTION}")), text)?;
    for sub in command.get_subcommands().filter(|sub| !sub.is_hide_set() && sub.get_name() != "help") {
        let sub_name = sub.get_name();
        write_pages(sub, &format!("{name}-{sub_name}"), &format!("{invoked} {sub_name}"), dir)?;
    }
    Ok(())
}
