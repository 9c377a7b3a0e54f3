//! Accounts.

use diesel::prelude::*;
use types::{Account, Millis, User, UserId};

use crate::db::Conn;
use crate::error::{Error, Result, is_unique_violation};
use crate::schema::users;

/// An account to create. The `*_key` fields are the normalised forms that must be unique; the caller
/// computes them (normalisation is a domain rule).
#[derive(Clone)]
pub struct NewUser<'a> {
    /// The new id.
    pub id: UserId,
    /// As typed.
    pub username: &'a str,
    /// Unique key of the username.
    pub username_key: &'a str,
    /// As typed.
    pub email: &'a str,
    /// Unique key of the email.
    pub email_key: &'a str,
    /// Never empty.
    pub display_name: &'a str,
    /// PHC string.
    pub password_hash: &'a str,
    /// Now.
    pub created_at: Millis,
}

impl std::fmt::Debug for NewUser<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("NewUser").field("id", &self.id).field("username", &self.username).finish_non_exhaustive()
    }
}

/// An account with its password hash, for the auth crate to check a login against.
#[derive(Clone, PartialEq, Eq)]
pub struct Credentials {
    /// The account.
    pub account: Account,
    /// The password's PHC string.
    pub password_hash: String,
    /// When an operator disabled the account, if one did (and has not enabled it again).
    pub disabled_at: Option<Millis>,
}

impl std::fmt::Debug for Credentials {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Credentials")
            .field("account", &self.account)
            .field("disabled_at", &self.disabled_at)
            .finish_non_exhaustive()
    }
}

#[derive(Insertable)]
#[diesel(table_name = users)]
struct NewRow<'a> {
    id: &'a [u8],
    username: &'a str,
    username_key: &'a str,
    email: &'a str,
    email_key: &'a str,
    display_name: &'a str,
    password_hash: &'a str,
    created_at: i64,
}

/// The columns of a [`CredentialsRow`], in its order. (Queries name their columns rather than use
/// `as_select()`, whose selection is tied to one backend: a query written once must compile for both.)
#[diesel::dsl::auto_type]
fn credential_columns() -> _ {
    (
        users::id,
        users::username,
        users::display_name,
        users::created_at,
        users::email,
        users::password_hash,
        users::disabled_at,
    )
}

#[derive(Queryable)]
struct CredentialsRow {
    id: Vec<u8>,
    username: String,
    display_name: String,
    created_at: i64,
    email: String,
    password_hash: String,
    disabled_at: Option<i64>,
}

impl CredentialsRow {
    fn into_credentials(self) -> Result<Credentials> {
        Ok(Credentials {
            account: Account {
                user: User {
                    id: UserId::from_slice(&self.id)?,
                    username: self.username,
                    display_name: self.display_name,
                    created_at: Millis(self.created_at),
                },
                email: self.email,
            },
            password_hash: self.password_hash,
            disabled_at: self.disabled_at.map(Millis),
        })
    }
}

/// The columns of a [`User`] ([`UserRow`]), for queries in other modules that join users.
#[diesel::dsl::auto_type]
pub(crate) fn user_columns() -> _ {
    (users::id, users::username, users::display_name, users::created_at)
}

/// A row of [`user_columns()`].
pub(crate) type UserRow = (Vec<u8>, String, String, i64);

pub(crate) fn user_from_row((id, username, display_name, created_at): UserRow) -> Result<User> {
    Ok(User { id: UserId::from_slice(&id)?, username, display_name, created_at: Millis(created_at) })
}

fn keys(ids: &[UserId]) -> Vec<&[u8]> {
    ids.iter().map(|id| id.as_bytes().as_slice()).collect()
}

impl Conn {
    /// Creates an account.
    ///
    /// # Errors
    /// [`Error::AlreadyExists`] with `"username"` or `"email"` when that key is taken.
    pub async fn insert_user(&mut self, new: &NewUser<'_>) -> Result<()> {
        let row = NewRow {
            id: new.id.as_bytes(),
            username: new.username,
            username_key: new.username_key,
            email: new.email,
            email_key: new.email_key,
            display_name: new.display_name,
            password_hash: new.password_hash,
            created_at: new.created_at.0,
        };
        match self.execute(diesel::insert_into(users::table).values(&row)).await {
            Ok(_) => Ok(()),
            Err(Error::Query(e)) if is_unique_violation(&e, "username_key") => Err(Error::AlreadyExists("username")),
            Err(Error::Query(e)) if is_unique_violation(&e, "email_key") => Err(Error::AlreadyExists("email")),
            Err(e) => Err(e),
        }
    }

    /// The credentials of the account whose username key or email key is `key`.
    ///
    /// # Errors
    /// Database errors only; an unknown key is `Ok(None)`.
    pub async fn credentials_by_key(&mut self, key: &str) -> Result<Option<Credentials>> {
        let query = users::table
            .filter(users::username_key.eq(key).or(users::email_key.eq(key)))
            .select(credential_columns())
            .limit(1);
        self.first(query).await?.map(CredentialsRow::into_credentials).transpose()
    }

    /// The credentials of the account with this id.
    ///
    /// # Errors
    /// Database errors only; an unknown id is `Ok(None)`.
    pub async fn credentials(&mut self, id: UserId) -> Result<Option<Credentials>> {
        let query = users::table.find(id.as_bytes().as_slice()).select(credential_columns());
        self.first(query).await?.map(CredentialsRow::into_credentials).transpose()
    }

    /// The user whose username key is `key`.
    ///
    /// # Errors
    /// Database errors only; an unknown key is `Ok(None)`.
    pub async fn user_by_username_key(&mut self, key: &str) -> Result<Option<User>> {
        let query = users::table.filter(users::username_key.eq(key)).select(user_columns()).limit(1);
        self.first(query).await?.map(user_from_row).transpose()
    }

    /// The users with these ids, in no particular order; unknown ids are left out.
    ///
    /// # Errors
    /// Database errors only.
    pub async fn users(&mut self, ids: &[UserId]) -> Result<Vec<User>> {
        if ids.is_empty() {
            return Ok(Vec::new());
        }
        let keys = keys(ids);
        let rows = self.load(users::table.filter(users::id.eq_any(&keys)).select(user_columns())).await?;
        rows.into_iter().map(user_from_row).collect()
    }

    /// Replaces an account's password hash (after a parameter upgrade).
    ///
    /// # Errors
    /// [`Error::NotFound`] for an unknown id.
    pub async fn set_password_hash(&mut self, id: UserId, hash: &str) -> Result<()> {
        let update = diesel::update(users::table.find(id.as_bytes().as_slice())).set(users::password_hash.eq(hash));
        if self.execute(update).await? == 0 { Err(Error::NotFound("user")) } else { Ok(()) }
    }

    /// Marks an account disabled since `at`, or enabled again with `None`.
    ///
    /// # Errors
    /// [`Error::NotFound`] for an unknown id.
    pub async fn set_disabled(&mut self, id: UserId, at: Option<Millis>) -> Result<()> {
        let update =
            diesel::update(users::table.find(id.as_bytes().as_slice())).set(users::disabled_at.eq(at.map(|at| at.0)));
        if self.execute(update).await? == 0 { Err(Error::NotFound("user")) } else { Ok(()) }
    }

    /// Records when users were last connected.
    ///
    /// # Errors
    /// Database errors only.
    pub async fn set_last_seen(&mut self, ids: &[UserId], at: Millis) -> Result<()> {
        if ids.is_empty() {
            return Ok(());
        }
        let keys = keys(ids);
        self.execute(diesel::update(users::table.filter(users::id.eq_any(&keys))).set(users::last_seen_at.eq(at.0)))
            .await?;
        Ok(())
    }

    /// When each of these users was last connected, for those who ever were.
    ///
    /// # Errors
    /// Database errors only.
    pub async fn last_seen(&mut self, ids: &[UserId]) -> Result<Vec<(UserId, Millis)>> {
        if ids.is_empty() {
            return Ok(Vec::new());
        }
        let keys = keys(ids);
        let query = users::table
            .filter(users::id.eq_any(&keys))
            .filter(users::last_seen_at.is_not_null())
            .select((users::id, users::last_seen_at));
        let rows: Vec<(Vec<u8>, Option<i64>)> = self.load(query).await?;
        rows.into_iter()
            .filter_map(|(id, at)| at.map(|at| (id, at)))
            .map(|(id, at)| Ok((UserId::from_slice(&id)?, Millis(at))))
            .collect()
    }
}
