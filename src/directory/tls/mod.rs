//! The TLS client configuration for connections to the directory: the
//! system's roots or the configured CA, an optional client certificate, and,
//! only when the configuration says so, no verification at all.

use std::sync::Arc;

use rustls::client::danger::{HandshakeSignatureValid, ServerCertVerified, ServerCertVerifier};
use rustls::crypto::WebPkiSupportedAlgorithms;
use rustls::pki_types::{CertificateDer, ServerName, UnixTime};
use rustls::{ClientConfig, DigitallySignedStruct, RootCertStore, SignatureScheme};
use tracing::warn;

use crate::config::TlsMaterial;

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

/// Builds the client configuration.
pub fn client_config(material: &TlsMaterial, insecure: bool) -> Result<Arc<ClientConfig>, TlsSetupError> {
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let builder = ClientConfig::builder_with_provider(provider.clone())
        .with_safe_default_protocol_versions()
        .map_err(|e| TlsSetupError::Protocol(e.to_string()))?;
    let builder = if insecure {
        let verifier = AnyCertificate(provider.signature_verification_algorithms);
        builder.dangerous().with_custom_certificate_verifier(Arc::new(verifier))
    } else {
        builder.with_root_certificates(roots(material)?)
    };
    let config = match &material.client_identity {
        Some(identity) => builder
            .with_client_auth_cert(identity.chain.clone(), identity.key.clone_key())
            .map_err(|e| TlsSetupError::ClientIdentity(e.to_string()))?,
        None => builder.with_no_client_auth(),
    };
    Ok(Arc::new(config))
}

fn roots(material: &TlsMaterial) -> Result<RootCertStore, TlsSetupError> {
    let mut roots = RootCertStore::empty();
    match &material.ca_certs {
        Some(certs) => {
            for cert in certs.iter() {
                roots.add(cert.clone()).map_err(|e| TlsSetupError::CaCertificate(e.to_string()))?;
            }
        }
        None => {
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
        }
    }
    Ok(roots)
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
