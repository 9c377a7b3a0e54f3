//! Changes of membership. Each is one transaction: lock the room, read what the rule needs, decide, write
//! the change and the timeline entries that record it. Events are published after the commit.

use bus::Event;
use storage::Tx;
use storage::rooms::NewRoom;
use storage::timeline::NewEntry;
use types::{Departure, EntryKind, FieldViolation, Millis, Role, RoomId, RoomKind, UserId, Violations, Visibility};

use crate::error::invalid;
use crate::{Change, Error, RoomView, Rooms, Standing};

/// Who may remove whom: the owner anyone else, admins members. `target` is `None` when not a member.
fn may_remove(actor: Option<Role>, target: Option<Role>) -> Result<(), Error> {
    match (actor, target) {
        (None, _) => Err(Error::NotMember),
        (Some(Role::Member), _) => Err(Error::Forbidden("only the owner and admins may remove members")),
        (_, Some(Role::Owner)) => Err(Error::Forbidden("nobody may remove the room's owner")),
        (Some(Role::Admin), Some(Role::Admin)) => {
            Err(Error::Forbidden("admins may not remove other admins; ask the owner"))
        }
        _ => Ok(()),
    }
}

/// Who may change roles: the owner only.
fn may_set_roles(actor: Option<Role>) -> Result<(), Error> {
    match actor {
        None => Err(Error::NotMember),
        Some(Role::Owner) => Ok(()),
        Some(_) => Err(Error::Forbidden("only the room's owner may change roles")),
    }
}

/// A group room's name and topic, checked.
fn check_room_fields(name: &str, topic: &str) -> Result<(), Violations> {
    let mut violations = Vec::new();
    let name_len = name.chars().count();
    if name.trim().is_empty() || name_len > 100 {
        violations
            .push(FieldViolation::new("name", format!("must be 1 to 100 characters, not all spaces (is {name_len})")));
    } else if name.chars().any(char::is_control) {
        violations.push(FieldViolation::new("name", "must not contain control characters"));
    }
    let topic_len = topic.chars().count();
    if topic_len > 1000 {
        violations.push(FieldViolation::new("topic", format!("must be at most 1000 characters (is {topic_len})")));
    }
    Violations::check(violations)
}

/// The storage room of `tx` that must exist (it was locked in this transaction).
async fn locked_room(tx: &mut Tx<'_>, room: RoomId) -> Result<types::Room, Error> {
    tx.room(room).await?.ok_or(Error::RoomNotFound)
}

/// The owner's successor when the owner leaves: the longest-standing admin, else the longest-standing
/// member (standing is the time since the member's latest join); `None` when nobody is left.
async fn successor(tx: &mut Tx<'_>, room: RoomId) -> Result<Option<UserId>, Error> {
    match tx.longest_standing(room, Role::Admin).await? {
        Some(admin) => Ok(Some(admin)),
        None => Ok(tx.longest_standing(room, Role::Member).await?),
    }
}

impl Rooms {
    /// Creates a group room owned by `who`, its first member.
    ///
    /// # Errors
    /// [`Error::Invalid`] for a name of other than 1 to 100 characters, a topic over 1000, or control
    /// characters in the name.
    pub async fn create(
        &self,
        who: UserId,
        name: &str,
        topic: &str,
        visibility: Visibility,
    ) -> Result<RoomView, Error> {
        check_room_fields(name, topic)?;
        let (id, now) = (RoomId::new(), Millis::now());
        let key = types::text::search_key(name);
        let new = NewRoom {
            id,
            name,
            name_key: &key,
            topic,
            visibility,
            kind: RoomKind::Group,
            owner: Some(who),
            direct_key: None,
            created_at: now,
        };
        let change = self
            .db
            .transaction(async |tx| {
                tx.insert_room(&new).await?;
                let joined = NewEntry::membership(EntryKind::MemberJoined, who, who, Some(Role::Owner));
                let entries = tx.append(id, 0, &[joined], 1, now).await?;
                tx.insert_membership(id, who, Role::Owner, now, entries[0].seq).await?;
                Ok::<_, Error>(Change { room: locked_room(tx, id).await?, entries })
            })
            .await?;
        tracing::info!(room_id = %id, "room created");
        self.published(&change, Some((who, Event::Joined { room_id: id, after_seq: 0 })));
        self.view(who, change.room, Some(Role::Owner)).await
    }

    /// Makes `who` a member of a public room, or of a private room they are invited to (using the
    /// invitation up). Joining again changes nothing. Whoever joins a group room that has no owner (its last
    /// member left) becomes its owner.
    ///
    /// # Errors
    /// [`Error::RoomNotFound`] for a missing room, a direct room, or a private one without an invitation.
    pub async fn join(&self, who: UserId, room: RoomId) -> Result<RoomView, Error> {
        let now = Millis::now();
        let outcome = self
            .db
            .transaction(async |tx| {
                let last = tx.lock_room(room).await?.ok_or(Error::RoomNotFound)?;
                let standing = Standing::read(tx, room, who).await?.ok_or(Error::RoomNotFound)?;
                if let Some(role) = standing.role {
                    return Ok((Change { room: standing.room, entries: Vec::new() }, role));
                }
                if standing.hidden() || standing.room.kind == RoomKind::Direct {
                    return Err(Error::RoomNotFound);
                }
                let role = if standing.room.owner_id.is_none() { Role::Owner } else { Role::Member };
                let joined = NewEntry::membership(EntryKind::MemberJoined, who, who, Some(role));
                let entries = tx.append(room, last, &[joined], 1, now).await?;
                tx.insert_membership(room, who, role, now, entries[0].seq).await?;
                tx.delete_invite(room, who).await?;
                if role == Role::Owner {
                    tx.set_owner(room, Some(who)).await?;
                }
                Ok((Change { room: locked_room(tx, room).await?, entries }, role))
            })
            .await;
        let (change, role) = outcome?;
        if let Some(first) = change.entries.first() {
            let after_seq = first.seq - 1;
            self.published(&change, Some((who, Event::Joined { room_id: room, after_seq })));
            tracing::info!(room_id = %room, "joined");
        }
        self.view(who, change.room, Some(role)).await
    }

    /// Ends `who`'s membership, handing ownership over if they owned the room.
    ///
    /// # Errors
    /// [`Error::RoomNotFound`] for a missing or hidden room; [`Error::NotInRoom`] when `who` is not a
    /// member; [`Error::Direct`] for a direct conversation.
    pub async fn leave(&self, who: UserId, room: RoomId) -> Result<(), Error> {
        let standing = self.visible(who, room).await?;
        if standing.room.kind == RoomKind::Direct {
            return Err(Error::Direct("direct conversations cannot be left"));
        }
        let now = Millis::now();
        let change = self
            .db
            .transaction(async |tx| {
                let last = tx.lock_room(room).await?.ok_or(Error::RoomNotFound)?;
                let role = tx.role(room, who).await?.ok_or(Error::NotInRoom)?;
                tx.delete_membership(room, who).await?;
                let mut changes = vec![NewEntry::membership(EntryKind::MemberLeft, who, who, None)];
                if role == Role::Owner {
                    let heir = successor(tx, room).await?;
                    if let Some(heir) = heir {
                        tx.set_role(room, heir, Role::Owner).await?;
                        changes.push(NewEntry::membership(EntryKind::MemberRoleChanged, who, heir, Some(Role::Owner)));
                    }
                    tx.set_owner(room, heir).await?;
                }
                let entries = tx.append(room, last, &changes, -1, now).await?;
                Ok::<_, Error>(Change { room: locked_room(tx, room).await?, entries })
            })
            .await?;
        let seq = change.entries.first().map(|e| e.seq).unwrap_or_default();
        self.published(&change, Some((who, Event::Departed { room_id: room, seq, reason: Departure::Left })));
        tracing::info!(room_id = %room, "left");
        Ok(())
    }

    /// Lets `username` join `room`. Any member may invite; inviting twice changes nothing.
    ///
    /// # Errors
    /// [`Error::RoomNotFound`], [`Error::NotMember`], [`Error::UserNotFound`], [`Error::AlreadyMember`], or
    /// [`Error::Direct`] for a direct room.
    pub async fn invite(&self, who: UserId, room: RoomId, username: &str) -> Result<(), Error> {
        // Visibility first, so that a hidden room cannot be probed through the username's error.
        let standing = self.visible(who, room).await?;
        if standing.role.is_none() {
            return Err(if standing.room.visibility == Visibility::Private {
                Error::RoomNotFound
            } else {
                Error::NotMember
            });
        }
        let invitee = self.user_by_name(username).await?;
        let now = Millis::now();
        let change = self
            .db
            .transaction(async |tx| {
                let last = tx.lock_room(room).await?.ok_or(Error::RoomNotFound)?;
                if tx.role(room, who).await?.is_none() {
                    return Err(Error::NotMember);
                }
                if locked_room(tx, room).await?.kind == RoomKind::Direct {
                    return Err(Error::Direct("direct conversations cannot take more members"));
                }
                if tx.role(room, invitee.id).await?.is_some() {
                    return Err(Error::AlreadyMember(invitee.username.clone()));
                }
                if tx.is_invited(room, invitee.id).await? {
                    return Ok(None);
                }
                tx.insert_invite(room, invitee.id, who, now).await?;
                let entry = NewEntry::membership(EntryKind::MemberInvited, who, invitee.id, None);
                let entries = tx.append(room, last, &[entry], 0, now).await?;
                Ok(Some(Change { room: locked_room(tx, room).await?, entries }))
            })
            .await?;
        if let Some(change) = change {
            let inviter = self.db.read().await?.users(&[who]).await?.pop();
            let event = inviter.map(|by| (invitee.id, Event::Invited { room_id: room, by }));
            self.published(&change, event);
            tracing::info!(room_id = %room, invitee = %invitee.id, "invited");
        }
        Ok(())
    }

    /// Ends `who`'s pending invitation to `room` without joining; the timeline records it and `who`'s
    /// streams on every device are told.
    ///
    /// # Errors
    /// [`Error::RoomNotFound`] for a missing or hidden room; [`Error::InvitationNotFound`] when `who` holds
    /// no invitation to it.
    pub async fn decline(&self, who: UserId, room: RoomId) -> Result<(), Error> {
        let standing = self.visible(who, room).await?;
        if !standing.invited {
            return Err(Error::InvitationNotFound);
        }
        let now = Millis::now();
        let change = self
            .db
            .transaction(async |tx| {
                let last = tx.lock_room(room).await?.ok_or(Error::RoomNotFound)?;
                if !tx.delete_invite(room, who).await? {
                    return Err(Error::InvitationNotFound);
                }
                let entry = NewEntry::membership(EntryKind::InvitationDeclined, who, who, None);
                let entries = tx.append(room, last, &[entry], 0, now).await?;
                Ok(Change { room: locked_room(tx, room).await?, entries })
            })
            .await?;
        self.published(&change, Some((who, Event::InvitationEnded { room_id: room })));
        tracing::info!(room_id = %room, "invitation declined");
        Ok(())
    }

    /// Removes `target` from `room`. The owner may remove anyone else; admins may remove members. Removal
    /// also withdraws the target's invitation, so rejoining a private room takes a new one.
    ///
    /// # Errors
    /// [`Error::Invalid`] when `target` is `who`; [`Error::Forbidden`] or [`Error::NotMember`] without the
    /// right; [`Error::MemberNotFound`] when `target` is not a member; [`Error::RoomNotFound`].
    pub async fn remove(&self, who: UserId, room: RoomId, target: UserId) -> Result<(), Error> {
        if target == who {
            return Err(invalid("user_id", "is you; to leave a room use LeaveRoom"));
        }
        self.visible(who, room).await?;
        let now = Millis::now();
        let change = self
            .db
            .transaction(async |tx| {
                let last = tx.lock_room(room).await?.ok_or(Error::RoomNotFound)?;
                let target_role = tx.role(room, target).await?;
                may_remove(tx.role(room, who).await?, target_role)?;
                if target_role.is_none() {
                    return Err(Error::MemberNotFound);
                }
                tx.delete_membership(room, target).await?;
                tx.delete_invite(room, target).await?;
                let entry = NewEntry::membership(EntryKind::MemberRemoved, who, target, None);
                let entries = tx.append(room, last, &[entry], -1, now).await?;
                Ok(Change { room: locked_room(tx, room).await?, entries })
            })
            .await?;
        let seq = change.entries.first().map(|e| e.seq).unwrap_or_default();
        self.published(&change, Some((target, Event::Departed { room_id: room, seq, reason: Departure::Removed })));
        tracing::info!(room_id = %room, removed = %target, "member removed");
        Ok(())
    }

    /// Changes `target`'s role; only the owner may. [`Role::Owner`] hands ownership over (the former owner
    /// becomes an admin).
    ///
    /// # Errors
    /// [`Error::Invalid`] when `target` is `who`; [`Error::Forbidden`] or [`Error::NotMember`] for anyone
    /// but the owner; [`Error::MemberNotFound`]; [`Error::RoomNotFound`].
    pub async fn set_role(&self, who: UserId, room: RoomId, target: UserId, role: Role) -> Result<(), Error> {
        if target == who {
            return Err(invalid("user_id", "is you; to give up ownership, make another member ROLE_OWNER"));
        }
        self.visible(who, room).await?;
        let now = Millis::now();
        let change = self
            .db
            .transaction(async |tx| {
                let last = tx.lock_room(room).await?.ok_or(Error::RoomNotFound)?;
                may_set_roles(tx.role(room, who).await?)?;
                let current = tx.role(room, target).await?.ok_or(Error::MemberNotFound)?;
                if current == role {
                    return Ok::<_, Error>(Change { room: locked_room(tx, room).await?, entries: Vec::new() });
                }
                tx.set_role(room, target, role).await?;
                let mut changes = vec![NewEntry::membership(EntryKind::MemberRoleChanged, who, target, Some(role))];
                if role == Role::Owner {
                    tx.set_role(room, who, Role::Admin).await?;
                    tx.set_owner(room, Some(target)).await?;
                    changes.push(NewEntry::membership(EntryKind::MemberRoleChanged, who, who, Some(Role::Admin)));
                }
                let entries = tx.append(room, last, &changes, 0, now).await?;
                Ok(Change { room: locked_room(tx, room).await?, entries })
            })
            .await?;
        self.published(&change, None);
        tracing::info!(room_id = %room, member = %target, ?role, "role changed");
        Ok(())
    }

    /// The direct room of `who` and `username`, created on first use with both as members. Concurrent
    /// calls for one pair make one room.
    ///
    /// # Errors
    /// [`Error::UserNotFound`]; [`Error::Invalid`] when `username` is `who`.
    pub async fn direct(&self, who: UserId, username: &str) -> Result<RoomView, Error> {
        let peer = self.user_by_name(username).await?;
        if peer.id == who {
            return Err(invalid("username", "is you; a direct conversation needs another user"));
        }
        let (lo, hi) = if who < peer.id { (who, peer.id) } else { (peer.id, who) };
        let key = format!("{lo}:{hi}");
        // Two tries: if another call creates the room between our read and our insert, the unique key
        // refuses ours and the second read finds theirs.
        for _ in 0..2 {
            if let Some(room) = self.db.read().await?.direct_room(&key).await? {
                return self.view(who, room, Some(Role::Member)).await;
            }
            match self.create_direct(&key, who, peer.id).await {
                Ok(change) => {
                    self.published(&change, Some((who, Event::Joined { room_id: change.room.id, after_seq: 0 })));
                    self.bus
                        .publish(bus::Topic::User(peer.id), Event::Joined { room_id: change.room.id, after_seq: 0 });
                    tracing::info!(room_id = %change.room.id, "direct room created");
                    return self.view(who, change.room, Some(Role::Member)).await;
                }
                Err(Error::Storage(storage::Error::AlreadyExists(_))) => continue,
                Err(e) => return Err(e),
            }
        }
        Err(storage::Error::Corrupt(format!("direct room {key} neither found nor created")).into())
    }

    async fn create_direct(&self, key: &str, a: UserId, b: UserId) -> Result<Change, Error> {
        let (id, now) = (RoomId::new(), Millis::now());
        let new = NewRoom {
            id,
            name: "",
            name_key: "",
            topic: "",
            visibility: Visibility::Private,
            kind: RoomKind::Direct,
            owner: None,
            direct_key: Some(key),
            created_at: now,
        };
        self.db
            .transaction(async |tx| {
                tx.insert_room(&new).await?;
                let joins = [
                    NewEntry::membership(EntryKind::MemberJoined, a, a, Some(Role::Member)),
                    NewEntry::membership(EntryKind::MemberJoined, b, b, Some(Role::Member)),
                ];
                let entries = tx.append(id, 0, &joins, 2, now).await?;
                tx.insert_membership(id, a, Role::Member, now, entries[0].seq).await?;
                tx.insert_membership(id, b, Role::Member, now, entries[1].seq).await?;
                Ok(Change { room: locked_room(tx, id).await?, entries })
            })
            .await
    }
}
