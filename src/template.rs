//! Configured LDAP strings with `{user}` and `{server}` placeholders.
//!
//! Each kind of template knows how its values must be escaped, so a value is
//! escaped exactly once, where it is inserted, and never by a caller:
//! a [`FilterTemplate`] escapes per RFC 4515, a [`DnTemplate`] per RFC 4514,
//! and a [`ValueTemplate`] (an attribute value sent as raw bytes) not at all.
//! Templates are checked when the configuration is read, so a bad one is a
//! configuration error that names its key, never a failure at request time.

use std::borrow::Cow;
use std::fmt;

use serde::{Deserialize, Serialize};

#[derive(Debug, Clone, PartialEq, Eq)]
enum Piece {
    Text(String),
    User,
    Server,
}

/// A parsed template: literal text and placeholders.
#[derive(Clone, PartialEq, Eq)]
struct Template {
    source: String,
    pieces: Vec<Piece>,
}

impl Template {
    fn parse(source: &str) -> Result<Self, String> {
        let mut pieces = Vec::new();
        let mut rest = source;
        while let Some(open) = rest.find('{') {
            if open > 0 {
                pieces.push(Piece::Text(rest[..open].to_owned()));
            }
            let after = &rest[open + 1..];
            let close = after.find('}').ok_or_else(|| format!("unclosed '{{' in {source:?}"))?;
            pieces.push(match &after[..close] {
                "user" => Piece::User,
                "server" => Piece::Server,
                other => {
                    return Err(format!(
                        "unknown placeholder {{{other}}} in {source:?} (known: {{user}}, {{server}})"
                    ));
                }
            });
            rest = &after[close + 1..];
        }
        if !rest.is_empty() {
            pieces.push(Piece::Text(rest.to_owned()));
        }
        Ok(Template { source: source.to_owned(), pieces })
    }

    fn require_user(self) -> Result<Self, String> {
        if self.pieces.contains(&Piece::User) {
            Ok(self)
        } else {
            Err(format!("{:?} must contain the {{user}} placeholder", self.source))
        }
    }

    fn render<F>(&self, user: &str, server: &str, escape: F) -> String
    where
        F: for<'a> Fn(&'a str) -> Cow<'a, str>,
    {
        let mut out = String::with_capacity(self.source.len() + user.len() * 3);
        for piece in &self.pieces {
            match piece {
                Piece::Text(text) => out.push_str(text),
                Piece::User => out.push_str(&escape(user)),
                Piece::Server => out.push_str(&escape(server)),
            }
        }
        out
    }
}

impl fmt::Debug for Template {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Debug::fmt(&self.source, f)
    }
}

macro_rules! template_type {
    ($(#[$doc:meta])* $name:ident, $check:expr) => {
        $(#[$doc])*
        #[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
        #[serde(try_from = "String", into = "String")]
        pub struct $name(Template);

        impl TryFrom<String> for $name {
            type Error = String;
            fn try_from(source: String) -> Result<Self, String> {
                let check: fn(Template) -> Result<Template, String> = $check;
                Template::parse(&source).and_then(check).map($name)
            }
        }

        impl From<$name> for String {
            fn from(template: $name) -> String {
                template.0.source
            }
        }
    };
}

template_type!(
    /// A search filter; values are escaped per RFC 4515.
    FilterTemplate,
    |t| {
        let t = t.require_user()?;
        let sample = t.render("x", "x", |v| Cow::Borrowed(v));
        ldap3::parse_filter(&sample)
            .map_err(|_| format!("{:?} is not a valid LDAP filter", t.source))?;
        Ok(t)
    }
);

template_type!(
    /// A distinguished name; values are escaped per RFC 4514.
    DnTemplate,
    Template::require_user
);

template_type!(
    /// An attribute value; sent as raw bytes, so nothing is escaped.
    ValueTemplate,
    Ok
);

impl FilterTemplate {
    /// `(&(objectClass=inetOrgPerson)(uid={user}))`, the default user filter.
    pub fn inet_org_person_by_uid() -> Self {
        FilterTemplate(Template {
            source: "(&(objectClass=inetOrgPerson)(uid={user}))".into(),
            pieces: vec![
                Piece::Text("(&(objectClass=inetOrgPerson)(uid=".into()),
                Piece::User,
                Piece::Text("))".into()),
            ],
        })
    }

    pub fn render(&self, user: &str, server: &str) -> String {
        self.0.render(user, server, |v| ldap3::ldap_escape(v))
    }

    /// The filter for any user of `server` (of any server when `None`):
    /// the placeholders become the wildcard, unescaped, to find whether the
    /// filter matches anyone at all. A given server is escaped as ever.
    pub fn render_any_user(&self, server: Option<&str>) -> String {
        let any = "*";
        let server = server.unwrap_or(any);
        // Only the wildcard itself, not a server that happens to be "*".
        self.0.render(any, server, |v| {
            if std::ptr::eq(v, any) { Cow::Borrowed(v) } else { ldap3::ldap_escape(v) }
        })
    }
}

impl DnTemplate {
    pub fn render(&self, user: &str, server: &str) -> String {
        self.0.render(user, server, |v| ldap3::dn_escape(v))
    }
}

impl ValueTemplate {
    /// `{user}`: the user name itself.
    pub fn user() -> Self {
        ValueTemplate(Template { source: "{user}".into(), pieces: vec![Piece::User] })
    }

    pub fn render(&self, user: &str, server: &str) -> String {
        self.0.render(user, server, |v| Cow::Borrowed(v))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn filter(s: &str) -> Result<FilterTemplate, String> {
        FilterTemplate::try_from(s.to_owned())
    }

    #[test]
    fn any_user_is_the_wildcard_and_the_server_stays_escaped() {
        let template = filter("(&(uid={user})(o={server}))").unwrap();
        assert_eq!(template.render_any_user(None), "(&(uid=*)(o=*))");
        assert_eq!(template.render_any_user(Some("*")), "(&(uid=*)(o=\\2a))");
        assert_eq!(template.render("*", "x"), "(&(uid=\\2a)(o=x))");
    }

    #[test]
    fn filter_values_cannot_leave_their_assertion() {
        let f = filter("(&(objectClass=inetOrgPerson)(uid={user}))").unwrap();
        assert_eq!(
            f.render("*)(uid=*", "example.com"),
            r"(&(objectClass=inetOrgPerson)(uid=\2a\29\28uid=\2a))"
        );
        assert_eq!(f.render(r"a\b", ""), r"(&(objectClass=inetOrgPerson)(uid=a\5cb))");
        assert_eq!(f.render("\0", ""), r"(&(objectClass=inetOrgPerson)(uid=\00))");
    }

    #[test]
    fn server_placeholder_is_escaped_too() {
        let f = filter("(&(uid={user})(domain={server}))").unwrap();
        assert_eq!(f.render("romeo", "ex*"), r"(&(uid=romeo)(domain=ex\2a))");
    }

    #[test]
    fn dn_values_cannot_add_components() {
        let d = DnTemplate::try_from("uid={user},ou=people,dc=example,dc=com".to_owned()).unwrap();
        let dn = d.render("a,ou=admins", "");
        assert_eq!(dn, r"uid=a\2cou\3dadmins,ou=people,dc=example,dc=com");
    }

    #[test]
    fn attribute_values_are_not_escaped() {
        let v = ValueTemplate::try_from("{user}@{server}".to_owned()).unwrap();
        assert_eq!(v.render("o(b)*", "example.com"), "o(b)*@example.com");
    }

    #[test]
    fn bad_templates_are_refused_with_a_reason() {
        assert!(filter("(uid=romeo)").unwrap_err().contains("{user}"));
        assert!(filter("(uid={usr})").unwrap_err().contains("unknown placeholder {usr}"));
        assert!(filter("(uid={user}").unwrap_err().contains("not a valid LDAP filter"));
        assert!(filter("(uid={user").unwrap_err().contains("unclosed"));
        assert!(DnTemplate::try_from("ou=people".to_owned()).is_err());
    }

    #[test]
    fn built_in_templates_are_what_parsing_their_source_gives() {
        assert_eq!(
            FilterTemplate::inet_org_person_by_uid(),
            filter("(&(objectClass=inetOrgPerson)(uid={user}))").unwrap()
        );
        assert_eq!(ValueTemplate::user(), ValueTemplate::try_from("{user}".to_owned()).unwrap());
    }

    #[test]
    fn round_trips_to_its_source() {
        let source = "(uid={user})";
        assert_eq!(String::from(filter(source).unwrap()), source);
    }
}
