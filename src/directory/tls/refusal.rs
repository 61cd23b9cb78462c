//! Why a directory's certificate was refused, in an administrator's
//! words: what the server presented, what was wrong with it, and which
//! setting to change. It travels inside rustls's error, out through
//! ldap3's, and [`refusal_in`] finds it again for the log line.

use std::error::Error as StdError;
use std::fmt;
use std::sync::Arc;

use rustls::pki_types::{CertificateDer, ServerName};
use rustls::{CertificateError, Error, OtherError};

use crate::certificates::{Described, date};

/// Where the trusted certificates come from.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum TrustSource {
    CaFile,
    System,
}

/// A refused certificate, described.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Refusal {
    /// The name the connection was for.
    pub server: String,
    /// The certificate, when it could be read.
    pub presented: Option<Described>,
    /// What was wrong: "expired on 2020-02-01".
    pub reason: String,
    /// What to do about it, naming the key to change.
    pub remedy: String,
}

impl fmt::Display for Refusal {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "the certificate of {} was refused: {}", self.server, self.reason)?;
        if let Some(presented) = &self.presented {
            write!(f, " (it has {presented})")?;
        }
        write!(f, "; {}", self.remedy)
    }
}

impl StdError for Refusal {}

/// rustls's `error` about `cert`, with a [`Refusal`] inside that says it in words.
pub(super) fn refused(
    cert: &CertificateDer<'_>,
    server: &ServerName<'_>,
    error: &Error,
    source: TrustSource,
) -> Error {
    let server = server.to_str().into_owned();
    let presented = Described::from_der(cert);
    let trusted = match source {
        TrustSource::CaFile => "any certificate in ldap.ca_file",
        TrustSource::System => "any of the system's CA certificates",
    };
    let add_to_ca_file = match source {
        TrustSource::CaFile => {
            "put the CA certificate that signed it, or this certificate itself, in ldap.ca_file"
        }
        TrustSource::System => {
            "set ldap.ca_file to the CA certificate that signed it, or to this certificate itself"
        }
    };
    let (reason, remedy) = match error {
        Error::InvalidCertificate(CertificateError::ExpiredContext { not_after, .. }) => {
            (format!("expired on {}", date(not_after.as_secs() as i64)), renew())
        }
        Error::InvalidCertificate(CertificateError::Expired) => {
            let when = presented.as_ref().map(|p| format!(" on {}", date(p.not_after))).unwrap_or_default();
            (format!("expired{when}"), renew())
        }
        Error::InvalidCertificate(CertificateError::NotValidYetContext { not_before, .. }) => {
            (format!("not valid before {}", date(not_before.as_secs() as i64)), check_clocks())
        }
        Error::InvalidCertificate(CertificateError::NotValidYet) => {
            ("not valid yet".to_owned(), check_clocks())
        }
        Error::InvalidCertificate(
            CertificateError::NotValidForName | CertificateError::NotValidForNameContext { .. },
        ) => {
            let names = presented.as_ref().map(Described::host_names).unwrap_or_default();
            let names = if names.is_empty() { "no host name".to_owned() } else { names.join(", ") };
            (
                format!("names {names}, not {server}"),
                "connect by a name the certificate holds (ldap.url), or give the server a certificate for this one"
                    .to_owned(),
            )
        }
        // A CA of the same name whose key did not sign it is no signer either.
        Error::InvalidCertificate(CertificateError::UnknownIssuer | CertificateError::BadSignature) => {
            (format!("not signed by {trusted}"), add_to_ca_file.to_owned())
        }
        Error::InvalidCertificate(CertificateError::Other(OtherError(inner)))
            if matches!(inner.downcast_ref::<webpki::Error>(), Some(webpki::Error::CaUsedAsEndEntity)) =>
        {
            // Only reached for a certificate that is not in ldap.ca_file: one
            // that is there is trusted as it is.
            let self_signed = presented.as_ref().is_some_and(Described::is_self_issued);
            let what = if self_signed { "self-signed" } else { "a CA certificate (CA:TRUE)" };
            (
                format!("{what}, and not itself in {}", trusted.trim_start_matches("any certificate in ")),
                "put this very certificate in ldap.ca_file".to_owned(),
            )
        }
        Error::InvalidCertificate(CertificateError::BadEncoding) => {
            ("not a certificate that can be read".to_owned(), renew())
        }
        other => (format!("not acceptable ({})", short_name(other)), add_to_ca_file.to_owned()),
    };
    let refusal = Refusal { server, presented, reason, remedy };
    Error::InvalidCertificate(CertificateError::Other(OtherError(Arc::new(refusal))))
}

fn renew() -> String {
    "the directory needs a new certificate (ldap.ca_file must then hold it, or its CA)".to_owned()
}

fn check_clocks() -> String {
    "check this machine's clock and the directory's".to_owned()
}

/// A few words for errors with no sentence of their own above, never a
/// `Debug` rendering.
fn short_name(error: &Error) -> &'static str {
    match error {
        Error::InvalidCertificate(CertificateError::Revoked) => "revoked",
        Error::InvalidCertificate(CertificateError::UnhandledCriticalExtension) => {
            "it has a critical extension this service does not know"
        }
        Error::InvalidCertificate(
            CertificateError::InvalidPurpose | CertificateError::InvalidPurposeContext { .. },
        ) => "its extended key usage does not allow a TLS server",
        Error::InvalidCertificate(
            CertificateError::UnsupportedSignatureAlgorithmContext { .. }
            | CertificateError::UnsupportedSignatureAlgorithmForPublicKeyContext { .. },
        ) => "signed with an algorithm this service does not support",
        Error::InvalidCertificate(CertificateError::Other(OtherError(inner))) => {
            match inner.downcast_ref::<webpki::Error>() {
                Some(webpki::Error::EndEntityUsedAsCa) => "a certificate that is not a CA signed another",
                Some(webpki::Error::PathLenConstraintViolated) => "the chain is longer than a CA allows",
                Some(webpki::Error::NameConstraintViolation) => "the CA is not allowed to sign for this name",
                Some(webpki::Error::MaximumPathDepthExceeded) => "the chain is too long",
                _ => "refused by the certificate checks",
            }
        }
        _ => "refused by the certificate checks",
    }
}

/// The [`Refusal`] somewhere in `error`'s chain of sources, if a
/// certificate was refused on the way to it.
pub fn refusal_in<'a>(error: &'a (dyn StdError + 'static)) -> Option<&'a Refusal> {
    let mut next: Option<&(dyn StdError + 'static)> = Some(error);
    while let Some(error) = next {
        if let Some(io) = error.downcast_ref::<std::io::Error>()
            && let Some(inner) = io.get_ref()
            && let Some(found) = refusal_in(inner)
        {
            return Some(found);
        }
        if let Some(Error::InvalidCertificate(CertificateError::Other(OtherError(inner)))) =
            error.downcast_ref::<Error>()
        {
            return inner.downcast_ref::<Refusal>();
        }
        next = error.source();
    }
    None
}
