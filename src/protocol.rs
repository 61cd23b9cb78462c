//! The mod_auth_http methods and their outcomes, independent of transport:
//! what a call asks, and every answer the service can give to it.

use std::fmt;
use std::net::IpAddr;

/// A method of the protocol, named by the last segment of the request path.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Method {
    CheckPassword,
    UserExists,
    Register,
    SetPassword,
    RemoveUser,
}

impl Method {
    pub fn from_name(name: &str) -> Option<Method> {
        Some(match name {
            "check_password" => Method::CheckPassword,
            "user_exists" => Method::UserExists,
            "register" => Method::Register,
            "set_password" => Method::SetPassword,
            "remove_user" => Method::RemoveUser,
            _ => return None,
        })
    }

    pub fn name(self) -> &'static str {
        match self {
            Method::CheckPassword => "check_password",
            Method::UserExists => "user_exists",
            Method::Register => "register",
            Method::SetPassword => "set_password",
            Method::RemoveUser => "remove_user",
        }
    }

    /// Queries change nothing, so Prosody sends them as GET.
    pub fn is_query(self) -> bool {
        matches!(self, Method::CheckPassword | Method::UserExists)
    }

    pub fn needs_password(self) -> bool {
        matches!(self, Method::CheckPassword | Method::Register | Method::SetPassword)
    }
}

/// One call: a method with its parameters.
pub struct Call {
    pub method: Method,
    pub user: String,
    /// Present whenever the method needs one.
    pub password: Option<String>,
    /// The XMPP domain (Prosody's VirtualHost); empty when not sent.
    pub server: String,
    /// Who sent the request.
    pub client: IpAddr,
}

/// Why a query answered `false`, for the log.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Reason {
    UnknownUser,
    EmptyPassword,
    /// A NUL byte, which no directory value can hold, or a name too long to be one.
    MalformedInput,
    /// Several entries match the user name; the login is refused rather than guessed.
    Ambiguous,
    /// The user is not in `users.require_group`.
    NotInGroup,
    /// The directory refused the password, in its own words.
    Refused(String),
    /// Too many failed logins recently, for the user or from the client
    /// address; the directory was not asked.
    Throttled(&'static str),
    /// The directory refused this same password a moment ago; not asked again.
    RecentlyRefused,
}

impl fmt::Display for Reason {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Reason::UnknownUser => f.write_str("unknown user"),
            Reason::EmptyPassword => f.write_str("empty password"),
            Reason::MalformedInput => f.write_str("malformed user name or password"),
            Reason::Ambiguous => f.write_str("several entries match the user name"),
            Reason::NotInGroup => f.write_str("not a member of users.require_group"),
            Reason::Refused(why) => f.write_str(why),
            Reason::Throttled(whose) => write!(f, "throttled: too many failed logins for this {whose}"),
            Reason::RecentlyRefused => f.write_str("the same password was refused a moment ago"),
        }
    }
}

/// Every answer the service gives.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Outcome {
    /// The password is right, or the user exists.
    Yes,
    /// The user existed when last asked, and the directory cannot be
    /// reached now to ask again (`cache.stale_if_error`).
    Stale(String),
    /// The password is wrong, or the user does not exist.
    No(Reason),
    Created,
    /// A password changed or an account removed.
    Done,
    NoSuchUser,
    AlreadyExists,
    /// Several entries match the user name, so a write cannot know which to change.
    Ambiguous,
    /// The directory's password policy refused the new password; the cause
    /// is for the log only.
    PasswordRefused(String),
    /// The method is a write that this host's configuration does not allow.
    NotEnabled,
    /// The `server` parameter names a domain that is not configured.
    UnknownServer,
    /// The request's values cannot be used, with a reason safe to show.
    BadInput(&'static str),
    /// The directory did not answer in time, or at all.
    Unavailable(String),
    /// The directory answered with an error; the cause is for the log only.
    Failed(String),
}

impl Outcome {
    /// A short word for the log line.
    pub fn label(&self) -> &'static str {
        match self {
            Outcome::Yes => "true",
            Outcome::Stale(_) => "true-stale",
            Outcome::No(_) => "false",
            Outcome::Created => "created",
            Outcome::Done => "done",
            Outcome::NoSuchUser => "no-such-user",
            Outcome::AlreadyExists => "exists",
            Outcome::Ambiguous => "ambiguous",
            Outcome::PasswordRefused(_) => "password-refused",
            Outcome::NotEnabled => "not-enabled",
            Outcome::UnknownServer => "unknown-server",
            Outcome::BadInput(_) => "bad-input",
            Outcome::Unavailable(_) => "unavailable",
            Outcome::Failed(_) => "failed",
        }
    }
}
