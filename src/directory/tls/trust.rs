//! Which server certificates are trusted: the rule of OpenLDAP's client
//! (`ldapsearch` with `LDAPTLS_CACERT`), which is OpenSSL's.
//!
//! - A certificate that chains to one in `ldap.ca_file` (or, without it, to
//!   the system's roots) is trusted, as rustls's own verifier decides.
//! - A certificate that the server presents as its own and that is itself
//!   in `ldap.ca_file`, byte for byte, is trusted as it is. This is the
//!   self-signed certificate most directories present, which `openssl req
//!   -x509` marks CA:TRUE; rustls's verifier refuses it as a CA used as an
//!   end entity, which protects nothing the administrator asked for.
//! - Either way the host name and the validity period are checked, and the
//!   handshake's signature must be made with the certificate's key.
//! - A certificate without any subjectAltName is checked against its common
//!   name, as OpenSSL's clients do: older how-tos make only that.

use std::net::IpAddr;
use std::sync::Arc;

use rustls::client::WebPkiServerVerifier;
use rustls::client::danger::{HandshakeSignatureValid, ServerCertVerified, ServerCertVerifier};
use rustls::crypto::{CryptoProvider, WebPkiSupportedAlgorithms};
use rustls::pki_types::{CertificateDer, ServerName, UnixTime};
use rustls::{CertificateError, DigitallySignedStruct, Error, RootCertStore, SignatureScheme};
use tracing::warn;

use super::TlsSetupError;
use super::refusal::{TrustSource, refused};
use crate::certificates::Described;
use crate::step;

#[derive(Debug)]
pub(super) struct Trust {
    /// `ldap.ca_file`'s certificates, as they are; empty for the system's roots.
    listed: Vec<CertificateDer<'static>>,
    chains: Arc<WebPkiServerVerifier>,
    algorithms: WebPkiSupportedAlgorithms,
    source: TrustSource,
}

impl Trust {
    pub(super) fn in_ca_file(
        certs: &[CertificateDer<'static>],
        provider: Arc<CryptoProvider>,
    ) -> Result<Trust, TlsSetupError> {
        let mut roots = RootCertStore::empty();
        for cert in certs {
            roots.add(cert.clone()).map_err(|e| TlsSetupError::CaCertificate(e.to_string()))?;
        }
        Trust::new(certs.to_vec(), roots, provider, TrustSource::CaFile)
    }

    pub(super) fn in_system_roots(provider: Arc<CryptoProvider>) -> Result<Trust, TlsSetupError> {
        let mut roots = RootCertStore::empty();
        let native = rustls_native_certs::load_native_certs();
        for error in &native.errors {
            warn!(%error, "could not read some of the system's CA certificates");
        }
        let (added, _) = roots.add_parsable_certificates(native.certs);
        if added == 0 {
            warn!(
                "no system CA certificates found: set ldap.ca_file, or no server certificate will be trusted"
            );
        }
        Trust::new(Vec::new(), roots, provider, TrustSource::System)
    }

    fn new(
        listed: Vec<CertificateDer<'static>>,
        roots: RootCertStore,
        provider: Arc<CryptoProvider>,
        source: TrustSource,
    ) -> Result<Trust, TlsSetupError> {
        let algorithms = provider.signature_verification_algorithms;
        let chains = WebPkiServerVerifier::builder_with_provider(Arc::new(roots), provider)
            .build()
            .map_err(|e| TlsSetupError::CaCertificate(e.to_string()))?;
        Ok(Trust { listed, chains, algorithms, source })
    }

    /// A certificate from `ldap.ca_file`, presented as the server's own:
    /// trusted as it is, for its validity period and its names only.
    fn check_listed(
        &self,
        cert: &CertificateDer<'_>,
        server: &ServerName<'_>,
        now: UnixTime,
    ) -> Result<(), Error> {
        let described = Described::from_der(cert).ok_or(CertificateError::BadEncoding)?;
        let now_seconds = now.as_secs() as i64;
        if now_seconds < described.not_before {
            let not_before = UnixTime::since_unix_epoch(seconds(described.not_before));
            return Err(CertificateError::NotValidYetContext { time: now, not_before }.into());
        }
        if now_seconds > described.not_after {
            let not_after = UnixTime::since_unix_epoch(seconds(described.not_after));
            return Err(CertificateError::ExpiredContext { time: now, not_after }.into());
        }
        let names_server = webpki::EndEntityCert::try_from(cert)
            .map(|cert| cert.verify_is_valid_for_subject_name(server).is_ok())
            .unwrap_or(false);
        if names_server || common_name_is(&described, server) {
            Ok(())
        } else {
            Err(CertificateError::NotValidForName.into())
        }
    }
}

impl ServerCertVerifier for Trust {
    fn verify_server_cert(
        &self,
        end_entity: &CertificateDer<'_>,
        intermediates: &[CertificateDer<'_>],
        server: &ServerName<'_>,
        ocsp_response: &[u8],
        now: UnixTime,
    ) -> Result<ServerCertVerified, Error> {
        let listed = self.listed.iter().any(|listed| listed.as_ref() == end_entity.as_ref());
        let checked = if listed {
            self.check_listed(end_entity, server, now)
        } else {
            match self.chains.verify_server_cert(end_entity, intermediates, server, ocsp_response, now) {
                // The chain was checked before the name: only the name failed.
                Err(Error::InvalidCertificate(
                    CertificateError::NotValidForName | CertificateError::NotValidForNameContext { .. },
                )) if Described::from_der(end_entity).is_some_and(|d| common_name_is(&d, server)) => Ok(()),
                checked => checked.map(|_| ()),
            }
        };
        match checked {
            Ok(()) => {
                step!("{}", trusted_because(end_entity, intermediates, server, listed, self.source, now));
                Ok(ServerCertVerified::assertion())
            }
            Err(error) => Err(refused(end_entity, server, &error, self.source)),
        }
    }

    fn verify_tls12_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, Error> {
        rustls::crypto::verify_tls12_signature(message, cert, dss, &self.algorithms)
    }

    fn verify_tls13_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, Error> {
        rustls::crypto::verify_tls13_signature(message, cert, dss, &self.algorithms)
    }

    fn supported_verify_schemes(&self) -> Vec<SignatureScheme> {
        self.algorithms.supported_schemes()
    }
}

/// What the server presented and why it is trusted, in words.
fn trusted_because(
    cert: &CertificateDer<'_>,
    intermediates: &[CertificateDer<'_>],
    server: &ServerName<'_>,
    listed: bool,
    source: TrustSource,
    now: UnixTime,
) -> String {
    let presented = Described::from_der(cert)
        .map(|d| format!("{d}, {} days left", d.days_left(now.as_secs() as i64)))
        .unwrap_or_else(|| "a certificate".to_owned());
    let chain = match intermediates.len() {
        0 => String::new(),
        1 => " with 1 intermediate CA certificate".to_owned(),
        n => format!(" with {n} intermediate CA certificates"),
    };
    let why = match (listed, source) {
        (true, _) => "it is itself in ldap.ca_file",
        (false, TrustSource::CaFile) => "it chains to a certificate in ldap.ca_file",
        (false, TrustSource::System) => "it chains to one of the system's CA certificates",
    };
    format!(
        "TLS: {} presented {presented}{chain}; trusted, as {why}, and it names {}",
        server.to_str(),
        server.to_str()
    )
}

fn seconds(unix: i64) -> std::time::Duration {
    std::time::Duration::from_secs(unix.max(0) as u64)
}

/// Whether a certificate with no subjectAltName names `server` as its
/// common name: exactly, ignoring the case of a DNS name.
fn common_name_is(described: &Described, server: &ServerName<'_>) -> bool {
    if !described.alt_names.is_empty() {
        return false;
    }
    let Some(common_name) = &described.common_name else { return false };
    match server {
        ServerName::DnsName(name) => common_name.eq_ignore_ascii_case(name.as_ref()),
        ServerName::IpAddress(ip) => common_name.parse::<IpAddr>().is_ok_and(|cn| cn == IpAddr::from(*ip)),
        _ => false,
    }
}
