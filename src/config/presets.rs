//! Directory presets (`ldap.directory`): defaults for the user filter, the
//! password change and registration that suit each kind of directory. Any
//! key set in the file, or in a `[hosts]` table, overrides them.

use figment::Figment;
use figment::providers::{Format, Toml};
use serde::{Deserialize, Serialize};

use crate::template::FilterTemplate;

/// The kinds of directory with presets.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum DirectoryKind {
    #[default]
    Openldap,
    ActiveDirectory,
    #[serde(rename = "389ds")]
    Ds389,
    Freeipa,
    Lldap,
}

impl DirectoryKind {
    /// The preset as TOML tables, laid under the configuration's own.
    pub(super) fn preset(self) -> &'static str {
        match self {
            // The built-in defaults are OpenLDAP's.
            DirectoryKind::Openldap => "",
            // Disabled accounts still match a plain sAMAccountName filter;
            // passwords are written as unicodePwd, which AD accepts only
            // over TLS; it has no Password Modify operation.
            DirectoryKind::ActiveDirectory => {
                r#"
                [users]
                filter = "(&(objectClass=user)(objectCategory=person)(sAMAccountName={user})(!(userAccountControl:1.2.840.113556.1.4.803:=2)))"
                [operations]
                password_change = "modify"
                password_attribute = "unicodePwd"
                [register]
                object_classes = ["top", "person", "organizationalPerson", "user"]
                attributes = { sAMAccountName = "{user}", userPrincipalName = "{user}@{server}", cn = "{user}", userAccountControl = "512" }
                password = "attribute"
                "#
            }
            // 389-DS hashes a clear-text userPassword itself, and wants it over TLS.
            DirectoryKind::Ds389 => {
                r#"
                [register]
                password = "attribute"
                "#
            }
            DirectoryKind::Freeipa => {
                r#"
                [users]
                filter = "(&(objectClass=posixAccount)(uid={user})(!(nsAccountLock=TRUE)))"
                "#
            }
            DirectoryKind::Lldap => {
                r#"
                [users]
                filter = "(&(objectClass=person)(uid={user}))"
                "#
            }
        }
    }

    /// The name `ldap.directory` gives it.
    pub fn name(self) -> &'static str {
        match self {
            DirectoryKind::Openldap => "openldap",
            DirectoryKind::ActiveDirectory => "active-directory",
            DirectoryKind::Ds389 => "389ds",
            DirectoryKind::Freeipa => "freeipa",
            DirectoryKind::Lldap => "lldap",
        }
    }

    /// For a preset whose user filter leaves disabled accounts out: a filter
    /// that finds the disabled account of a user name, and the reason to log
    /// for it. A login that matched nothing is looked up with it, so that
    /// the log says "disabled" where the administrator sees the account.
    pub fn disabled_accounts(self) -> Option<(FilterTemplate, &'static str)> {
        let (filter, reason) = match self {
            DirectoryKind::ActiveDirectory => (
                "(&(objectClass=user)(objectCategory=person)(sAMAccountName={user})(userAccountControl:1.2.840.113556.1.4.803:=2))",
                "account disabled (userAccountControl ACCOUNTDISABLE)",
            ),
            DirectoryKind::Freeipa => (
                "(&(objectClass=posixAccount)(uid={user})(nsAccountLock=TRUE))",
                "account disabled (nsAccountLock)",
            ),
            _ => return None,
        };
        FilterTemplate::try_from(filter.to_owned()).ok().map(|filter| (filter, reason))
    }

    /// Whether group membership is searched through nested groups, which
    /// only Active Directory can do in one search.
    pub fn nested_groups(self) -> bool {
        self == DirectoryKind::ActiveDirectory
    }
}

/// The preset of the kind the configuration names, as a figment to lay the
/// configuration's own tables over.
pub(super) fn preset_figment(kind: DirectoryKind) -> Figment {
    Figment::from(Toml::string(kind.preset()))
}

#[cfg(test)]
mod tests {
    use crate::config::{PasswordChange, RegisterPassword, load_str};

    fn host(toml: &str) -> crate::config::HostSettings {
        let settings = load_str(toml).unwrap_or_else(|e| panic!("{e}\n{toml}"));
        settings.host("example.com").unwrap().clone()
    }

    const AD: &str = "[ldap]\ndirectory = \"active-directory\"\nurl = \"ldaps://dc1.example.com\"\n\
                      [users]\nbase_dn = \"CN=Users,DC=example,DC=com\"\n";

    #[test]
    fn active_directory_finds_enabled_accounts_by_sam_account_name() {
        let host = host(AD);
        let filter = host.users.filter.render("romeo", "example.com");
        assert!(
            filter.contains("(sAMAccountName=romeo)")
                && filter.contains("(!(userAccountControl:1.2.840.113556.1.4.803:=2))"),
            "{filter}"
        );
        assert_eq!(host.operations.password_change, PasswordChange::Modify);
        assert_eq!(host.operations.password_attribute, "unicodePwd");
        assert_eq!(host.register.password, RegisterPassword::Attribute);
        assert!(host.register.object_classes.contains(&"user".to_owned()));
        let upn = host.register.attributes["userPrincipalName"].render("romeo", "example.com");
        assert_eq!(upn, "romeo@example.com");
    }

    #[test]
    fn explicit_keys_override_the_preset() {
        let host = host(&format!(
            "{AD}filter = \"(&(objectClass=user)(userPrincipalName={{user}}@example.com))\"\n"
        ));
        assert_eq!(
            host.users.filter.render("romeo", ""),
            "(&(objectClass=user)(userPrincipalName=romeo@example.com))"
        );
        assert_eq!(host.operations.password_attribute, "unicodePwd");
    }

    #[test]
    fn every_preset_loads() {
        for kind in ["openldap", "active-directory", "389ds", "freeipa", "lldap"] {
            let toml = format!(
                "[ldap]\ndirectory = \"{kind}\"\nurl = \"ldaps://dc1\"\n[users]\nbase_dn = \"dc=x\"\n"
            );
            let host = host(&toml);
            assert!(host.users.filter.render("romeo", "").contains("romeo"), "{kind}");
        }
        let e = load_str("[ldap]\ndirectory = \"novell\"\n[users]\nbase_dn = \"dc=x\"\n")
            .unwrap_err()
            .to_string();
        assert!(e.contains("ldap.directory"), "{e}");
    }

    #[test]
    fn unicode_pwd_is_never_written_in_clear_text() {
        let plain = "[ldap]\ndirectory = \"active-directory\"\nurl = \"ldap://127.0.0.1\"\n[users]\nbase_dn = \"dc=x\"\n";
        assert!(load_str(plain).is_ok(), "reading needs no TLS");
        let e = load_str(&format!("{plain}[operations]\nset_password = true\n")).unwrap_err().to_string();
        assert!(e.contains("operations.password_attribute") && e.contains("TLS"), "{e}");
        let starttls =
            plain.replace("url = \"ldap://127.0.0.1\"", "url = \"ldap://127.0.0.1\"\nstarttls = true");
        assert!(load_str(&format!("{starttls}[operations]\nset_password = true\n")).is_ok());
    }

    #[test]
    fn writes_to_389_ds_need_tls() {
        let plain =
            "[ldap]\ndirectory = \"389ds\"\nurl = \"ldap://127.0.0.1\"\n[users]\nbase_dn = \"dc=x\"\n";
        assert!(load_str(plain).is_ok(), "reading needs no TLS");
        let e = load_str(&format!("{plain}[operations]\nset_password = true\n")).unwrap_err().to_string();
        assert!(e.contains("operations.set_password") && e.contains("TLS"), "{e}");
    }
}
