//! What LDAP answers mean: the one place where result codes and client
//! errors are turned into meanings the rest of the directory code acts on.

use ldap3::LdapError;

/// A directory operation that did not give an answer the caller can act on.
#[derive(Debug, Clone, thiserror::Error)]
pub enum DirectoryError {
    /// The directory could not be reached, or did not answer in time.
    /// Requests that meet this are answered 503; logins are not failed by it.
    #[error("directory unavailable: {0}")]
    Unavailable(String),
    /// The directory answered, but with an error this service cannot turn
    /// into an answer (a misconfiguration, missing rights, a bug).
    #[error("{operation} refused: result code {rc} ({}){}", name(*.rc), diagnostic(.text))]
    Refused { operation: &'static str, rc: u32, text: String },
    /// The directory's password policy refused a new password (too short,
    /// too recent, in the history). Only a write of the password itself is
    /// ever turned into this, by [`DirectoryError::as_password_refusal`].
    #[error("{operation} refused by the password policy: result code {rc} ({}){}", name(*.rc), diagnostic(.text))]
    PasswordRefused { operation: &'static str, rc: u32, text: String },
    /// The LDAP client itself failed before anything was sent.
    #[error("{operation} failed in the LDAP client: {message}")]
    Client { operation: &'static str, message: String },
}

fn diagnostic(text: &str) -> String {
    if text.is_empty() { String::new() } else { format!(": {text}") }
}

/// The RFC 4511 name of a result code, for log lines an operator can search for.
pub(crate) fn name(rc: u32) -> &'static str {
    match rc {
        0 => "success",
        1 => "operationsError",
        2 => "protocolError",
        3 => "timeLimitExceeded",
        4 => "sizeLimitExceeded",
        7 => "authMethodNotSupported",
        8 => "strongerAuthRequired",
        10 => "referral",
        11 => "adminLimitExceeded",
        12 => "unavailableCriticalExtension",
        13 => "confidentialityRequired",
        16 => "noSuchAttribute",
        17 => "undefinedAttributeType",
        19 => "constraintViolation",
        20 => "attributeOrValueExists",
        21 => "invalidAttributeSyntax",
        32 => "noSuchObject",
        34 => "invalidDNSyntax",
        48 => "inappropriateAuthentication",
        49 => "invalidCredentials",
        50 => "insufficientAccessRights",
        51 => "busy",
        52 => "unavailable",
        53 => "unwillingToPerform",
        64 => "namingViolation",
        65 => "objectClassViolation",
        66 => "notAllowedOnNonLeaf",
        68 => "entryAlreadyExists",
        80 => "other",
        _ => "unknown result code",
    }
}

/// The meaning of an LDAP result code for this service.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Meaning {
    Success,
    /// 49: wrong password or no such DN (the directory does not say which).
    InvalidCredentials,
    /// 32
    NoSuchObject,
    /// 68
    AlreadyExists,
    /// 4: more entries than were asked for.
    SizeLimitExceeded,
    /// 19 constraintViolation, 53 unwillingToPerform: a policy said no
    /// (a locked account, a password that fails the quality rules).
    PolicyRefused,
    /// 3 timeLimitExceeded, 51 busy, 52 unavailable, 80 other: try again later.
    Unavailable,
    Other,
}

pub(crate) fn meaning(rc: u32) -> Meaning {
    match rc {
        0 => Meaning::Success,
        49 => Meaning::InvalidCredentials,
        32 => Meaning::NoSuchObject,
        68 => Meaning::AlreadyExists,
        4 => Meaning::SizeLimitExceeded,
        19 | 53 => Meaning::PolicyRefused,
        3 | 51 | 52 | 80 => Meaning::Unavailable,
        _ => Meaning::Other,
    }
}

impl DirectoryError {
    /// For the error of an operation that wrote a password: a policy
    /// refusal (constraintViolation, unwillingToPerform) becomes
    /// [`DirectoryError::PasswordRefused`]; anything else is left as it is.
    pub fn as_password_refusal(self) -> Self {
        match self {
            DirectoryError::Refused { operation, rc, text } if meaning(rc) == Meaning::PolicyRefused => {
                DirectoryError::PasswordRefused { operation, rc, text }
            }
            other => other,
        }
    }

    pub(crate) fn from_result(operation: &'static str, result: &ldap3::LdapResult) -> Self {
        if meaning(result.rc) == Meaning::Unavailable {
            DirectoryError::Unavailable(format!(
                "{operation}: result code {}{}",
                result.rc,
                diagnostic(&result.text)
            ))
        } else {
            DirectoryError::Refused { operation, rc: result.rc, text: result.text.clone() }
        }
    }

    pub(crate) fn from_client(operation: &'static str, error: LdapError) -> Self {
        match error {
            LdapError::LdapResult { result } => Self::from_result(operation, &result),
            e if connection_lost(&e) || matches!(e, LdapError::Timeout { .. }) => {
                DirectoryError::Unavailable(format!("{operation}: {e}"))
            }
            e => DirectoryError::Client { operation, message: e.to_string() },
        }
    }
}

/// `Ok` for a successful result, the error it means otherwise.
pub(crate) fn succeeded(operation: &'static str, result: &ldap3::LdapResult) -> Result<(), DirectoryError> {
    match meaning(result.rc) {
        Meaning::Success => Ok(()),
        _ => Err(DirectoryError::from_result(operation, result)),
    }
}

/// Whether the connection is gone, so that a fresh one might succeed.
pub(crate) fn connection_lost(error: &LdapError) -> bool {
    matches!(
        error,
        LdapError::Io { .. }
            | LdapError::OpSend { .. }
            | LdapError::ResultRecv { .. }
            | LdapError::IdScrubSend { .. }
            | LdapError::MiscSend { .. }
            | LdapError::EndOfStream
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn busy_and_unavailable_servers_are_not_wrong_passwords() {
        assert_eq!(meaning(51), Meaning::Unavailable);
        assert_eq!(meaning(52), Meaning::Unavailable);
        assert_eq!(meaning(49), Meaning::InvalidCredentials);
    }

    #[test]
    fn unavailable_results_become_unavailable_errors() {
        let result = ldap3::LdapResult {
            rc: 52,
            matched: String::new(),
            text: "shutting down".into(),
            refs: vec![],
            ctrls: vec![],
        };
        assert!(matches!(DirectoryError::from_result("search", &result), DirectoryError::Unavailable(_)));
        let result = ldap3::LdapResult { rc: 50, ..result };
        assert!(matches!(
            DirectoryError::from_result("search", &result),
            DirectoryError::Refused { rc: 50, .. }
        ));
    }
}
