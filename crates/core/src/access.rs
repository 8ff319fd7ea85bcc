//! Who is calling and what they may change (accounts, contract section 11). The entrypoint
//! decides once who the caller is ([`Caller`]: the API key, or a [`User`] whose token it has
//! verified) and the server decides once which rules hold ([`AccessPolicy`]: none, or owners
//! with an optional admin group); the service applies them to each mutation. Without accounts
//! the API key may do everything, as before; with them, a trainer belongs to the user who
//! created it ([`Owner`], `"<sub>::<username>"` as Amplify stores it) and only that user or an
//! admin may change or delete it.

use std::fmt;

use serde::{Deserialize, Serialize};

/// Who owns a trainer: `"<sub>::<username>"`, the form Amplify's owner rules store, so records
/// written through AppSync with Amplify and through this server agree.
#[derive(Clone, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(transparent)]
pub struct Owner(String);

impl Owner {
    /// The owner a user's records get.
    pub fn of(sub: &str, username: &str) -> Self {
        Owner(format!("{sub}::{username}"))
    }

    /// Wraps an owner read back from a store, trusted as written.
    pub fn from_stored(text: String) -> Self {
        Owner(text)
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for Owner {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// A signed-in person, as their verified token names them.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct User {
    /// The token's `sub`: the user's stable id at the issuer.
    pub sub: String,
    /// `username` (Cognito access tokens), `cognito:username` (ID tokens), or the issuer's
    /// equivalent.
    pub username: String,
    /// `cognito:groups`.
    pub groups: Vec<String>,
}

impl User {
    /// The owner of the trainers this user creates.
    pub fn owner(&self) -> Owner {
        Owner::of(&self.sub, &self.username)
    }

    pub fn in_group(&self, group: &str) -> bool {
        self.groups.iter().any(|g| g == group)
    }
}

/// Who makes a request, decided once by the entrypoint that authenticated it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Caller {
    /// A valid API key (`x-api-key`): no person.
    ApiKey,
    /// A valid token.
    User(User),
}

impl Caller {
    pub fn user(&self) -> Option<&User> {
        match self {
            Caller::ApiKey => None,
            Caller::User(user) => Some(user),
        }
    }
}

/// The server's rules for mutations, set once when the service is built.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub enum AccessPolicy {
    /// No accounts (no issuer configured): any valid caller may run every mutation, the API key
    /// included, as in sections 1 to 10.
    #[default]
    Open,
    /// Accounts: `createTrainer` needs a user, who becomes the owner; update and delete need the
    /// owner or a member of `admin_group`; trainers with no owner are the admins' alone.
    Owners { admin_group: Option<String> },
}

/// A caller who may not run a mutation at all.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Denied;

/// What a caller may do to an existing trainer, before it is read.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum ChangeRight {
    /// Any trainer: no accounts, or an admin.
    Any,
    /// Only trainers that this owner owns.
    Owned(Owner),
    /// None at all.
    Denied,
}

impl AccessPolicy {
    /// Whether `caller` may create trainers; `Ok` carries the new trainer's owner (the user's,
    /// whenever the caller is a user).
    pub fn create(&self, caller: &Caller) -> Result<Option<Owner>, Denied> {
        match (self, caller) {
            (_, Caller::User(user)) => Ok(Some(user.owner())),
            (AccessPolicy::Open, Caller::ApiKey) => Ok(None),
            (AccessPolicy::Owners { .. }, Caller::ApiKey) => Err(Denied),
        }
    }

    /// Which existing trainers `caller` may update or delete.
    pub fn change(&self, caller: &Caller) -> ChangeRight {
        match (self, caller) {
            (AccessPolicy::Open, _) => ChangeRight::Any,
            (AccessPolicy::Owners { .. }, Caller::ApiKey) => ChangeRight::Denied,
            (AccessPolicy::Owners { admin_group }, Caller::User(user)) => match admin_group {
                Some(group) if user.in_group(group) => ChangeRight::Any,
                _ => ChangeRight::Owned(user.owner()),
            },
        }
    }
}

impl ChangeRight {
    /// The owner the store must find on a trainer for this right to cover it, in the write's
    /// own atomic step ([`crate::Precondition::owner`]); `None`: no owner is required.
    pub fn owner(&self) -> Option<Owner> {
        match self {
            ChangeRight::Owned(owner) => Some(owner.clone()),
            ChangeRight::Any | ChangeRight::Denied => None,
        }
    }

    /// Whether this right covers a trainer with `owner` (a trainer stored before owners existed
    /// has none: only [`ChangeRight::Any`] covers it).
    pub fn covers(&self, owner: Option<&Owner>) -> bool {
        match self {
            ChangeRight::Any => true,
            ChangeRight::Owned(mine) => owner == Some(mine),
            ChangeRight::Denied => false,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn user(sub: &str, name: &str, groups: &[&str]) -> Caller {
        Caller::User(User {
            sub: sub.into(),
            username: name.into(),
            groups: groups.iter().map(|g| g.to_string()).collect(),
        })
    }

    fn owners() -> AccessPolicy {
        AccessPolicy::Owners {
            admin_group: Some("Admins".into()),
        }
    }

    #[test]
    fn the_owner_is_sub_and_username_as_amplify_writes_it() {
        let Caller::User(u) = user("1234-abcd", "jane", &[]) else {
            unreachable!()
        };
        assert_eq!(u.owner().as_str(), "1234-abcd::jane");
        assert_eq!(
            serde_json::to_string(&u.owner()).ok().as_deref(),
            Some("\"1234-abcd::jane\"")
        );
    }

    #[test]
    fn without_accounts_everyone_may_do_everything() {
        let open = AccessPolicy::Open;
        assert_eq!(open.create(&Caller::ApiKey), Ok(None));
        assert_eq!(open.change(&Caller::ApiKey), ChangeRight::Any);
        assert_eq!(open.change(&user("s", "u", &[])), ChangeRight::Any);
        assert!(open.change(&Caller::ApiKey).covers(None));
    }

    #[test]
    fn with_accounts_the_api_key_may_not_mutate() {
        assert_eq!(owners().create(&Caller::ApiKey), Err(Denied));
        assert_eq!(owners().change(&Caller::ApiKey), ChangeRight::Denied);
        assert!(!ChangeRight::Denied.covers(Some(&Owner::of("s", "u"))));
    }

    #[test]
    fn with_accounts_users_create_and_change_their_own() {
        let jane = user("s1", "jane", &[]);
        let mine = Owner::of("s1", "jane");
        assert_eq!(owners().create(&jane), Ok(Some(mine.clone())));
        let right = owners().change(&jane);
        assert!(right.covers(Some(&mine)));
        assert!(!right.covers(Some(&Owner::of("s2", "joe"))));
        // Same username, another sub: another person.
        assert!(!right.covers(Some(&Owner::of("s9", "jane"))));
        assert!(!right.covers(None), "unowned trainers are the admins'");
    }

    #[test]
    fn admins_change_any_trainer_and_groups_only_count_when_configured() {
        let admin = user("s3", "ann", &["Admins"]);
        assert_eq!(owners().change(&admin), ChangeRight::Any);
        assert!(owners().change(&admin).covers(None));
        let no_admins = AccessPolicy::Owners { admin_group: None };
        assert!(!no_admins.change(&admin).covers(None));
        let other_group = user("s4", "bob", &["admins", "Staff"]);
        assert!(!owners().change(&other_group).covers(None));
    }
}
