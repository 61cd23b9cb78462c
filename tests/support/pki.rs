//! Certificates for TLS tests, made with the openssl command in a temp dir:
//! a CA, a server certificate for 127.0.0.1 signed by it, a client
//! certificate signed by it, and an unrelated CA that must be refused.

use std::path::{Path, PathBuf};
use std::process::Command;

pub struct Pki {
    dir: tempfile::TempDir,
}

impl Pki {
    pub fn new() -> Pki {
        let dir = tempfile::Builder::new().prefix("pki-").tempdir().expect("temp dir");
        let pki = Pki { dir };
        pki.self_signed("ca", "auth-http-ldap test CA");
        pki.self_signed("other-ca", "an unrelated CA");
        pki.signed("server", "127.0.0.1", "subjectAltName=IP:127.0.0.1\nextendedKeyUsage=serverAuth");
        pki.signed("client", "client", "extendedKeyUsage=clientAuth");
        pki
    }

    pub fn path(&self, name: &str) -> PathBuf {
        self.dir.path().join(name)
    }

    fn self_signed(&self, name: &str, subject: &str) {
        openssl(
            self.dir.path(),
            &["req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256", "-nodes", "-days", "2"],
            &[
                "-keyout",
                &format!("{name}-key.pem"),
                "-out",
                &format!("{name}.pem"),
                "-subj",
                &format!("/CN={subject}"),
            ],
        );
    }

    fn signed(&self, name: &str, subject: &str, extensions: &str) {
        let dir = self.dir.path();
        openssl(
            dir,
            &["req", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256", "-nodes"],
            &[
                "-keyout",
                &format!("{name}-key.pem"),
                "-out",
                &format!("{name}.csr"),
                "-subj",
                &format!("/CN={subject}"),
            ],
        );
        std::fs::write(dir.join(format!("{name}.ext")), format!("basicConstraints=CA:FALSE\n{extensions}\n"))
            .unwrap();
        openssl(
            dir,
            &["x509", "-req", "-days", "2", "-CA", "ca.pem", "-CAkey", "ca-key.pem", "-CAcreateserial"],
            &[
                "-in",
                &format!("{name}.csr"),
                "-out",
                &format!("{name}.pem"),
                "-extfile",
                &format!("{name}.ext"),
            ],
        );
    }
}

pub(super) fn openssl(dir: &Path, args: &[&str], more: &[&str]) {
    let output = Command::new("openssl")
        .args(args)
        .args(more)
        .current_dir(dir)
        .output()
        .expect("run openssl (Debian package openssl)");
    assert!(output.status.success(), "openssl {args:?} failed: {}", String::from_utf8_lossy(&output.stderr));
}
