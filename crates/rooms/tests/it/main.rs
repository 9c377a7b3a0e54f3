//! The rooms service's rules on real databases (SQLite and MySQL), without gRPC: who sees a room, who may
//! join, invite, remove and change roles, who inherits ownership, and what each change records.

// A failed expectation in a test is a failed test: panicking is the point.
#![allow(clippy::expect_used, clippy::unwrap_used)]

use bus::{Bus, Event, Topic};
use rooms::{Error, Rooms, Scope};
use testdb::db_test;
use types::{Departure, EntryKind, PageSize, Role, RoomId, TimelinePage, UserId, Visibility};

/// The service, with a user for each name.
async fn setup(t: &testdb::TestDb, names: &[&str]) -> anyhow::Result<(Rooms, Bus, Vec<UserId>)> {
    let mut conn = t.db().write().await?;
    let mut ids = Vec::new();
    for name in names {
        ids.push(testdb::user(&mut conn, name).await?);
    }
    let bus = Bus::default();
    Ok((Rooms::new(t.db().clone(), bus.clone()), bus, ids))
}

/// The kinds of a room's whole timeline, oldest first.
async fn kinds(t: &testdb::TestDb, room: RoomId) -> anyhow::Result<Vec<EntryKind>> {
    let (entries, _) = t.db().read().await?.page(room, TimelinePage::After(0), 200, None).await?;
    Ok(entries.iter().map(|e| e.kind).collect())
}

db_test!(async fn a_private_room_does_not_exist_for_outsiders(t) {
    let (rooms, _, u) = setup(t, &["alice", "bob"]).await?;
    let (alice, bob) = (u[0], u[1]);
    let room = rooms.create(alice, "plans", "", Visibility::Private).await?.room.id;
    for outcome in [
        rooms.get(bob, room).await.err(),
        rooms.join(bob, room).await.err(),
        rooms.leave(bob, room).await.err(),
        rooms.invite(bob, room, "alice").await.err(),
        rooms.access(bob, room).await.err(),
        rooms.decline(bob, room).await.err(),
        rooms.get(bob, RoomId::new()).await.err(),
    ] {
        assert!(matches!(outcome, Some(Error::RoomNotFound)), "{outcome:?}");
    }
    // A public room is visible, but using it takes membership.
    let lobby = rooms.create(alice, "lobby", "", Visibility::Public).await?.room.id;
    assert_eq!(rooms.get(bob, lobby).await?.caller_role, None);
    assert!(matches!(rooms.access(bob, lobby).await, Err(Error::NotMember)));
    assert!(matches!(rooms.invite(bob, lobby, "alice").await, Err(Error::NotMember)));
    assert!(matches!(rooms.leave(bob, lobby).await, Err(Error::NotInRoom)));
    Ok(())
});

db_test!(async fn an_invitation_opens_a_private_room_once_and_declining_ends_it(t) {
    let (rooms, bus, u) = setup(t, &["alice", "bob", "carol"]).await?;
    let (alice, bob, carol) = (u[0], u[1], u[2]);
    let room = rooms.create(alice, "plans", "", Visibility::Private).await?.room.id;
    let mut bobs = bus.subscribe(Topic::User(bob));
    rooms.invite(alice, room, "BOB").await?;
    rooms.invite(alice, room, "bob").await?; // twice changes nothing
    assert!(matches!(bobs.recv().await, Ok(Event::Invited { room_id, by }) if room_id == room && by.id == alice));
    assert!(matches!(rooms.invite(alice, room, "alice").await, Err(Error::AlreadyMember(name)) if name == "alice"));
    assert!(matches!(rooms.invite(alice, room, "nobody").await, Err(Error::UserNotFound(_))));
    let (invited, _) = rooms.list(bob, Scope::Invited, PageSize::default(), "", "").await?;
    assert_eq!(invited.iter().map(|v| v.room.id).collect::<Vec<_>>(), vec![room]);

    rooms.decline(bob, room).await?;
    assert!(matches!(bobs.recv().await, Ok(Event::InvitationEnded { room_id }) if room_id == room));
    assert!(matches!(rooms.decline(bob, room).await, Err(Error::RoomNotFound)), "hidden again");
    assert!(matches!(rooms.join(bob, room).await, Err(Error::RoomNotFound)));

    rooms.invite(alice, room, "bob").await?;
    let view = rooms.join(bob, room).await?;
    assert_eq!((view.caller_role, view.room.member_count), (Some(Role::Member), 2));
    assert_eq!(rooms.join(bob, room).await?.room.member_count, 2, "joining again changes nothing");
    let (invited, _) = rooms.list(bob, Scope::Invited, PageSize::default(), "", "").await?;
    assert!(invited.is_empty(), "the invitation is used up");
    // Any member may invite; declining a public room's invitation is allowed too.
    rooms.invite(bob, room, "carol").await?;
    rooms.join(carol, room).await?;
    assert_eq!(
        kinds(t, room).await?,
        [
            EntryKind::MemberJoined,
            EntryKind::MemberInvited,
            EntryKind::InvitationDeclined,
            EntryKind::MemberInvited,
            EntryKind::MemberJoined,
            EntryKind::MemberInvited,
            EntryKind::MemberJoined,
        ]
    );
    Ok(())
});

db_test!(async fn ownership_passes_to_the_longest_standing_admin_else_member_and_an_empty_room_to_its_next_joiner(t) {
    let (rooms, _, u) = setup(t, &["owner", "early", "admin", "late"]).await?;
    let (owner, early, admin, late) = (u[0], u[1], u[2], u[3]);
    let room = rooms.create(owner, "r", "", Visibility::Public).await?.room.id;
    for who in [early, admin, late] {
        rooms.join(who, room).await?;
    }
    rooms.set_role(owner, room, admin, Role::Admin).await?;
    rooms.leave(owner, room).await?;
    let view = rooms.get(early, room).await?;
    assert_eq!(view.room.owner_id, Some(admin), "an admin before any member, however senior the member");
    rooms.leave(admin, room).await?;
    assert_eq!(rooms.get(early, room).await?.room.owner_id, Some(early), "then the longest-standing member");
    rooms.leave(late, room).await?;
    rooms.leave(early, room).await?;
    let empty = rooms.get(late, room).await?.room;
    assert_eq!((empty.owner_id, empty.member_count), (None, 0));
    assert!(empty.last_seq > 0, "an empty room keeps its history");
    let view = rooms.join(late, room).await?;
    assert_eq!((view.caller_role, view.room.owner_id), (Some(Role::Owner), Some(late)));
    Ok(())
});

db_test!(async fn the_owner_removes_anyone_admins_remove_members_nobody_removes_the_owner(t) {
    let (rooms, bus, u) = setup(t, &["owner", "a1", "a2", "m1", "m2"]).await?;
    let (owner, a1, a2, m1, m2) = (u[0], u[1], u[2], u[3], u[4]);
    let room = rooms.create(owner, "r", "", Visibility::Public).await?.room.id;
    for who in [a1, a2, m1, m2] {
        rooms.join(who, room).await?;
    }
    rooms.set_role(owner, room, a1, Role::Admin).await?;
    rooms.set_role(owner, room, a2, Role::Admin).await?;
    assert!(matches!(rooms.remove(m1, room, m2).await, Err(Error::Forbidden(_))));
    assert!(matches!(rooms.remove(a1, room, a2).await, Err(Error::Forbidden(_))));
    assert!(matches!(rooms.remove(a1, room, owner).await, Err(Error::Forbidden(_))));
    assert!(matches!(rooms.remove(a1, room, a1).await, Err(Error::Invalid(_))));
    let mut m1s = bus.subscribe(Topic::User(m1));
    rooms.remove(a1, room, m1).await?;
    assert!(matches!(m1s.recv().await, Ok(Event::Departed { reason: Departure::Removed, .. })));
    assert!(matches!(rooms.remove(a1, room, m1).await, Err(Error::MemberNotFound)));
    rooms.remove(owner, room, a2).await?;
    assert_eq!(rooms.get(owner, room).await?.room.member_count, 3);
    Ok(())
});

db_test!(async fn only_the_owner_changes_roles_and_handing_over_makes_them_an_admin(t) {
    let (rooms, _, u) = setup(t, &["owner", "bob", "carol"]).await?;
    let (owner, bob, carol) = (u[0], u[1], u[2]);
    let room = rooms.create(owner, "r", "", Visibility::Public).await?.room.id;
    rooms.join(bob, room).await?;
    assert!(matches!(rooms.set_role(bob, room, owner, Role::Member).await, Err(Error::Forbidden(_))));
    assert!(matches!(rooms.set_role(carol, room, bob, Role::Admin).await, Err(Error::NotMember)));
    assert!(matches!(rooms.set_role(owner, room, carol, Role::Admin).await, Err(Error::MemberNotFound)));
    assert!(matches!(rooms.set_role(owner, room, owner, Role::Admin).await, Err(Error::Invalid(_))));
    let before = rooms.get(owner, room).await?.room.last_seq;
    rooms.set_role(owner, room, bob, Role::Member).await?;
    assert_eq!(rooms.get(owner, room).await?.room.last_seq, before, "no change, no entry");
    rooms.set_role(owner, room, bob, Role::Owner).await?;
    assert_eq!(rooms.get(bob, room).await?.room.owner_id, Some(bob));
    assert_eq!(rooms.get(owner, room).await?.caller_role, Some(Role::Admin));
    Ok(())
});

db_test!(async fn a_pair_has_one_direct_room_that_takes_no_one_else_and_cannot_be_left(t) {
    let (rooms, _, u) = setup(t, &["alice", "bob", "carol"]).await?;
    let (alice, bob) = (u[0], u[1]);
    let calls = (0..6).map(|i| if i % 2 == 0 { rooms.direct(alice, "bob") } else { rooms.direct(bob, "alice") });
    let views = futures::future::join_all(calls).await;
    let ids: std::collections::HashSet<RoomId> = views.into_iter().map(|v| v.map(|v| v.room.id)).collect::<Result<_, _>>()?;
    assert_eq!(ids.len(), 1, "{ids:?}");
    let room = *ids.iter().next().expect("one room");
    let view = rooms.get(alice, room).await?;
    assert_eq!((view.room.member_count, view.direct_peer.map(|p| p.id)), (2, Some(bob)));
    assert!(matches!(rooms.leave(alice, room).await, Err(Error::Direct(_))));
    assert!(matches!(rooms.invite(alice, room, "carol").await, Err(Error::Direct(_))));
    assert!(matches!(rooms.direct(alice, "alice").await, Err(Error::Invalid(_))));
    Ok(())
});

db_test!(async fn listings_page_with_tokens_that_only_their_listing_accepts(t) {
    let (rooms, _, u) = setup(t, &["alice"]).await?;
    let alice = u[0];
    for i in 0..5 {
        rooms.create(alice, &format!("Room {i}"), "", Visibility::Public).await?;
    }
    let (first, token) = rooms.list(alice, Scope::Public, PageSize::requested(Some(2)), "", "").await?;
    let token = token.expect("more pages");
    assert_eq!(first.len(), 2);
    let (second, _) = rooms.list(alice, Scope::Public, PageSize::requested(Some(2)), &token, "").await?;
    assert_eq!(second[0].room.name, "Room 2");
    assert!(matches!(rooms.list(alice, Scope::Joined, PageSize::default(), &token, "").await, Err(Error::Invalid(_))));
    let (filtered, _) = rooms.list(alice, Scope::Joined, PageSize::default(), "", "ROOM 4").await?;
    assert_eq!(filtered.iter().map(|v| v.room.name.as_str()).collect::<Vec<_>>(), ["Room 4"]);
    Ok(())
});

db_test!(async fn a_deleted_room_is_gone_with_its_members_invitations_and_timeline(t) {
    let (rooms, _, u) = setup(t, &["alice", "bob", "carol"]).await?;
    let (alice, bob, carol) = (u[0], u[1], u[2]);
    let room = rooms.create(alice, "doomed", "", Visibility::Private).await?.room.id;
    let kept = rooms.create(alice, "kept", "", Visibility::Public).await?.room.id;
    rooms.invite(alice, room, "bob").await?;
    rooms.join(bob, room).await?;
    rooms.invite(alice, room, "carol").await?;
    assert!(!kinds(t, room).await?.is_empty());

    rooms.delete(room).await?;
    assert!(matches!(rooms.get(alice, room).await, Err(Error::RoomNotFound)));
    assert!(matches!(rooms.join(carol, room).await, Err(Error::RoomNotFound)), "the invitation went with it");
    assert_eq!(rooms.joined_room_ids(bob).await?, Vec::<RoomId>::new());
    assert_eq!(rooms.joined_room_ids(alice).await?, vec![kept]);
    assert!(kinds(t, room).await?.is_empty(), "no entry of its timeline is left");
    assert!(matches!(rooms.delete(room).await, Err(Error::RoomNotFound)));
    Ok(())
});
