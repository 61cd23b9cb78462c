//! Certificates described in an administrator's words: who they name, who
//! issued them, when they are valid and for which host names. Used to say
//! what `ldap.ca_file` holds and why a directory's certificate was refused.
//! Decides nothing: trust is the directory's TLS code's job.

use std::fmt;
use std::net::IpAddr;

use x509_parser::certificate::X509Certificate;
use x509_parser::extensions::GeneralName;
use x509_parser::prelude::FromDer;
use x509_parser::time::ASN1Time;

/// What a certificate says about itself.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Described {
    pub subject: String,
    pub issuer: String,
    /// Unix seconds.
    pub not_before: i64,
    pub not_after: i64,
    /// The DNS names and IP addresses of its subjectAltName.
    pub alt_names: Vec<String>,
    /// The subject's common name, which clients fall back to when the
    /// certificate has no subjectAltName of those kinds.
    pub common_name: Option<String>,
    /// basicConstraints CA:TRUE, which `openssl req -x509` sets by default.
    pub is_ca: bool,
}

impl Described {
    /// `der` described, or `None` when it is not a certificate.
    pub fn from_der(der: &[u8]) -> Option<Described> {
        let (_, cert) = X509Certificate::from_der(der).ok()?;
        let alt_names = match cert.subject_alternative_name() {
            Ok(Some(extension)) => extension.value.general_names.iter().filter_map(alt_name).collect(),
            _ => Vec::new(),
        };
        let common_name =
            cert.subject().iter_common_name().next().and_then(|cn| cn.as_str().ok()).map(str::to_owned);
        Some(Described {
            subject: cert.subject().to_string(),
            issuer: cert.issuer().to_string(),
            not_before: cert.validity().not_before.timestamp(),
            not_after: cert.validity().not_after.timestamp(),
            alt_names,
            common_name,
            is_ca: cert.is_ca(),
        })
    }

    pub fn is_self_issued(&self) -> bool {
        self.subject == self.issuer
    }

    /// The names a client checks the server's name against: the
    /// subjectAltName's, or the common name when it has none.
    pub fn host_names(&self) -> Vec<String> {
        if self.alt_names.is_empty() {
            self.common_name.iter().cloned().collect()
        } else {
            self.alt_names.clone()
        }
    }

    /// Whole days from `now` (Unix seconds) until it expires; negative once it has.
    pub fn days_left(&self, now: i64) -> i64 {
        (self.not_after - now).div_euclid(86_400)
    }
}

impl fmt::Display for Described {
    /// `subject "CN=ldap.corp.example", issued by "CN=Corp CA", valid 2026-01-01 to 2027-01-01`
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "subject \"{}\", ", self.subject)?;
        if self.is_self_issued() {
            f.write_str("self-signed")?;
        } else {
            write!(f, "issued by \"{}\"", self.issuer)?;
        }
        write!(f, ", valid {} to {}", date(self.not_before), date(self.not_after))
    }
}

/// A Unix time as the day it falls on, `2020-02-01` (UTC).
pub fn date(unix_seconds: i64) -> String {
    match ASN1Time::from_timestamp(unix_seconds) {
        Ok(time) => time.to_datetime().date().to_string(),
        Err(_) => unix_seconds.to_string(),
    }
}

fn alt_name(name: &GeneralName<'_>) -> Option<String> {
    match name {
        GeneralName::DNSName(name) => Some((*name).to_owned()),
        GeneralName::IPAddress(bytes) => match bytes.len() {
            4 => Some(IpAddr::from(<[u8; 4]>::try_from(*bytes).ok()?).to_string()),
            16 => Some(IpAddr::from(<[u8; 16]>::try_from(*bytes).ok()?).to_string()),
            _ => None,
        },
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::date;

    #[test]
    fn dates_are_days_in_utc() {
        assert_eq!(date(1_580_515_200), "2020-02-01");
        assert_eq!(date(1_580_601_599), "2020-02-01");
    }
}
