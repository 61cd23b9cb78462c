//! Secrets from systemd credentials, for the keys the file leaves unset.
//!
//! The packaged unit loads `auth-http-ldap.ldap-password` and
//! `auth-http-ldap.api-credentials` with `LoadCredentialEncrypted=`, and
//! systemd hands them over, decrypted, in `$CREDENTIALS_DIRECTORY`. Outside
//! the unit, as root, `check-config` and `test-login` decrypt the same files
//! from `/etc/credstore.encrypted/` with `systemd-creds`, so that they check
//! the secrets the service will use.

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

use super::secret::Secret;

/// The LDAP service account's password.
pub const LDAP_PASSWORD: &str = "auth-http-ldap.ldap-password";

/// Prosody's `http_auth_credentials`, as `user:password`.
pub const API_CREDENTIALS: &str = "auth-http-ldap.api-credentials";

/// Where systemd looks for an encrypted credential named without a path.
const ENCRYPTED_STORE: &str = "/etc/credstore.encrypted";

/// Where credentials are looked for.
pub(super) struct Credentials {
    /// `$CREDENTIALS_DIRECTORY`: under the unit, systemd has already
    /// decided which credentials exist, and nothing else is looked at.
    passed: Option<PathBuf>,
    /// Encrypted files, decrypted with `systemd-creds`.
    encrypted: Option<PathBuf>,
}

/// A credential that exists.
pub(super) enum Credential {
    /// A file holding the secret, to be read as a `*_file` key's is.
    File(PathBuf),
    /// The secret, decrypted.
    Value(Secret),
    /// It exists and cannot be used: why, in words that hold no secret.
    Unusable(String),
}

impl Credentials {
    /// As this process finds them: passed by systemd, or in the store.
    pub(super) fn from_environment() -> Self {
        match std::env::var_os("CREDENTIALS_DIRECTORY") {
            Some(passed) => Credentials { passed: Some(passed.into()), encrypted: None },
            None => Credentials { passed: None, encrypted: Some(ENCRYPTED_STORE.into()) },
        }
    }

    /// None at all, for a configuration given as text.
    pub(super) fn none() -> Self {
        Credentials { passed: None, encrypted: None }
    }

    pub(super) fn find(&self, name: &str) -> Option<Credential> {
        if let Some(passed) = &self.passed {
            let path = passed.join(name);
            return path.exists().then_some(Credential::File(path));
        }
        let path = self.encrypted.as_ref()?.join(name);
        // Not there, or in a directory only root may read: not found.
        path.exists().then(|| decrypt(name, &path))
    }
}

/// `systemd-creds decrypt`, which checks that the file was encrypted under
/// this name, with this host's key or TPM.
fn decrypt(name: &str, path: &Path) -> Credential {
    let output = Command::new("systemd-creds")
        .args(["decrypt", &format!("--name={name}")])
        .arg(path)
        .arg("-")
        .stdin(Stdio::null())
        .output();
    let unusable = |why: String| Credential::Unusable(format!("cannot decrypt {}: {why}", path.display()));
    match output {
        Err(e) => unusable(format!("cannot run systemd-creds: {e}")),
        Ok(output) if !output.status.success() => {
            let said = String::from_utf8_lossy(&output.stderr);
            unusable(said.lines().last().unwrap_or("systemd-creds failed").trim().to_owned())
        }
        Ok(output) => match String::from_utf8(output.stdout) {
            Ok(text) => Credential::Value(Secret::new(text)),
            Err(_) => unusable("it is not UTF-8 text".to_owned()),
        },
    }
}
