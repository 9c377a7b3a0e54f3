//! Rooms, memberships and invitations as rows: each write reads back, listings page and filter, and the
//! unique keys hold.

use storage::Error;
use storage::rooms::{Listing, NewRoom};
use testdb::db_test;
use types::{Millis, Role, RoomId, RoomKind, UserId, Visibility};

use crate::support::{room, user};

db_test!(async fn memberships_roles_and_invitations_read_back(t) {
    let mut conn = t.db().write().await?;
    let (alice, bob) = (user(&mut conn, "alice").await?, user(&mut conn, "bob").await?);
    let r = room(&mut conn, "plans", Visibility::Private).await?;
    let found = conn.room(r).await?.expect("the room");
    assert_eq!((found.name.as_str(), found.visibility, found.kind, found.owner_id), ("plans", Visibility::Private, RoomKind::Group, None));
    assert_eq!((found.member_count, found.last_seq), (0, 0));

    conn.transaction(async |tx| {
        tx.insert_membership(r, alice, Role::Owner, Millis(1), 1).await?;
        tx.set_owner(r, Some(alice)).await?;
        tx.insert_invite(r, bob, alice, Millis(2)).await
    })
    .await?;
    assert_eq!(conn.role(r, alice).await?, Some(Role::Owner));
    assert_eq!(conn.role(r, bob).await?, None);
    assert!(conn.is_invited(r, bob).await?);
    assert_eq!(conn.room(r).await?.and_then(|r| r.owner_id), Some(alice));

    let deleted = conn.transaction(async |tx| {
        let first = tx.delete_invite(r, bob).await?;
        let second = tx.delete_invite(r, bob).await?;
        tx.insert_membership(r, bob, Role::Member, Millis(3), 2).await?;
        tx.set_role(r, bob, Role::Admin).await?;
        Ok::<_, Error>((first, second))
    })
    .await?;
    assert_eq!(deleted, (true, false), "an invitation is deleted once");
    assert_eq!(conn.role(r, bob).await?, Some(Role::Admin));
    assert_eq!(conn.roles(bob, &[r, RoomId::new()]).await?.get(&r), Some(&Role::Admin));
    let mut ids = conn.member_ids(r).await?;
    ids.sort();
    let mut expected = vec![alice, bob];
    expected.sort();
    assert_eq!(ids, expected);
    assert_eq!(conn.room_ids_of(bob).await?, vec![r]);
    assert_eq!(conn.other_members(alice, &[r]).await?.into_iter().map(|(_, u)| u.id).collect::<Vec<_>>(), vec![bob]);

    conn.transaction(async |tx| tx.delete_membership(r, bob).await).await?;
    assert_eq!(conn.role(r, bob).await?, None);
    Ok(())
});

db_test!(async fn the_longest_standing_member_of_a_role_is_the_earliest_join(t) {
    let mut conn = t.db().write().await?;
    let r = room(&mut conn, "r", Visibility::Public).await?;
    let mut users = Vec::new();
    for name in ["a", "b", "c", "d"] {
        users.push(user(&mut conn, name).await?);
    }
    let roles = [(users[0], Role::Member, 7), (users[1], Role::Admin, 9), (users[2], Role::Member, 3), (users[3], Role::Admin, 5)];
    conn.transaction(async |tx| {
        for (u, role, seq) in roles {
            tx.insert_membership(r, u, role, Millis(seq), seq).await?;
        }
        Ok::<_, Error>(())
    })
    .await?;
    assert_eq!(conn.longest_standing(r, Role::Admin).await?, Some(users[3]));
    assert_eq!(conn.longest_standing(r, Role::Member).await?, Some(users[2]));
    assert_eq!(conn.longest_standing(r, Role::Owner).await?, None);
    // Members page in the order they joined, keyed by the seq of their join.
    let (first, more) = conn.members(r, 0, 3).await?;
    assert!(more);
    assert_eq!(first.iter().map(|(m, seq)| (m.user.id, *seq)).collect::<Vec<_>>(), vec![(users[2], 3), (users[3], 5), (users[0], 7)]);
    let (rest, more) = conn.members(r, 7, 3).await?;
    assert!(!more);
    assert_eq!(rest.iter().map(|(m, _)| m.user.id).collect::<Vec<_>>(), vec![users[1]]);
    Ok(())
});

db_test!(async fn listings_page_by_creation_and_filter_by_name_key(t) {
    let mut conn = t.db().write().await?;
    let alice = user(&mut conn, "alice").await?;
    let mut public = Vec::new();
    for name in ["general", "random", "gen_z", "100%"] {
        public.push(room(&mut conn, name, Visibility::Public).await?);
    }
    let hidden = room(&mut conn, "general-private", Visibility::Private).await?;
    conn.transaction(async |tx| {
        tx.insert_membership(hidden, alice, Role::Owner, Millis(1), 1).await?;
        tx.insert_invite(public[1], alice, alice, Millis(1)).await
    })
    .await?;

    let (page, more) = conn.list_rooms(Listing::Public, None, None, 3).await?;
    assert!(more);
    assert_eq!(page.iter().map(|r| r.id).collect::<Vec<_>>(), public[..3]);
    let (page, more) = conn.list_rooms(Listing::Public, Some(public[2]), None, 3).await?;
    assert!(!more);
    assert_eq!(page.iter().map(|r| r.id).collect::<Vec<_>>(), public[3..]);
    let (page, _) = conn.list_rooms(Listing::Public, None, Some("%gen%"), 10).await?;
    assert_eq!(page.iter().map(|r| r.name.as_str()).collect::<Vec<_>>(), ["general", "gen_z"]);
    // `_` and `%` are wildcards unless escaped.
    let (page, _) = conn.list_rooms(Listing::Public, None, Some("%\\_%"), 10).await?;
    assert_eq!(page.iter().map(|r| r.name.as_str()).collect::<Vec<_>>(), ["gen_z"]);
    let (page, _) = conn.list_rooms(Listing::Public, None, Some("%\\%%"), 10).await?;
    assert_eq!(page.iter().map(|r| r.name.as_str()).collect::<Vec<_>>(), ["100%"]);

    let (mine, _) = conn.list_rooms(Listing::Joined(alice), None, None, 10).await?;
    assert_eq!(mine.iter().map(|r| r.id).collect::<Vec<_>>(), vec![hidden]);
    let (invited, _) = conn.list_rooms(Listing::Invited(alice), None, None, 10).await?;
    assert_eq!(invited.iter().map(|r| r.id).collect::<Vec<_>>(), vec![public[1]]);
    Ok(())
});

db_test!(async fn a_pair_has_one_direct_room(t) {
    let mut conn = t.db().write().await?;
    let direct = |id, key| NewRoom {
        id,
        name: "",
        name_key: "",
        topic: "",
        visibility: Visibility::Private,
        kind: RoomKind::Direct,
        owner: None,
        direct_key: Some(key),
        created_at: Millis::now(),
    };
    let first = RoomId::new();
    conn.transaction(async |tx| tx.insert_room(&direct(first, "a:b")).await).await?;
    let second = conn.transaction(async |tx| tx.insert_room(&direct(RoomId::new(), "a:b")).await).await;
    assert!(matches!(second, Err(Error::AlreadyExists("direct room"))), "{second:?}");
    assert_eq!(conn.direct_room("a:b").await?.map(|r| r.id), Some(first));
    assert_eq!(conn.direct_room("a:c").await?, None);
    let _ = UserId::new();
    Ok(())
});
