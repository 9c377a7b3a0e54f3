//! How enums are stored: small integers, fixed forever once written (they are in every database).

use types::{EntryKind, Role, RoomKind, Visibility};

use crate::Error;

fn corrupt(what: &str, code: i16) -> Error {
    Error::Corrupt(format!("unknown {what} code {code}"))
}

pub(crate) fn visibility(v: Visibility) -> i16 {
    match v {
        Visibility::Public => 1,
        Visibility::Private => 2,
    }
}

pub(crate) fn to_visibility(code: i16) -> Result<Visibility, Error> {
    match code {
        1 => Ok(Visibility::Public),
        2 => Ok(Visibility::Private),
        other => Err(corrupt("visibility", other)),
    }
}

pub(crate) fn room_kind(k: RoomKind) -> i16 {
    match k {
        RoomKind::Group => 1,
        RoomKind::Direct => 2,
    }
}

pub(crate) fn to_room_kind(code: i16) -> Result<RoomKind, Error> {
    match code {
        1 => Ok(RoomKind::Group),
        2 => Ok(RoomKind::Direct),
        other => Err(corrupt("room kind", other)),
    }
}

pub(crate) fn role(r: Role) -> i16 {
    match r {
        Role::Owner => 1,
        Role::Admin => 2,
        Role::Member => 3,
    }
}

pub(crate) fn to_role(code: i16) -> Result<Role, Error> {
    match code {
        1 => Ok(Role::Owner),
        2 => Ok(Role::Admin),
        3 => Ok(Role::Member),
        other => Err(corrupt("role", other)),
    }
}

pub(crate) fn entry_kind(k: EntryKind) -> i16 {
    match k {
        EntryKind::Text => 1,
        EntryKind::MemberJoined => 2,
        EntryKind::MemberLeft => 3,
        EntryKind::MemberInvited => 4,
        EntryKind::MemberRemoved => 5,
        EntryKind::MemberRoleChanged => 6,
        EntryKind::InvitationDeclined => 7,
        EntryKind::Edit => 8,
        EntryKind::Delete => 9,
        EntryKind::ReactionAdded => 10,
        EntryKind::ReactionRemoved => 11,
    }
}

pub(crate) fn to_entry_kind(code: i16) -> Result<EntryKind, Error> {
    match code {
        1 => Ok(EntryKind::Text),
        2 => Ok(EntryKind::MemberJoined),
        3 => Ok(EntryKind::MemberLeft),
        4 => Ok(EntryKind::MemberInvited),
        5 => Ok(EntryKind::MemberRemoved),
        6 => Ok(EntryKind::MemberRoleChanged),
        7 => Ok(EntryKind::InvitationDeclined),
        8 => Ok(EntryKind::Edit),
        9 => Ok(EntryKind::Delete),
        10 => Ok(EntryKind::ReactionAdded),
        11 => Ok(EntryKind::ReactionRemoved),
        other => Err(corrupt("entry kind", other)),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_code_round_trips() {
        for v in [Visibility::Public, Visibility::Private] {
            assert_eq!(to_visibility(visibility(v)).ok(), Some(v));
        }
        for k in [RoomKind::Group, RoomKind::Direct] {
            assert_eq!(to_room_kind(room_kind(k)).ok(), Some(k));
        }
        for r in [Role::Owner, Role::Admin, Role::Member] {
            assert_eq!(to_role(role(r)).ok(), Some(r));
        }
        for k in [
            EntryKind::Text,
            EntryKind::MemberJoined,
            EntryKind::MemberLeft,
            EntryKind::MemberInvited,
            EntryKind::MemberRemoved,
            EntryKind::MemberRoleChanged,
            EntryKind::InvitationDeclined,
            EntryKind::Edit,
            EntryKind::Delete,
            EntryKind::ReactionAdded,
            EntryKind::ReactionRemoved,
        ] {
            assert_eq!(to_entry_kind(entry_kind(k)).ok(), Some(k));
        }
        assert!(to_role(9).is_err());
    }
}
