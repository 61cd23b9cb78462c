//! What a directory says about an account when a bind fails or succeeds
//! with conditions: OpenLDAP's password policy response control, and the
//! sub-codes Active Directory puts in its bind diagnostics. Each becomes a
//! reason for the log; none ever turns a failed bind into a success.

use ldap3::asn1::{PL, StructureTag, TagClass, parse_tag};
use ldap3::controls::Control;

/// The password policy control (draft-behera-ldap-password-policy), which
/// OpenLDAP's ppolicy overlay answers on binds. Sent with every user bind
/// without a value and not critical, so a directory without the overlay
/// simply ignores it.
pub(crate) const PASSWORD_POLICY_OID: &str = "1.3.6.1.4.1.42.2.27.8.5.1";

/// What the policy response reports, when the directory sent one.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum PolicyState {
    /// An error: the account may not be used, whatever the bind said.
    Error(&'static str),
    /// A warning on a successful bind: the password expires soon, or grace
    /// logins are being used up.
    Warning(String),
    Fine,
}

/// The password policy response among `controls`, if any.
pub(crate) fn password_policy_response(controls: &[Control]) -> Option<PolicyState> {
    let control = controls.iter().find(|Control(_, raw)| raw.ctype == PASSWORD_POLICY_OID)?;
    Some(parse_policy_value(control.1.val.as_deref().unwrap_or_default()))
}

/// Decodes `PasswordPolicyResponseValue ::= SEQUENCE { warning [0] CHOICE
/// { timeBeforeExpiration [0] INTEGER, graceAuthNsRemaining [1] INTEGER }
/// OPTIONAL, error [1] ENUMERATED OPTIONAL }` with ldap3's BER reader. A
/// value that cannot be read is reported as fine: the bind's own result
/// code still decides.
fn parse_policy_value(value: &[u8]) -> PolicyState {
    let Some(fields) =
        parse_tag(value).ok().and_then(|(_, tag)| tag.match_id(SEQUENCE)?.expect_constructed())
    else {
        return PolicyState::Fine;
    };
    let mut warning = None;
    for field in fields.into_iter().filter(|field| field.class == TagClass::Context) {
        match (field.id, field.payload) {
            (0, PL::C(choice)) => {
                warning = match choice.first() {
                    Some(StructureTag { class: TagClass::Context, id: 0, payload: PL::P(seconds) }) => {
                        Some(format!("password expires in {} s", integer(seconds)))
                    }
                    Some(StructureTag { class: TagClass::Context, id: 1, payload: PL::P(logins) }) => {
                        Some(format!("{} grace logins left", integer(logins)))
                    }
                    _ => None,
                }
            }
            (1, PL::P(error)) => return PolicyState::Error(policy_error(integer(&error))),
            _ => {}
        }
    }
    warning.map_or(PolicyState::Fine, PolicyState::Warning)
}

/// The universal tag number of a SEQUENCE.
const SEQUENCE: u64 = 16;

fn policy_error(code: u64) -> &'static str {
    match code {
        0 => "password expired (password policy)",
        1 => "account locked (password policy)",
        2 => "password must be changed after a reset (password policy)",
        3 => "password change not allowed (password policy)",
        4 => "old password required (password policy)",
        5 => "password quality insufficient (password policy)",
        6 => "password too short (password policy)",
        7 => "password changed too recently (password policy)",
        8 => "password in history (password policy)",
        _ => "password policy error (password policy)",
    }
}

fn integer(bytes: &[u8]) -> u64 {
    bytes.iter().take(8).fold(0, |n, &b| (n << 8) | u64::from(b))
}

/// The reason in an Active Directory bind diagnostic such as
/// `80090308: LdapErr: DSID-0C09044E, comment: AcceptSecurityContext error,
/// data 775, v4563`. Samba and Windows use the same codes.
pub(crate) fn active_directory_reason(diagnostic: &str) -> Option<&'static str> {
    let code = diagnostic.split("data ").nth(1)?.split([',', ' ']).next()?;
    Some(match code.to_ascii_lowercase().as_str() {
        "525" => "no such user (AD 525)",
        "52e" => "invalid credentials (AD 52e)",
        "530" => "not permitted to log on at this time (AD 530)",
        "531" => "not permitted to log on from this workstation (AD 531)",
        "532" => "password expired (AD 532)",
        "533" => "account disabled (AD 533)",
        "701" => "account expired (AD 701)",
        "773" => "password must be changed (AD 773)",
        "775" => "account locked out (AD 775)",
        _ => return None,
    })
}

#[cfg(test)]
mod tests {
    use ldap3::controls::RawControl;

    use super::*;

    fn response(value: &[u8]) -> Vec<Control> {
        vec![Control(
            None,
            RawControl { ctype: PASSWORD_POLICY_OID.into(), crit: false, val: Some(value.to_vec()) },
        )]
    }

    #[test]
    fn policy_errors_are_named() {
        // SEQUENCE { error [1] accountLocked(1) }
        assert_eq!(
            password_policy_response(&response(&[0x30, 0x03, 0x81, 0x01, 0x01])),
            Some(PolicyState::Error("account locked (password policy)"))
        );
        assert_eq!(
            password_policy_response(&response(&[0x30, 0x03, 0x81, 0x01, 0x00])),
            Some(PolicyState::Error("password expired (password policy)"))
        );
        assert_eq!(
            password_policy_response(&response(&[0x30, 0x03, 0x81, 0x01, 0x02])),
            Some(PolicyState::Error("password must be changed after a reset (password policy)"))
        );
    }

    #[test]
    fn policy_warnings_are_read() {
        // SEQUENCE { warning [0] { timeBeforeExpiration [0] 3600 } }
        let value = [0x30, 0x06, 0xa0, 0x04, 0x80, 0x02, 0x0e, 0x10];
        assert_eq!(
            password_policy_response(&response(&value)),
            Some(PolicyState::Warning("password expires in 3600 s".into()))
        );
        let grace = [0x30, 0x05, 0xa0, 0x03, 0x81, 0x01, 0x02];
        assert_eq!(
            password_policy_response(&response(&grace)),
            Some(PolicyState::Warning("2 grace logins left".into()))
        );
    }

    #[test]
    fn no_control_or_an_empty_one() {
        assert_eq!(password_policy_response(&[]), None);
        assert_eq!(password_policy_response(&response(&[0x30, 0x00])), Some(PolicyState::Fine));
    }

    #[test]
    fn malformed_values_never_panic() {
        for value in [
            &[][..],
            &[0x30],
            &[0x30, 0x05, 0x81],
            &[0x30, 0x84, 0xff, 0xff, 0xff, 0xff],
            &[0x30, 0x02, 0xa0, 0x7f],
            &[0x81; 64],
        ] {
            let _ = password_policy_response(&response(value));
        }
    }

    #[test]
    fn active_directory_sub_codes() {
        let text = "80090308: LdapErr: DSID-0C09044E, comment: AcceptSecurityContext error, data 775, v4563";
        assert_eq!(active_directory_reason(text), Some("account locked out (AD 775)"));
        let samba = "80090308: LdapErr: DSID-0C0903A9, comment: AcceptSecurityContext error, data 533, v1db1";
        assert_eq!(active_directory_reason(samba), Some("account disabled (AD 533)"));
        for (code, word) in [
            ("52e", "invalid"),
            ("525", "no such"),
            ("530", "time"),
            ("531", "workstation"),
            ("532", "expired"),
            ("701", "expired"),
            ("773", "changed"),
        ] {
            let reason =
                active_directory_reason(&format!("AcceptSecurityContext error, data {code}, v1db1")).unwrap();
            assert!(reason.contains(word) && reason.contains(code), "{code}: {reason}");
        }
        assert_eq!(active_directory_reason("invalid credentials"), None);
        assert_eq!(active_directory_reason("data 999, v1"), None);
    }
}
