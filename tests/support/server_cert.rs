//! The shapes of certificate the directory fixtures serve.

/// How a fixture's server certificate is made (`CERT_SHAPE` of the
/// fixture scripts).
#[derive(Clone, Copy, Debug)]
pub enum CertShape {
    /// A test CA signs a CA:FALSE server certificate; clients trust the CA.
    CaSigned,
    /// One certificate from `openssl req -x509`, as the how-tos make it:
    /// OpenSSL 3 marks it CA:TRUE. Clients are given that very certificate
    /// as their CA file, as most administrators do.
    SelfSigned,
}

impl CertShape {
    pub fn name(self) -> &'static str {
        match self {
            CertShape::CaSigned => "ca-signed",
            CertShape::SelfSigned => "self-signed",
        }
    }
}
