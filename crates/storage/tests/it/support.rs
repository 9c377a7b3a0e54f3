//! Rows the tests need, written through storage's own queries.

use storage::rooms::NewRoom;
use storage::users::NewUser;
use storage::{Conn, Error};
use types::{Millis, RoomId, RoomKind, UserId, Visibility};

pub fn new_user<'a>(id: UserId, name: &'a str, email: &'a str) -> NewUser<'a> {
    NewUser {
        id,
        username: name,
        username_key: name,
        email,
        email_key: email,
        display_name: name,
        password_hash: "$argon2id$fake",
        created_at: Millis(1_700_000_000_000),
    }
}

pub use testdb::user;

/// An empty group room called `name` (no members, no entries).
pub async fn room(conn: &mut Conn, name: &str, visibility: Visibility) -> Result<RoomId, Error> {
    let id = RoomId::new();
    let new = NewRoom {
        id,
        name,
        name_key: name,
        topic: "",
        visibility,
        kind: RoomKind::Group,
        owner: None,
        direct_key: None,
        created_at: Millis::now(),
    };
    conn.transaction(async |tx| tx.insert_room(&new).await).await?;
    Ok(id)
}
