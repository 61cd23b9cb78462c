//! The TLS client configuration for connections to the directory, built
//! from the certificates the configuration read: whom to trust
//! ([`trust`]), an optional client certificate, and, only when the
//! configuration says so, no verification at all.
//!
//! - [`trust`]: which server certificates are accepted, as OpenLDAP's
//!   client accepts them.
//! - [`refusal`]: why one was not, in an administrator's words.

mod refusal;
mod trust;

use std::sync::Arc;

use rustls::client::danger::{HandshakeSignatureValid, ServerCertVerified, ServerCertVerifier};
use rustls::crypto::WebPkiSupportedAlgorithms;
use rustls::pki_types::{CertificateDer, ServerName, UnixTime};
use rustls::{ClientConfig, DigitallySignedStruct, SignatureScheme};

use crate::config;
pub use refusal::{Refusal, refusal_in};
use trust::Trust;

/// What rustls refused when the client configuration was built.
#[derive(Debug, thiserror::Error)]
pub enum TlsSetupError {
    #[error("not a usable CA certificate: {0}")]
    CaCertificate(String),
    #[error("the client certificate and key do not go together: {0}")]
    ClientIdentity(String),
    #[error("TLS cannot be set up: {0}")]
    Protocol(String),
}

impl TlsSetupError {
    /// The configuration key to change.
    pub fn key(&self) -> &'static str {
        match self {
            TlsSetupError::CaCertificate(_) => "ldap.ca_file",
            TlsSetupError::ClientIdentity(_) | TlsSetupError::Protocol(_) => "ldap.client_key_file",
        }
    }
}

/// The client configuration for `settings`; `None` when no server is
/// reached over TLS.
pub fn client_config(settings: &config::Ldap) -> Result<Option<Arc<ClientConfig>>, TlsSetupError> {
    let tls_somewhere = settings.starttls || settings.url.iter().any(|url| url.scheme() == "ldaps");
    if !tls_somewhere {
        return Ok(None);
    }
    let material = &settings.tls;
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let algorithms = provider.signature_verification_algorithms;
    let builder = ClientConfig::builder_with_provider(provider.clone())
        .with_safe_default_protocol_versions()
        .map_err(|e| TlsSetupError::Protocol(e.to_string()))?
        .dangerous();
    let builder = if settings.tls_insecure_skip_verify {
        builder.with_custom_certificate_verifier(Arc::new(AnyCertificate(algorithms)))
    } else {
        let trust = match &material.ca_certs {
            Some(certs) => Trust::in_ca_file(certs, provider)?,
            None => Trust::in_system_roots(provider)?,
        };
        builder.with_custom_certificate_verifier(Arc::new(trust))
    };
    let config = match &material.client_identity {
        Some(identity) => builder
            .with_client_auth_cert(identity.chain.clone(), identity.key.clone_key())
            .map_err(|e| TlsSetupError::ClientIdentity(e.to_string()))?,
        None => builder.with_no_client_auth(),
    };
    Ok(Some(Arc::new(config)))
}

/// Accepts any certificate, but still checks that the server holds the key
/// of the certificate it sent: `ldap.tls_insecure_skip_verify`.
#[derive(Debug)]
struct AnyCertificate(WebPkiSupportedAlgorithms);

impl ServerCertVerifier for AnyCertificate {
    fn verify_server_cert(
        &self,
        _end_entity: &CertificateDer<'_>,
        _intermediates: &[CertificateDer<'_>],
        _server_name: &ServerName<'_>,
        _ocsp_response: &[u8],
        _now: UnixTime,
    ) -> Result<ServerCertVerified, rustls::Error> {
        Ok(ServerCertVerified::assertion())
    }

    fn verify_tls12_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        rustls::crypto::verify_tls12_signature(message, cert, dss, &self.0)
    }

    fn verify_tls13_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        rustls::crypto::verify_tls13_signature(message, cert, dss, &self.0)
    }

    fn supported_verify_schemes(&self) -> Vec<SignatureScheme> {
        self.0.supported_schemes()
    }
}
