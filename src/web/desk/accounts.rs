//! Staff accounts, signed-in sessions, failed sign-in counters and the audit log of the web desk, over
//! `storage::desk`.
//!
//! - Passwords are hashed with argon2id (the crate's defaults: 19 MiB, 2 passes) on a blocking thread,
//!   never on the async workers that serve users. A new or reset password is generated here (16
//!   characters from an alphabet without look-alikes, about 85 bits) and shown once to whoever ran the
//!   command; it is never stored or logged in clear.
//! - A session is a random 256-bit token in an HttpOnly cookie; the database keeps only its SHA-256, so
//!   a copy of the data folder does not sign anyone in. A session ends after `desk.idle_minutes`
//!   without a request and `desk.absolute_hours` after sign-in, at sign-out, and when its account is
//!   disabled or its password reset.
//! - After `desk.max_failures` wrong passwords for one name within `desk.lockout_minutes`, the name is
//!   locked for `desk.lockout_minutes` (the right password is refused too, without being checked).
//!
//! Invariants: no password, hash or token in a log or an error; a disabled account has no session.

use std::sync::Arc;

use argon2::password_hash::{PasswordHash, PasswordHasher, PasswordVerifier, SaltString};
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

use crate::config::DeskConfig;
use crate::storage::{self, Store, desk::DeskStore};

const ACCOUNT: &str = "a";
const SESSION: &str = "s";
const FAILURES: &str = "f";
const AUDIT: &str = "l";

/// What a staff member may do on the desk.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Role {
    /// Reads the inbox and cases with personal data masked; changes nothing.
    Viewer,
    /// Also shows personal data (recorded), replies, assigns, changes status, refers, notes.
    Officer,
    /// Also reads the audit log.
    Admin,
}

impl Role {
    pub fn parse(text: &str) -> Option<Role> {
        match text.trim().to_ascii_lowercase().as_str() {
            "viewer" | "pembaca" => Some(Role::Viewer),
            "officer" | "petugas" => Some(Role::Officer),
            "admin" => Some(Role::Admin),
            _ => None,
        }
    }

    pub fn as_str(self) -> &'static str {
        match self {
            Role::Viewer => "viewer",
            Role::Officer => "officer",
            Role::Admin => "admin",
        }
    }

    /// May change cases and see personal data.
    pub fn can_act(self) -> bool {
        self >= Role::Officer
    }

    pub fn is_admin(self) -> bool {
        self == Role::Admin
    }
}

#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct Account {
    pub name: String,
    pub role: Role,
    /// PHC string of argon2id.
    hash: String,
    pub disabled: bool,
    pub created_at: u64,
    pub password_set_at: u64,
    /// The password was shown on a terminal (the first admin of a fresh data folder): it must be
    /// changed before anything else on the desk.
    #[serde(default)]
    pub must_change: bool,
}

/// A signed-in browser. Stored under the SHA-256 of its token.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct WebSession {
    pub account: String,
    pub role: Role,
    pub csrf: String,
    pub created_at: u64,
    pub last_seen: u64,
    /// Cases whose personal data this session was shown, and until when (Unix seconds).
    #[serde(default)]
    pub revealed: Vec<(String, u64)>,
    /// A confirmation or failure to show once on the next page.
    #[serde(default)]
    pub flash: Option<Flash>,
    /// The account must choose its own password first (read from the account on every request).
    #[serde(default)]
    pub must_change: bool,
}

#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct Flash {
    pub ok: bool,
    pub text: String,
}

impl WebSession {
    pub fn has_revealed(&self, code: &str, now: u64) -> bool {
        self.revealed
            .iter()
            .any(|(c, until)| c == code && *until > now)
    }
}

#[derive(Clone, Debug, Default, Serialize, Deserialize)]
struct Failures {
    count: u32,
    first_at: u64,
    locked_until: u64,
}

/// One line of the audit log: a sign-in, a staff action, a view of personal data.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct AuditEntry {
    pub at: u64,
    /// The account name, or empty for a failed sign-in with an unknown name.
    pub actor: String,
    /// A machine word: `sign_in`, `sign_in_failed`, `locked`, `sign_out`, `view_case`, `reveal`,
    /// `reply`, `status`, `note`, `assign`, `export_csv`, `account_added`, `password_reset`,
    /// `account_disabled`.
    pub action: String,
    /// A case code or an account name; never message text.
    pub target: String,
}

#[derive(Debug, thiserror::Error)]
pub enum AccountError {
    #[error("storage: {0}")]
    Storage(#[from] storage::Error),
    #[error("a staff name is 2 to 32 letters, digits, dots, dashes or underscores")]
    BadName,
    #[error("{0:?} is not a role; use viewer, officer or admin")]
    BadRole(String),
    #[error("an account with this name exists")]
    Exists,
    #[error("no account with this name")]
    NoSuchAccount,
    #[error("password hashing failed: {0}")]
    Hash(String),
}

impl AccountError {
    /// The machine word templates choose their text by.
    pub fn kind(&self) -> &'static str {
        match self {
            AccountError::Storage(_) | AccountError::Hash(_) => "technical",
            AccountError::BadName => "bad_name",
            AccountError::BadRole(_) => "bad_role",
            AccountError::Exists => "exists",
            AccountError::NoSuchAccount => "no_such_account",
        }
    }
}

/// What a sign-in attempt ended in.
#[derive(Debug)]
pub enum SignIn {
    /// The cookie value to set.
    Ok {
        token: String,
        session: WebSession,
    },
    Wrong,
    /// Locked until this Unix second.
    Locked(u64),
}

/// Accounts, sessions and audit over the desk tree. Cheap to clone.
#[derive(Clone)]
pub struct Accounts {
    store: DeskStore,
    config: Arc<DeskConfig>,
}

/// A hash to verify against when the name is unknown, so the answer takes as long either way: an
/// Argon2id hash (the default parameters, m = 19 MiB, t = 2, p = 1) of 32 random bytes no one kept.
/// A constant rather than hashed at start: hashing takes 19 MiB at once, which was the start's memory
/// peak (issue 16); `dummy_hash_costs_what_a_real_one_does` keeps it in step with the parameters.
const DUMMY_HASH: &str = "$argon2id$v=19$m=19456,t=2,p=1$/Fk7q4sVsSXfEdx5t7Jgww$di+89fB6RkI9kfmoe+0jmgG/arf0yS80EJuQODhhQbI";

pub fn now() -> u64 {
    crate::time::now_secs()
}

fn random_hex(bytes: usize) -> String {
    let mut buf = vec![0u8; bytes];
    // getrandom fails only without an OS random source, where nothing here can be safe: a fixed
    // value would be worse than a panic at start, but a request must not panic; the zero buffer is
    // refused by `valid_token` below.
    if getrandom::fill(&mut buf).is_err() {
        tracing::error!("no OS random source: sessions cannot be created");
        return String::new();
    }
    buf.iter().map(|b| format!("{b:02x}")).collect()
}

/// A random 256-bit token in hex (sessions, form tokens).
pub fn random_token() -> String {
    random_hex(32)
}

/// A new password: 16 characters without look-alikes (0/O, 1/l/I).
fn new_password() -> Result<String, AccountError> {
    const ALPHABET: &[u8] = b"abcdefghijkmnpqrstuvwxyzABCDEFGHJKLMNPQRSTUVWXYZ23456789";
    let mut out = String::with_capacity(16);
    while out.len() < 16 {
        let mut buf = [0u8; 32];
        getrandom::fill(&mut buf).map_err(|e| AccountError::Hash(e.to_string()))?;
        for b in buf {
            // Rejection sampling keeps every character equally likely.
            let limit = 256 - (256 % ALPHABET.len());
            if usize::from(b) < limit && out.len() < 16 {
                out.push(char::from(ALPHABET[usize::from(b) % ALPHABET.len()]));
            }
        }
    }
    Ok(out)
}

fn hash_password(password: &str) -> Result<String, AccountError> {
    let mut salt = [0u8; 16];
    getrandom::fill(&mut salt).map_err(|e| AccountError::Hash(e.to_string()))?;
    let salt = SaltString::encode_b64(&salt).map_err(|e| AccountError::Hash(e.to_string()))?;
    argon2::Argon2::default()
        .hash_password(password.as_bytes(), &salt)
        .map(|h| h.to_string())
        .map_err(|e| AccountError::Hash(e.to_string()))
}

fn verify_password(password: &str, hash: &str) -> bool {
    match PasswordHash::new(hash) {
        Ok(parsed) => argon2::Argon2::default()
            .verify_password(password.as_bytes(), &parsed)
            .is_ok(),
        Err(_) => false,
    }
}

async fn blocking<T: Send + 'static>(
    f: impl FnOnce() -> T + Send + 'static,
) -> Result<T, AccountError> {
    tokio::task::spawn_blocking(f)
        .await
        .map_err(|e| AccountError::Hash(e.to_string()))
}

/// A staff name as stored: lower case, 2–32 of `a-z 0-9 . _ -`.
pub fn normalize_name(name: &str) -> Result<String, AccountError> {
    let name = name.trim().to_ascii_lowercase();
    let ok = (2..=32).contains(&name.len())
        && name
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'.' | b'_' | b'-'));
    if ok {
        Ok(name)
    } else {
        Err(AccountError::BadName)
    }
}

fn token_id(token: &str) -> String {
    let digest = Sha256::digest(token.as_bytes());
    digest.iter().map(|b| format!("{b:02x}")).collect()
}

/// A token as we issue them: 64 hex digits.
fn valid_token(token: &str) -> bool {
    token.len() == 64 && token.bytes().all(|b| b.is_ascii_hexdigit())
}

impl Accounts {
    pub async fn open(store: &Store, config: &DeskConfig) -> Result<Accounts, AccountError> {
        Ok(Accounts {
            store: DeskStore::open(store)?,
            config: Arc::new(config.clone()),
        })
    }

    pub fn config(&self) -> &DeskConfig {
        &self.config
    }

    pub fn get(&self, name: &str) -> Result<Option<Account>, AccountError> {
        Ok(self.store.get(ACCOUNT, name)?)
    }

    pub fn list(&self) -> Result<Vec<Account>, AccountError> {
        Ok(self
            .store
            .list::<Account>(ACCOUNT)?
            .into_iter()
            .map(|x| x.1)
            .collect())
    }

    /// Whether any account can sign in.
    pub fn any_active(&self) -> Result<bool, AccountError> {
        Ok(self.list()?.iter().any(|a| !a.disabled))
    }

    /// A new account; returns its normalised name and its password, to be shown once.
    pub async fn add(
        &self,
        name: &str,
        role: &str,
        actor: &str,
    ) -> Result<(String, String), AccountError> {
        let name = normalize_name(name)?;
        let role = Role::parse(role).ok_or_else(|| AccountError::BadRole(role.to_string()))?;
        if self.get(&name)?.is_some() {
            return Err(AccountError::Exists);
        }
        let password = new_password()?;
        let clear = password.clone();
        let hash = blocking(move || hash_password(&clear)).await??;
        let at = now();
        self.store.put(
            ACCOUNT,
            &name,
            &Account {
                name: name.clone(),
                role,
                hash,
                disabled: false,
                created_at: at,
                password_set_at: at,
                must_change: false,
            },
        )?;
        self.audit(actor, "account_added", &name)?;
        self.store.flush().await?;
        tracing::info!(actor, role = role.as_str(), "desk account added");
        Ok((name, password))
    }

    /// For a fresh data folder: when no account exists at all, an admin named `admin` with a random
    /// one-time password that must be changed at the first sign-in. Returns the name and the
    /// password (to be shown once, on a terminal); `None` when any account exists.
    pub async fn first_admin(&self) -> Result<Option<(String, String)>, AccountError> {
        if !self.list()?.is_empty() {
            return Ok(None);
        }
        let (name, password) = self.add("admin", "admin", "pandu-serve").await?;
        if let Some(mut account) = self.get(&name)? {
            account.must_change = true;
            self.store.put(ACCOUNT, &name, &account)?;
            self.store.flush().await?;
        }
        tracing::info!(
            "first desk admin created with a one-time password (shown on the terminal only)"
        );
        Ok(Some((name, password)))
    }

    /// The signed-in staff member's own new password, after the current one is checked. `Ok(false)`:
    /// the current password was wrong (counted like a failed sign-in in the audit log).
    pub async fn change_password(
        &self,
        name: &str,
        current: &str,
        new: &str,
    ) -> Result<bool, AccountError> {
        let mut account = self.get(name)?.ok_or(AccountError::NoSuchAccount)?;
        let (clear, hash) = (current.to_string(), account.hash.clone());
        if !blocking(move || verify_password(&clear, &hash)).await? {
            self.audit(name, "password_change_failed", name)?;
            self.store.flush().await?;
            return Ok(false);
        }
        let clear = new.to_string();
        account.hash = blocking(move || hash_password(&clear)).await??;
        account.password_set_at = now();
        account.must_change = false;
        self.store.put(ACCOUNT, name, &account)?;
        self.audit(name, "password_changed", name)?;
        self.store.flush().await?;
        tracing::info!("desk password changed by its owner");
        Ok(true)
    }

    /// A new password for an account (enabling it again); its sessions end.
    pub async fn reset_password(&self, name: &str, actor: &str) -> Result<String, AccountError> {
        let name = normalize_name(name)?;
        let mut account = self.get(&name)?.ok_or(AccountError::NoSuchAccount)?;
        let password = new_password()?;
        let clear = password.clone();
        account.hash = blocking(move || hash_password(&clear)).await??;
        account.password_set_at = now();
        account.disabled = false;
        self.store.put(ACCOUNT, &name, &account)?;
        self.store.remove(FAILURES, &name)?;
        self.end_sessions_of(&name)?;
        self.audit(actor, "password_reset", &name)?;
        self.store.flush().await?;
        tracing::info!(actor, "desk password reset");
        Ok(password)
    }

    /// Disables an account and ends its sessions.
    pub async fn disable(&self, name: &str, actor: &str) -> Result<String, AccountError> {
        let name = normalize_name(name)?;
        let mut account = self.get(&name)?.ok_or(AccountError::NoSuchAccount)?;
        account.disabled = true;
        self.store.put(ACCOUNT, &name, &account)?;
        self.end_sessions_of(&name)?;
        self.audit(actor, "account_disabled", &name)?;
        self.store.flush().await?;
        tracing::info!(actor, "desk account disabled");
        Ok(name)
    }

    fn end_sessions_of(&self, name: &str) -> Result<usize, AccountError> {
        Ok(self
            .store
            .remove_where::<WebSession>(SESSION, |s| s.account == name)?)
    }

    /// Checks a password (on a blocking thread) with the lockout; a success opens a session.
    pub async fn sign_in(&self, typed_name: &str, password: &str) -> Result<SignIn, AccountError> {
        let at = now();
        let name = normalize_name(typed_name).ok();
        let account = match &name {
            Some(n) => self.get(n)?,
            None => None,
        };
        let key = name.clone().unwrap_or_default();
        let mut failures: Failures = if key.is_empty() {
            Failures::default()
        } else {
            self.store.get(FAILURES, &key)?.unwrap_or_default()
        };
        if failures.locked_until > at {
            return Ok(SignIn::Locked(failures.locked_until));
        }
        let hash = match &account {
            Some(a) if !a.disabled => a.hash.clone(),
            _ => DUMMY_HASH.to_string(),
        };
        let clear = password.to_string();
        let matches = blocking(move || verify_password(&clear, &hash)).await?;
        let account = account.filter(|a| !a.disabled && matches);
        let Some(account) = account else {
            if !key.is_empty() && self.get(&key)?.is_some() {
                let window = u64::from(self.config.lockout_minutes) * 60;
                if at.saturating_sub(failures.first_at) > window {
                    failures = Failures {
                        count: 0,
                        first_at: at,
                        locked_until: 0,
                    };
                }
                failures.count += 1;
                let locked = failures.count >= self.config.max_failures;
                if locked {
                    failures.locked_until = at + window;
                    failures.count = 0;
                    failures.first_at = at;
                }
                self.store.put(FAILURES, &key, &failures)?;
                self.audit(&key, "sign_in_failed", "")?;
                if locked {
                    self.audit(&key, "locked", "")?;
                    self.store.flush().await?;
                    tracing::warn!("desk sign-in locked after repeated failures");
                    return Ok(SignIn::Locked(failures.locked_until));
                }
            } else {
                // An unknown name is not recorded: it may be a password typed in the wrong box.
                self.audit("", "sign_in_failed", "")?;
            }
            self.store.flush().await?;
            tracing::info!("desk sign-in failed");
            return Ok(SignIn::Wrong);
        };
        self.store.remove(FAILURES, &account.name)?;
        let token = random_hex(32);
        if !valid_token(&token) {
            return Err(AccountError::Hash("no random source".into()));
        }
        let session = WebSession {
            account: account.name.clone(),
            role: account.role,
            csrf: random_hex(32),
            created_at: at,
            last_seen: at,
            revealed: Vec::new(),
            flash: None,
            must_change: account.must_change,
        };
        self.store.put(SESSION, &token_id(&token), &session)?;
        self.audit(&account.name, "sign_in", "")?;
        self.store.flush().await?;
        tracing::info!(role = account.role.as_str(), "desk sign-in");
        Ok(SignIn::Ok { token, session })
    }

    /// The live session of a cookie token, touched (idle expiry moves) at most once a minute.
    pub fn session(&self, token: &str) -> Result<Option<WebSession>, AccountError> {
        if !valid_token(token) {
            return Ok(None);
        }
        let id = token_id(token);
        let Some(mut session) = self.store.get::<WebSession>(SESSION, &id)? else {
            return Ok(None);
        };
        let at = now();
        let idle = u64::from(self.config.idle_minutes) * 60;
        let absolute = u64::from(self.config.absolute_hours) * 3600;
        let expired = at.saturating_sub(session.last_seen) > idle
            || at.saturating_sub(session.created_at) > absolute;
        // The role is read from the account on every request: a change or a disable applies at once.
        let account = self.get(&session.account)?;
        match account {
            Some(a) if !a.disabled && !expired => {
                session.role = a.role;
                session.must_change = a.must_change;
            }
            _ => {
                self.store.remove(SESSION, &id)?;
                return Ok(None);
            }
        }
        if at.saturating_sub(session.last_seen) >= 60 {
            session.last_seen = at;
            self.store.put(SESSION, &id, &session)?;
        }
        Ok(Some(session))
    }

    /// Stores a changed session (a reveal, a flash).
    pub fn save_session(&self, token: &str, session: &WebSession) -> Result<(), AccountError> {
        if valid_token(token) {
            self.store.put(SESSION, &token_id(token), session)?;
        }
        Ok(())
    }

    pub async fn sign_out(&self, token: &str, name: &str) -> Result<(), AccountError> {
        if valid_token(token) {
            self.store.remove(SESSION, &token_id(token))?;
        }
        self.audit(name, "sign_out", "")?;
        self.store.flush().await?;
        Ok(())
    }

    /// Removes expired sessions (called now and then by the server).
    pub fn sweep(&self) -> Result<usize, AccountError> {
        let at = now();
        let idle = u64::from(self.config.idle_minutes) * 60;
        let absolute = u64::from(self.config.absolute_hours) * 3600;
        Ok(self.store.remove_where::<WebSession>(SESSION, |s| {
            at.saturating_sub(s.last_seen) > idle || at.saturating_sub(s.created_at) > absolute
        })?)
    }

    pub fn audit(&self, actor: &str, action: &str, target: &str) -> Result<(), AccountError> {
        self.store.append(
            AUDIT,
            &AuditEntry {
                at: now(),
                actor: actor.to_string(),
                action: action.to_string(),
                target: target.to_string(),
            },
        )?;
        Ok(())
    }

    pub async fn flush(&self) -> Result<(), AccountError> {
        self.store.flush().await?;
        Ok(())
    }

    /// The newest audit entries matching the filters (empty filter: any).
    pub fn audit_log(
        &self,
        actor: &str,
        action: &str,
        target: &str,
        limit: usize,
    ) -> Result<Vec<AuditEntry>, AccountError> {
        Ok(self.store.newest::<AuditEntry>(AUDIT, limit, |e| {
            (actor.is_empty() || e.actor == actor)
                && (action.is_empty() || e.action == action)
                && (target.is_empty() || e.target.eq_ignore_ascii_case(target))
        })?)
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    #[test]
    fn passwords_are_long_and_hashes_verify_only_the_right_one() {
        let p = new_password().unwrap();
        assert_eq!(p.len(), 16);
        assert_ne!(p, new_password().unwrap());
        let h = hash_password(&p).unwrap();
        assert!(h.starts_with("$argon2id$"));
        assert!(verify_password(&p, &h));
        assert!(!verify_password("salah", &h));
        assert!(!verify_password(&p, "not a hash"));
    }

    #[test]
    fn dummy_hash_costs_what_a_real_one_does() {
        let real = hash_password("kata sandi").unwrap();
        let real = PasswordHash::new(&real).unwrap();
        let dummy = PasswordHash::new(DUMMY_HASH).unwrap();
        assert_eq!(dummy.algorithm, real.algorithm);
        assert_eq!(dummy.version, real.version);
        assert_eq!(dummy.params, real.params);
        assert!(!verify_password("", DUMMY_HASH));
        assert!(!verify_password("not a password of anyone", DUMMY_HASH));
    }

    #[test]
    fn names_are_normalised_and_checked() {
        assert_eq!(normalize_name(" Budi.S ").unwrap(), "budi.s");
        assert!(normalize_name("b").is_err());
        assert!(normalize_name("budi santoso").is_err());
        assert!(normalize_name("<script>").is_err());
    }
}
