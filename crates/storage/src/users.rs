//! Accounts.

use diesel::prelude::*;
use diesel_async::RunQueryDsl;
use types::{Millis, User, UserId};

use crate::db::{Conn, for_each_backend, run};
use crate::error::{Error, Result, is_unique_violation};
use crate::schema::users;

/// An account to create. The `*_key` fields are the normalised forms that must be unique; the caller
/// computes them (normalisation is a domain rule).
#[derive(Debug, Clone)]
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

/// An account with the fields only its owner and the auth crate may see.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Account {
    /// The public part.
    pub user: User,
    /// The email address as typed.
    pub email: String,
    /// The password's PHC string.
    pub password_hash: String,
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

#[derive(Queryable, Selectable)]
#[diesel(table_name = users)]
struct AccountRow {
    id: Vec<u8>,
    username: String,
    display_name: String,
    created_at: i64,
    email: String,
    password_hash: String,
}

impl AccountRow {
    fn into_account(self) -> Result<Account> {
        Ok(Account {
            user: User {
                id: UserId::from_slice(&self.id)?,
                username: self.username,
                display_name: self.display_name,
                created_at: Millis(self.created_at),
            },
            email: self.email,
            password_hash: self.password_hash,
        })
    }
}

/// The columns of a [`User`], for queries in other modules that join users.
pub(crate) type UserColumns = (users::id, users::username, users::display_name, users::created_at);
pub(crate) const USER_COLUMNS: UserColumns = (users::id, users::username, users::display_name, users::created_at);

/// A row of [`USER_COLUMNS`].
pub(crate) type UserRow = (Vec<u8>, String, String, i64);

pub(crate) fn user_from_row((id, username, display_name, created_at): UserRow) -> Result<User> {
    Ok(User { id: UserId::from_slice(&id)?, username, display_name, created_at: Millis(created_at) })
}

/// Creates an account.
///
/// # Errors
/// [`Error::AlreadyExists`] with `"username"` or `"email"` when that key is taken.
pub async fn insert(conn: &mut Conn, new: &NewUser<'_>) -> Result<()> {
    run!(conn, |c| c.insert_user(new).await)
}

/// Helpers shared with other modules' transactions.
pub(crate) trait UserTx {
    async fn insert_user(&mut self, new: &NewUser<'_>) -> Result<()>;
}

for_each_backend!(impl UserTx {
    async fn insert_user(&mut self, new: &NewUser<'_>) -> Result<()> {
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
        match diesel::insert_into(users::table).values(&row).execute(self).await {
            Ok(_) => Ok(()),
            Err(e) if is_unique_violation(&e, "username_key") => Err(Error::AlreadyExists("username")),
            Err(e) if is_unique_violation(&e, "email_key") => Err(Error::AlreadyExists("email")),
            Err(e) => Err(e.into()),
        }
    }
});

/// The account whose username key or email key is `key`.
///
/// # Errors
/// Database errors only; an unknown key is `Ok(None)`.
pub async fn find_account_by_key(conn: &mut Conn, key: &str) -> Result<Option<Account>> {
    let row: Option<AccountRow> = run!(conn, |c| users::table
        .filter(users::username_key.eq(key).or(users::email_key.eq(key)))
        .select(AccountRow::as_select())
        .first(c)
        .await
        .optional())?;
    row.map(AccountRow::into_account).transpose()
}

/// The account with this id.
///
/// # Errors
/// Database errors only; an unknown id is `Ok(None)`.
pub async fn get_account(conn: &mut Conn, id: UserId) -> Result<Option<Account>> {
    let row: Option<AccountRow> = run!(conn, |c| users::table
        .find(id.as_bytes().as_slice())
        .select(AccountRow::as_select())
        .first(c)
        .await
        .optional())?;
    row.map(AccountRow::into_account).transpose()
}

/// The user whose username key is `key`.
///
/// # Errors
/// Database errors only; an unknown key is `Ok(None)`.
pub async fn find_by_username_key(conn: &mut Conn, key: &str) -> Result<Option<User>> {
    let row = run!(conn, |c| users::table
        .filter(users::username_key.eq(key))
        .select(USER_COLUMNS)
        .first(c)
        .await
        .optional())?;
    row.map(user_from_row).transpose()
}

/// The users with these ids, in no particular order; unknown ids are left out.
///
/// # Errors
/// Database errors only.
pub async fn get_many(conn: &mut Conn, ids: &[UserId]) -> Result<Vec<User>> {
    if ids.is_empty() {
        return Ok(Vec::new());
    }
    let keys: Vec<&[u8]> = ids.iter().map(|id| id.as_bytes().as_slice()).collect();
    let rows = run!(conn, |c| users::table.filter(users::id.eq_any(&keys)).select(USER_COLUMNS).load(c).await)?;
    rows.into_iter().map(user_from_row).collect()
}

/// Replaces an account's password hash (after a parameter upgrade).
///
/// # Errors
/// [`Error::NotFound`] for an unknown id.
pub async fn set_password_hash(conn: &mut Conn, id: UserId, hash: &str) -> Result<()> {
    let n = run!(conn, |c| diesel::update(users::table.find(id.as_bytes().as_slice()))
        .set(users::password_hash.eq(hash))
        .execute(c)
        .await)?;
    if n == 0 { Err(Error::NotFound("user")) } else { Ok(()) }
}

/// Records when users were last connected.
///
/// # Errors
/// Database errors only.
pub async fn set_last_seen(conn: &mut Conn, ids: &[UserId], at: Millis) -> Result<()> {
    if ids.is_empty() {
        return Ok(());
    }
    let keys: Vec<&[u8]> = ids.iter().map(|id| id.as_bytes().as_slice()).collect();
    run!(conn, |c| diesel::update(users::table.filter(users::id.eq_any(&keys)))
        .set(users::last_seen_at.eq(at.0))
        .execute(c)
        .await)?;
    Ok(())
}

/// When each of these users was last connected, for those who ever were.
///
/// # Errors
/// Database errors only.
pub async fn last_seen(conn: &mut Conn, ids: &[UserId]) -> Result<Vec<(UserId, Millis)>> {
    if ids.is_empty() {
        return Ok(Vec::new());
    }
    let keys: Vec<&[u8]> = ids.iter().map(|id| id.as_bytes().as_slice()).collect();
    let rows: Vec<(Vec<u8>, Option<i64>)> = run!(conn, |c| users::table
        .filter(users::id.eq_any(&keys))
        .filter(users::last_seen_at.is_not_null())
        .select((users::id, users::last_seen_at))
        .load(c)
        .await)?;
    rows.into_iter()
        .filter_map(|(id, at)| at.map(|at| (id, at)))
        .map(|(id, at)| Ok((UserId::from_slice(&id)?, Millis(at))))
        .collect()
}
