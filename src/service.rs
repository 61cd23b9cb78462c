//! One protocol call, turned into directory operations for the host it names.
//!
//! The checks that keep bad input away from the directory live here:
//! empty passwords and NUL bytes are refused before any LDAP I/O, whatever
//! the caller, and writes a host has not enabled touch nothing.

use std::borrow::Cow;
use std::collections::HashSet;
use std::sync::Arc;

use tracing::warn;

use crate::step;

use crate::cache::{Cached, UserExistsCache};
use crate::config::{HostSettings, Operations, PasswordChange, RegisterPassword, Settings};
use crate::directory::{
    Added, Attribute, Deleted, Directory, DirectoryError, Lookup, Verdict, password_value,
};
use crate::logins::{Answer, Early, LoginGuard, UserState};
use crate::metrics::Metrics;
use crate::protocol::{Call, Method, Outcome, Reason};

/// The longest user name accepted: an XMPP localpart is at most 1023 bytes (RFC 7622).
const MAX_USER_BYTES: usize = 1023;

pub struct Service {
    settings: Settings,
    directory: Directory,
    user_exists_cache: Arc<UserExistsCache>,
    logins: Arc<LoginGuard>,
    metrics: Arc<Metrics>,
}

impl Service {
    /// A service for `settings`. On a reload, `previous` is the one it
    /// replaces: its user_exists answers carry over when their settings did
    /// not change, so that a reload during an outage (to point `ldap.url`
    /// elsewhere, say) does not forget who exists; and the login guard
    /// always goes on from what it learnt, under the new settings, so that
    /// a reload never hands a guesser a fresh budget.
    /// `workers` is how many workers ([`crate::workers`]) it serves on.
    pub fn new(
        settings: Settings,
        metrics: Arc<Metrics>,
        previous: Option<&Service>,
        workers: usize,
    ) -> Self {
        let directory = Directory::new(&settings.ldap, metrics.clone(), workers);
        let user_exists_cache = match previous {
            Some(previous) if previous.settings.cache == settings.cache => previous.user_exists_cache.clone(),
            _ => Arc::new(UserExistsCache::new(&settings.cache)),
        };
        let logins = Arc::new(match previous {
            Some(previous) => LoginGuard::carried_over(&settings.logins, &previous.logins),
            None => LoginGuard::new(&settings.logins),
        });
        Service { settings, directory, user_exists_cache, logins, metrics }
    }

    pub fn count_request(&self, method: &'static str, outcome: &'static str, status: u16) {
        self.metrics.request(method, outcome, status);
    }

    /// The metrics, with the gauges that describe the directory brought up to date.
    pub fn metrics(&self) -> String {
        self.directory.export_state();
        self.metrics.render()
    }

    /// Whether a login could succeed, for `/ready`: every host's
    /// `users.base_dn` can be read; the cause when it cannot.
    pub async fn ready(&self) -> Result<(), String> {
        let mut bases: Vec<&str> =
            self.settings.hosts.iter().map(|(_, host)| host.users.base_dn.as_str()).collect();
        bases.dedup();
        for base in bases {
            match self.directory.exists(base).await {
                Ok(true) => {}
                Ok(false) => {
                    return Err(format!(
                        "users.base_dn {base} does not exist, or the service account cannot read it"
                    ));
                }
                Err(error) => return Err(error.to_string()),
            }
        }
        Ok(())
    }

    /// What the login guard holds for `user`, in `server` or in every
    /// domain; the reason when the name could never have been a login's.
    pub fn login_state(&self, server: Option<&str>, user: &str) -> Result<Vec<UserState>, &'static str> {
        check_guarded_user(server, user)?;
        Ok(self.logins.state(server, user))
    }

    /// Forgets what the login guard holds for `user`, as
    /// [`Service::login_state`] picks it, and gives what it was.
    pub fn clear_login_state(
        &self,
        server: Option<&str>,
        user: &str,
    ) -> Result<Vec<UserState>, &'static str> {
        check_guarded_user(server, user)?;
        Ok(self.logins.clear(server, user))
    }

    pub async fn call(&self, call: &Call) -> Outcome {
        let Some(host) = self.settings.host(&call.server) else {
            return Outcome::UnknownServer;
        };
        let result = match call.method {
            Method::CheckPassword => self.check_password(host, call).await,
            Method::UserExists => self.user_exists(host, call).await,
            Method::Register => self.register(host, call).await,
            Method::SetPassword => self.set_password(host, call).await,
            Method::RemoveUser => self.remove_user(host, call).await,
        };
        if !call.method.is_query() {
            // Whatever the write did, the next question asks the directory.
            self.user_exists_cache.forget(&call.server, &call.user);
            self.logins.forget(&call.server, &call.user);
        }
        result.unwrap_or_else(|error| match error {
            DirectoryError::Unavailable(cause) => Outcome::Unavailable(cause),
            // The old password stays; register has removed the new entry.
            error @ DirectoryError::PasswordRefused { .. } => Outcome::PasswordRefused(error.to_string()),
            // The usual cause, named in the log where the operator will look.
            DirectoryError::Refused { operation: "search", rc: 32, .. } => {
                Outcome::Failed(format!("{error}; does users.base_dn exist?"))
            }
            other => Outcome::Failed(other.to_string()),
        })
    }

    async fn check_password(&self, host: &HostSettings, call: &Call) -> Result<Outcome, DirectoryError> {
        let password = call.password.as_deref().unwrap_or_default();
        if let Err(reason) =
            check_user(&call.user).and(check_server(&call.server)).and(check_password(password))
        {
            return Ok(Outcome::No(reason));
        }
        let attempt = self.logins.attempt(&call.server, &call.user, password, call.client);
        // Held until the answer is recorded: parallel guesses are checked one by one.
        let _turn = self.logins.turn(&attempt).await;
        if let Some(early) = self.logins.check(&attempt) {
            let (outcome, label) = match early {
                Early::ThrottledUser => (Outcome::No(Reason::Throttled("user")), "throttled-user"),
                Early::ThrottledAddress => {
                    (Outcome::No(Reason::Throttled("client address")), "throttled-address")
                }
                Early::RecentlyFailed => (Outcome::No(Reason::RecentlyRefused), "recently-refused"),
                Early::RecentlySucceeded => (Outcome::Yes, "recently-accepted"),
            };
            self.metrics.login_answered_early(label);
            step!("login guard: answered without asking the directory ({label})");
            return Ok(outcome);
        }
        step!("login guard: nothing against this login; asking the directory");
        // Directory errors return here, and count for nothing.
        let (outcome, answer) = self.verify_password(host, call, password).await?;
        self.logins.record(&attempt, answer);
        Ok(outcome)
    }

    /// The directory's answer to a login, as an outcome and as the login
    /// guard counts it.
    async fn verify_password(
        &self,
        host: &HostSettings,
        call: &Call,
        password: &str,
    ) -> Result<(Outcome, Answer), DirectoryError> {
        let refused = |reason| Ok((Outcome::No(reason), Answer::UserRefused));
        // With a DN template the bind itself is the lookup: reading the entry
        // first would need read access that a bind-only directory does not give.
        let dn = match &host.users.bind_dn_template {
            Some(template) => template.render(&call.user, &call.server),
            None => match self.find(host, call).await? {
                Lookup::Found(dn) => dn,
                Lookup::NotFound => return refused(self.not_found(host, call).await),
                Lookup::Ambiguous => return refused(self.ambiguous(call)),
            },
        };
        // Before the bind, so that a non-member's attempts never count
        // towards a lockout.
        if let Some(group) = &host.users.require_group {
            let nested = self.settings.ldap.directory.nested_groups();
            if !self.directory.is_member(group, &dn, nested).await? {
                return refused(Reason::NotInGroup);
            }
        }
        Ok(match self.directory.check_password(&dn, password).await? {
            Verdict::Valid => (Outcome::Yes, Answer::Valid),
            Verdict::Invalid(why) => (Outcome::No(Reason::Refused(why)), Answer::PasswordRefused),
        })
    }

    async fn user_exists(&self, host: &HostSettings, call: &Call) -> Result<Outcome, DirectoryError> {
        if let Err(reason) = check_user(&call.user).and(check_server(&call.server)) {
            return Ok(Outcome::No(reason));
        }
        let cache = &self.user_exists_cache;
        if let Cached::Fresh(exists) = cache.get(&call.server, &call.user) {
            self.metrics.user_exists_cache("hit");
            return Ok(if exists { Outcome::Yes } else { Outcome::No(Reason::UnknownUser) });
        }
        // Inside the request's deadline, so that a directory that does not
        // answer at all still leaves time for the stale answer below.
        let deadline = self.settings.http.request_timeout.mul_f32(0.9);
        let lookup = match tokio::time::timeout(deadline, self.find(host, call)).await {
            Ok(lookup) => lookup,
            Err(_) => Err(DirectoryError::Unavailable(format!("no answer within {deadline:?}"))),
        };
        let exists = match lookup {
            Ok(Lookup::Found(_)) => true,
            Ok(Lookup::NotFound) => false,
            // The name is taken, even if no login can use it: answering
            // `false` would bounce messages and let Prosody register it again.
            Ok(Lookup::Ambiguous) => {
                self.ambiguous(call);
                true
            }
            Err(DirectoryError::Unavailable(cause)) if cache.known_to_exist(&call.server, &call.user) => {
                warn!(user = truncated(&call.user), %cause, "directory unavailable; answering user_exists from the cache");
                self.metrics.user_exists_cache("stale");
                return Ok(Outcome::Stale(cause));
            }
            Err(error) => return Err(error),
        };
        self.metrics.user_exists_cache("miss");
        cache.put(&call.server, &call.user, exists);
        Ok(if exists { Outcome::Yes } else { Outcome::No(Reason::UnknownUser) })
    }

    async fn register(&self, host: &HostSettings, call: &Call) -> Result<Outcome, DirectoryError> {
        let (register, operations) = (&host.register, &host.operations);
        let (Some(dn_template), true) = (&register.dn, operations.register) else {
            return Ok(Outcome::NotEnabled);
        };
        let password = match new_password(operations, call) {
            Ok(password) => password,
            Err(answer) => return Ok(answer),
        };
        match self.find(host, call).await? {
            Lookup::NotFound => {}
            Lookup::Found(_) | Lookup::Ambiguous => return Ok(Outcome::AlreadyExists),
        }
        let dn = dn_template.render(&call.user, &call.server);
        let object_classes = register.object_classes.iter().map(|class| class.clone().into_bytes()).collect();
        let mut attributes: Vec<Attribute> = vec![("objectClass".into(), object_classes)];
        for (name, value) in &register.attributes {
            attributes
                .push((name.clone(), HashSet::from([value.render(&call.user, &call.server).into_bytes()])));
        }
        if register.password == RegisterPassword::Attribute {
            let attribute = &operations.password_attribute;
            attributes.push((attribute.clone(), HashSet::from([password_value(attribute, &password)])));
        }
        let added = self.directory.add(&dn, attributes).await;
        // The add carries the password only when register.password is "attribute".
        let added = match register.password {
            RegisterPassword::Attribute => added.map_err(DirectoryError::as_password_refusal)?,
            RegisterPassword::Exop => added?,
        };
        if added == Added::AlreadyExists {
            return Ok(Outcome::AlreadyExists);
        }
        if register.password == RegisterPassword::Exop
            && let Err(error) = self
                .directory
                .set_password_exop(&dn, &password)
                .await
                .map_err(DirectoryError::as_password_refusal)
        {
            // An account without its password is worse than none: take it back.
            if let Err(undo) = self.directory.delete(&dn).await {
                warn!(dn = %dn, error = %undo, "could not remove the account whose password could not be set");
            }
            return Err(error);
        }
        Ok(Outcome::Created)
    }

    async fn set_password(&self, host: &HostSettings, call: &Call) -> Result<Outcome, DirectoryError> {
        if !host.operations.set_password {
            return Ok(Outcome::NotEnabled);
        }
        let password = match new_password(&host.operations, call) {
            Ok(password) => password,
            Err(answer) => return Ok(answer),
        };
        let dn = match self.entry_to_change(host, call).await? {
            Ok(dn) => dn,
            Err(answer) => return Ok(answer),
        };
        match host.operations.password_change {
            PasswordChange::Exop => self
                .directory
                .set_password_exop(&dn, &password)
                .await
                .map_err(DirectoryError::as_password_refusal)?,
            PasswordChange::Modify => self
                .directory
                .replace_password(&dn, &host.operations.password_attribute, &password)
                .await
                .map_err(DirectoryError::as_password_refusal)?,
        }
        Ok(Outcome::Done)
    }

    async fn remove_user(&self, host: &HostSettings, call: &Call) -> Result<Outcome, DirectoryError> {
        if !host.operations.remove_user {
            return Ok(Outcome::NotEnabled);
        }
        if let Some(bad) = check_write(call, None) {
            return Ok(bad);
        }
        let dn = match self.entry_to_change(host, call).await? {
            Ok(dn) => dn,
            Err(answer) => return Ok(answer),
        };
        Ok(match self.directory.delete(&dn).await? {
            Deleted::Deleted => Outcome::Done,
            Deleted::NotFound => Outcome::NoSuchUser,
        })
    }

    /// The one entry a write may change, or the answer when there is not
    /// exactly one.
    async fn entry_to_change(
        &self,
        host: &HostSettings,
        call: &Call,
    ) -> Result<Result<String, Outcome>, DirectoryError> {
        Ok(match self.find(host, call).await? {
            Lookup::Found(dn) => Ok(dn),
            Lookup::NotFound => Err(Outcome::NoSuchUser),
            Lookup::Ambiguous => {
                self.ambiguous(call);
                Err(Outcome::Ambiguous)
            }
        })
    }

    /// The user's entry: by search, or at the configured DN template.
    async fn find(&self, host: &HostSettings, call: &Call) -> Result<Lookup, DirectoryError> {
        let users = &host.users;
        if let Some(template) = &users.bind_dn_template {
            let dn = template.render(&call.user, &call.server);
            return Ok(if self.directory.exists(&dn).await? { Lookup::Found(dn) } else { Lookup::NotFound });
        }
        let filter = users.filter.render(&call.user, &call.server);
        self.directory.find(&users.base_dn, users.scope, &filter).await
    }

    /// Why no entry matched a login: an unknown user, or, where the preset's
    /// filter leaves disabled accounts out, a disabled account, which the
    /// administrator can see in the directory and must not be told is
    /// missing. Prosody hears `false` either way.
    async fn not_found(&self, host: &HostSettings, call: &Call) -> Reason {
        let Some((filter, reason)) = self.settings.ldap.directory.disabled_accounts() else {
            return Reason::UnknownUser;
        };
        let filter = filter.render(&call.user, &call.server);
        match self.directory.find(&host.users.base_dn, host.users.scope, &filter).await {
            Ok(Lookup::Found(_) | Lookup::Ambiguous) => Reason::Refused(reason.to_owned()),
            Ok(Lookup::NotFound) => Reason::UnknownUser,
            // The login is refused all the same; only its reason is unknown.
            Err(_) => Reason::UnknownUser,
        }
    }

    fn ambiguous(&self, call: &Call) -> Reason {
        warn!(
            user = truncated(&call.user),
            server = truncated(&call.server),
            "several directory entries match this user name; fix the directory or users.filter"
        );
        Reason::Ambiguous
    }
}

/// The same checks as a login's, for the administrator's questions.
fn check_guarded_user(server: Option<&str>, user: &str) -> Result<(), &'static str> {
    if check_user(user).is_err() {
        return Err("the user name is empty, too long or contains NUL");
    }
    match server.map(check_server) {
        Some(Err(_)) => Err("the server is too long or contains NUL"),
        _ => Ok(()),
    }
}

fn check_user(user: &str) -> Result<(), Reason> {
    if user.is_empty() {
        Err(Reason::UnknownUser)
    } else if user.len() > MAX_USER_BYTES || user.contains('\0') {
        Err(Reason::MalformedInput)
    } else {
        Ok(())
    }
}

/// The domain is put into filters, DNs and attribute values like the user name.
fn check_server(server: &str) -> Result<(), Reason> {
    if server.len() > MAX_USER_BYTES || server.contains('\0') { Err(Reason::MalformedInput) } else { Ok(()) }
}

fn check_password(password: &str) -> Result<(), Reason> {
    if password.is_empty() {
        Err(Reason::EmptyPassword)
    } else if password.contains('\0') {
        Err(Reason::MalformedInput)
    } else {
        Ok(())
    }
}

/// The new password of a write, checked, and SASLprep-normalised unless
/// switched off: Prosody normalises the password at login but sends it raw
/// to register and set_password, so without this a password with a
/// decomposed accent could be set and never used.
fn new_password<'a>(operations: &Operations, call: &'a Call) -> Result<Cow<'a, str>, Outcome> {
    let raw = call.password.as_deref().unwrap_or_default();
    if let Some(bad) = check_write(call, Some(raw)) {
        return Err(bad);
    }
    if !operations.normalize_passwords {
        return Ok(Cow::Borrowed(raw));
    }
    match stringprep::saslprep(raw) {
        Ok(password) if password.is_empty() => {
            Err(Outcome::BadInput("the password is empty once normalised"))
        }
        Ok(password) => Ok(password),
        Err(_) => Err(Outcome::BadInput("the password holds characters SASLprep (RFC 4013) forbids")),
    }
}

/// The same checks for a write, as a 400 answer.
fn check_write(call: &Call, password: Option<&str>) -> Option<Outcome> {
    if check_user(&call.user).is_err() {
        return Some(Outcome::BadInput("the user name is empty, too long or contains NUL"));
    }
    if check_server(&call.server).is_err() {
        return Some(Outcome::BadInput("the server is too long or contains NUL"));
    }
    match password.map(check_password) {
        Some(Err(Reason::EmptyPassword)) => Some(Outcome::BadInput("the password is empty")),
        Some(Err(_)) => Some(Outcome::BadInput("the password contains NUL")),
        _ => None,
    }
}

/// A user-supplied string shortened for a log line.
pub fn truncated(value: &str) -> &str {
    const MAX: usize = 64;
    if value.len() <= MAX {
        return value;
    }
    let mut end = MAX;
    while !value.is_char_boundary(end) {
        end -= 1;
    }
    &value[..end]
}
