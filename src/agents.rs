//! The people at the desk: representatives and supervisors, each in a team, signing in with a
//! password kept only as an Argon2id hash. Who may see a session is decided here, once.

use argon2::{
    Argon2,
    password_hash::{PasswordHash, PasswordHasher, PasswordVerifier, SaltString},
};
use serde::{Deserialize, Serialize};

/// What an account may do at the desk.
#[derive(Clone, Copy, Debug, Deserialize, Serialize, PartialEq, Eq)]
#[serde(rename_all = "snake_case")]
pub enum Role {
    /// Sees the sessions queued for their team and those they took, and acts in them.
    Agent,
    /// Sees every live session, the queue and the audit trail; acts in none.
    Supervisor,
}

/// An account as stored. The password is only ever its hash.
#[derive(Clone, Debug, Deserialize, Serialize, PartialEq, Eq)]
pub struct Agent {
    /// What the person signs in with: lowercase letters, digits, `.`, `-`, `_`.
    pub login: String,
    /// As the customer is told it: "Ana from Fraud is with you".
    pub name: String,
    pub team: String,
    pub role: Role,
    /// PHC string of the Argon2id hash; empty for an account that signs in through the bank's
    /// single sign-on only.
    #[serde(default)]
    pub password_hash: String,
}

/// One line of the desk's audit trail: who saw or did what, when, in which session.
#[derive(Clone, Debug, Deserialize, Serialize, PartialEq, Eq)]
pub struct AuditEntry {
    pub at: chrono::DateTime<chrono::Utc>,
    /// The account's login (or the login a failed sign-in named).
    pub agent: String,
    /// `view`, `refused`, `take`, `decide`, `case`, `screen`, `sign_in`, `sign_in_failed`,
    /// `locked_out`, `sign_out`.
    pub action: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub session: Option<uuid::Uuid>,
}

impl AuditEntry {
    pub fn now(agent: &str, action: &str, session: Option<uuid::Uuid>) -> Self {
        Self {
            at: chrono::Utc::now(),
            agent: agent.to_owned(),
            action: action.to_owned(),
            session,
        }
    }
}

/// What is wrong with an account as asked for, in plain words.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum AccountError {
    #[error("login must be 1 to 64 lowercase letters, digits, '.', '-' or '_'")]
    Login,
    #[error("name must be 1 to 80 characters, without control characters")]
    Name,
    #[error("team must be 1 to 40 lowercase letters, digits, '-' or '_'")]
    Team,
    #[error("password must be 12 to 200 characters")]
    Password,
}

/// A login, a team name: short, lowercase, safe in a key and a URL.
fn is_name(s: &str, max: usize, extra: &[u8]) -> bool {
    (1..=max).contains(&s.len())
        && s.bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || extra.contains(&b))
}

pub fn is_login(s: &str) -> bool {
    is_name(s, 64, b".-_")
}

pub fn is_team(s: &str) -> bool {
    is_name(s, 40, b"-_")
}

impl Agent {
    /// A new account with `password` hashed; every field checked.
    pub fn new(
        login: &str,
        name: &str,
        team: &str,
        role: Role,
        password: Option<&str>,
    ) -> Result<Self, AccountError> {
        if !is_login(login) {
            return Err(AccountError::Login);
        }
        let name = name.trim();
        if name.is_empty() || name.chars().count() > 80 || name.chars().any(char::is_control) {
            return Err(AccountError::Name);
        }
        if !is_team(team) {
            return Err(AccountError::Team);
        }
        let password_hash = match password {
            Some(p) if (12..=200).contains(&p.chars().count()) => hash(p),
            Some(_) => return Err(AccountError::Password),
            None => String::new(),
        };
        Ok(Self {
            login: login.to_owned(),
            name: name.to_owned(),
            team: team.to_owned(),
            role,
            password_hash,
        })
    }

    /// Whether `password` is this account's. An account without a password takes none.
    pub fn password_is(&self, password: &str) -> bool {
        let Ok(parsed) = PasswordHash::new(&self.password_hash) else {
            return false;
        };
        Argon2::default()
            .verify_password(password.as_bytes(), &parsed)
            .is_ok()
    }

    /// The first word of the name, as the customer is told it.
    pub fn first_name(&self) -> &str {
        self.name.split_whitespace().next().unwrap_or(&self.name)
    }

    /// Whether this person may see a session queued for `team` and taken by `taken_by`:
    /// a supervisor sees every one; an agent, their team's and the ones they took.
    pub fn may_see(&self, team: &str, taken_by: Option<&str>) -> bool {
        match self.role {
            Role::Supervisor => true,
            Role::Agent => taken_by.map_or(team == self.team, |login| login == self.login),
        }
    }
}

/// An Argon2id hash (the crate's defaults: 19 MiB, 2 passes) with a fresh salt, as a PHC string.
fn hash(password: &str) -> String {
    let mut salt = [0u8; 16];
    getrandom::fill(&mut salt).expect("the OS has randomness");
    let salt = SaltString::encode_b64(&salt).expect("16 bytes make a salt");
    Argon2::default()
        .hash_password(password.as_bytes(), &salt)
        .expect("Argon2id hashes any password within its limits")
        .to_string()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_password_is_kept_as_an_argon2id_hash_and_checked_against_it() {
        let ana = Agent::new(
            "ana",
            "Ana Ruiz",
            "fraud",
            Role::Agent,
            Some("correct horse 1"),
        )
        .unwrap();
        assert!(
            ana.password_hash.starts_with("$argon2id$"),
            "{}",
            ana.password_hash
        );
        assert!(!ana.password_hash.contains("correct horse"));
        assert!(ana.password_is("correct horse 1"));
        assert!(!ana.password_is("correct horse 2"));
        assert_eq!(ana.first_name(), "Ana");
        let sso = Agent::new("bo", "Bo", "fraud", Role::Agent, None).unwrap();
        assert!(!sso.password_is(""));
    }

    #[test]
    fn an_account_asked_for_badly_is_refused_in_plain_words() {
        let make =
            |login, name, team, password| Agent::new(login, name, team, Role::Agent, password);
        assert_eq!(make("Ana", "Ana", "fraud", None), Err(AccountError::Login));
        assert_eq!(make("ana", " ", "fraud", None), Err(AccountError::Name));
        assert_eq!(
            make("ana", "Ana", "Fraud Team", None),
            Err(AccountError::Team)
        );
        assert_eq!(
            make("ana", "Ana", "fraud", Some("short")),
            Err(AccountError::Password)
        );
    }

    #[test]
    fn an_agent_sees_their_teams_queue_and_what_they_took_a_supervisor_everything() {
        let ana = Agent::new("ana", "Ana", "fraud", Role::Agent, None).unwrap();
        assert!(ana.may_see("fraud", None));
        assert!(!ana.may_see("cards", None));
        assert!(ana.may_see("cards", Some("ana")));
        assert!(
            !ana.may_see("fraud", Some("bo")),
            "taken by another: theirs now"
        );
        let sue = Agent::new("sue", "Sue", "fraud", Role::Supervisor, None).unwrap();
        assert!(sue.may_see("cards", Some("bo")));
    }
}
