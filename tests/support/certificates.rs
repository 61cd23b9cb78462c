//! Server certificates in the shapes administrators give their directory,
//! made with the openssl command in a temp dir, each `NAME` as `NAME.pem`
//! with its key in `NAME-key.pem`: the self-signed one the how-tos make, one
//! marked as no CA, expired ones, one for another host, and the private CA
//! (with or without an intermediate) of Active Directory Certificate
//! Services or FreeIPA. RSA keys, as all of these make by default.

use std::path::{Path, PathBuf};
use std::process::Command;

use super::pki::openssl;

/// What a certificate for the test servers must name: they listen on 127.0.0.1.
pub const LOOPBACK: &str = "IP:127.0.0.1";

/// Where Debian's ca-certificates keeps the system's bundle, which
/// update-ca-certificates appends a local certificate to.
pub const SYSTEM_BUNDLE: &str = "/etc/ssl/certs/ca-certificates.crt";

pub struct Certificates {
    dir: tempfile::TempDir,
}

impl Certificates {
    pub fn new() -> Certificates {
        let dir = tempfile::Builder::new().prefix("certificates-").tempdir().expect("temp dir");
        Certificates { dir }
    }

    pub fn path(&self, name: &str) -> PathBuf {
        self.dir.path().join(name)
    }

    pub fn key(&self, name: &str) -> PathBuf {
        self.path(&format!("{name}-key.pem"))
    }

    /// The command the how-tos give, as they give it. OpenSSL 3's default
    /// configuration marks the result a CA (basicConstraints CA:TRUE), which
    /// the how-tos do not mention and OpenLDAP's client does not mind.
    pub fn self_signed(&self, name: &str, cn: &str, san: &str) -> PathBuf {
        self.self_signed_with(name, cn, san, &[])
    }

    /// As [`Certificates::self_signed`], but marked as no CA, as some
    /// how-tos add.
    pub fn self_signed_not_a_ca(&self, name: &str, cn: &str, san: &str) -> PathBuf {
        self.self_signed_with(name, cn, san, &["-addext", "basicConstraints=critical,CA:FALSE"])
    }

    fn self_signed_with(&self, name: &str, cn: &str, san: &str, more: &[&str]) -> PathBuf {
        let (cert, key) = (format!("{name}.pem"), format!("{name}-key.pem"));
        let subject = format!("/CN={cn}");
        let san = format!("subjectAltName={san}");
        let mut args = vec!["req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "30"];
        args.extend(["-subj", &subject, "-addext", &san, "-keyout", &key, "-out", &cert]);
        args.extend(more);
        openssl(self.dir.path(), &args, &[]);
        self.path(&cert)
    }

    /// A self-signed certificate that was good for the thirty days of
    /// January 2024, marked a CA as the how-tos' is, or not. `openssl req`
    /// cannot date a certificate in the past; `openssl ca` can.
    pub fn expired(&self, name: &str, cn: &str, san: &str, ca: bool) -> PathBuf {
        let dir = self.dir.path();
        let basic_constraints = if ca { "critical,CA:TRUE" } else { "critical,CA:FALSE" };
        let config = format!(
            "[ca]\ndefault_ca = here\n\
             [here]\ndatabase = {name}.index\nserial = {name}.serial\nnew_certs_dir = .\n\
             default_md = sha256\npolicy = any\n\
             [any]\ncommonName = supplied\n\
             [extensions]\nbasicConstraints = {basic_constraints}\nsubjectKeyIdentifier = hash\n\
             subjectAltName = {san}\n"
        );
        std::fs::write(dir.join(format!("{name}.cnf")), config).unwrap();
        std::fs::write(dir.join(format!("{name}.index")), "").unwrap();
        std::fs::write(dir.join(format!("{name}.serial")), "01\n").unwrap();
        self.request(name, &format!("/CN={cn}"));
        let (cert, key, csr, cnf) =
            (format!("{name}.pem"), format!("{name}-key.pem"), format!("{name}.csr"), format!("{name}.cnf"));
        openssl(
            dir,
            &["ca", "-batch", "-notext", "-selfsign", "-extensions", "extensions"],
            &[
                "-startdate",
                "20240101000000Z",
                "-enddate",
                "20240131000000Z",
                "-config",
                &cnf,
                "-keyfile",
                &key,
                "-in",
                &csr,
                "-out",
                &cert,
            ],
        );
        self.path(&cert)
    }

    /// A root CA as AD CS and FreeIPA make one: ten years, a CA that may
    /// sign certificates and CRLs and nothing else.
    pub fn root_ca(&self, name: &str, subject: &str) -> PathBuf {
        let (cert, key) = (format!("{name}.pem"), format!("{name}-key.pem"));
        let mut args = vec!["req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "3650"];
        args.extend(["-subj", subject, "-keyout", &key, "-out", &cert]);
        args.extend(["-addext", "basicConstraints=critical,CA:TRUE"]);
        args.extend(["-addext", "keyUsage=critical,keyCertSign,cRLSign"]);
        openssl(self.dir.path(), &args, &[]);
        self.path(&cert)
    }

    /// An issuing CA below `issuer`, as a two-tier AD CS has under its
    /// offline root.
    pub fn intermediate_ca(&self, name: &str, subject: &str, issuer: &str) -> PathBuf {
        self.request(name, subject);
        self.sign(
            name,
            issuer,
            "basicConstraints=critical,CA:TRUE,pathlen:0\nkeyUsage=critical,keyCertSign,cRLSign\n\
             subjectKeyIdentifier=hash\nauthorityKeyIdentifier=keyid:always\n",
        )
    }

    /// A server certificate from `issuer`, as AD CS's and FreeIPA's
    /// templates for a server make it.
    pub fn issued(&self, name: &str, cn: &str, san: &str, issuer: &str) -> PathBuf {
        self.request(name, &format!("/CN={cn}"));
        self.sign(
            name,
            issuer,
            &format!(
                "basicConstraints=critical,CA:FALSE\nkeyUsage=critical,digitalSignature,keyEncipherment\n\
                 extendedKeyUsage=serverAuth\nsubjectKeyIdentifier=hash\n\
                 authorityKeyIdentifier=keyid:always\nsubjectAltName={san}\n"
            ),
        )
    }

    /// The files in `parts`, one after the other, as `name`: a CA bundle,
    /// or a certificate followed by the chain the server sends with it.
    pub fn concatenate(&self, name: &str, parts: &[&Path]) -> PathBuf {
        let mut text = String::new();
        for part in parts {
            let part = std::fs::read_to_string(part).unwrap_or_else(|e| panic!("{}: {e}", part.display()));
            text.push_str(&part);
            if !text.ends_with('\n') {
                text.push('\n');
            }
        }
        std::fs::write(self.path(name), text).unwrap();
        self.path(name)
    }

    fn request(&self, name: &str, subject: &str) {
        let (csr, key) = (format!("{name}.csr"), format!("{name}-key.pem"));
        openssl(
            self.dir.path(),
            &["req", "-new", "-newkey", "rsa:2048", "-nodes"],
            &["-subj", subject, "-keyout", &key, "-out", &csr],
        );
    }

    fn sign(&self, name: &str, issuer: &str, extensions: &str) -> PathBuf {
        let (cert, csr, ext) = (format!("{name}.pem"), format!("{name}.csr"), format!("{name}.ext"));
        std::fs::write(self.path(&ext), extensions).unwrap();
        let (issuer_cert, issuer_key) = (format!("{issuer}.pem"), format!("{issuer}-key.pem"));
        openssl(
            self.dir.path(),
            &["x509", "-req", "-days", "365", "-CAcreateserial"],
            &["-CA", &issuer_cert, "-CAkey", &issuer_key, "-in", &csr, "-out", &cert, "-extfile", &ext],
        );
        self.path(&cert)
    }
}

/// What openssl says of the basic constraints of the certificate in `file`,
/// to check that a fixture has the shape a test says it has.
pub fn basic_constraints(file: &Path) -> String {
    let output = Command::new("openssl")
        .args(["x509", "-noout", "-ext", "basicConstraints", "-in"])
        .arg(file)
        .output()
        .expect("run openssl");
    assert!(output.status.success(), "openssl x509: {}", String::from_utf8_lossy(&output.stderr));
    String::from_utf8_lossy(&output.stdout).into_owned()
}
