//! Timelines as rows: appends under the room's lock number entries without gaps, pages and ranges read
//! them back, and the send path's statements reserve, read and insert as they say.

use storage::Error;
use storage::timeline::{NewEntry, SendKey};
use testdb::db_test;
use types::{Entry, EntryId, EntryKind, Millis, Role, RoomId, TimelinePage, UserId, Visibility};

use crate::support::{room, user};

fn text(room: RoomId, seq: i64, sender: UserId, body: &str, id: &str) -> Entry {
    Entry {
        id: EntryId::new(),
        room_id: room,
        seq,
        kind: EntryKind::Text,
        sender_id: sender,
        sender_username: String::new(),
        subject: None,
        body: body.into(),
        client_message_id: Some(id.into()),
        created_at: Millis::now(),
    }
}

db_test!(async fn appends_number_entries_after_the_locked_tail_and_move_the_counts(t) {
    let mut conn = t.db().write().await?;
    let alice = user(&mut conn, "alice").await?;
    let r = room(&mut conn, "r", Visibility::Public).await?;
    let stored = conn
        .transaction(async |tx| {
            let last = tx.lock_room(r).await?.expect("the room");
            let joined = NewEntry::membership(EntryKind::MemberJoined, alice, alice, Some(Role::Owner));
            tx.append(r, last, &[joined.clone(), joined], 1, Millis::now()).await
        })
        .await?;
    assert_eq!(stored.iter().map(|e| e.seq).collect::<Vec<_>>(), vec![1, 2]);
    assert_eq!(stored[0].sender_username, "alice");
    assert_eq!(stored[0].subject.as_ref().map(|s| (s.username.as_str(), s.role)), Some(("alice", Some(Role::Owner))));
    let after = conn.room(r).await?.expect("the room");
    assert_eq!((after.last_seq, after.member_count), (2, 1));

    let one = conn.append_one(r, &NewEntry { kind: EntryKind::Text, sender_id: alice, subject: None, body: "hi".into(), client_message_id: Some("x".into()) }).await?;
    assert_eq!(one.seq, 3);
    assert!(matches!(conn.append_one(RoomId::new(), &NewEntry::membership(EntryKind::MemberLeft, alice, alice, None)).await, Err(Error::NotFound("room"))));
    assert_eq!(conn.transaction(async |tx| tx.lock_room(RoomId::new()).await).await?, None);
    Ok(())
});

db_test!(async fn a_rolled_back_append_leaves_no_hole(t) {
    let mut conn = t.db().write().await?;
    let alice = user(&mut conn, "alice").await?;
    let r = room(&mut conn, "r", Visibility::Public).await?;
    let failed: Result<(), Error> = conn
        .transaction(async |tx| {
            let last = tx.lock_room(r).await?.expect("the room");
            tx.append(r, last, &[NewEntry::membership(EntryKind::MemberJoined, alice, alice, None)], 1, Millis::now()).await?;
            Err(Error::Corrupt("changed my mind".into()))
        })
        .await;
    assert!(failed.is_err());
    let after = conn.room(r).await?.expect("the room");
    assert_eq!((after.last_seq, after.member_count), (0, 0));
    let next = conn.append_one(r, &NewEntry::membership(EntryKind::MemberJoined, alice, alice, None)).await?;
    assert_eq!(next.seq, 1);
    Ok(())
});

db_test!(async fn pages_and_ranges_read_ascending_with_has_more(t) {
    let mut conn = t.db().write().await?;
    let alice = user(&mut conn, "alice").await?;
    let r = room(&mut conn, "r", Visibility::Public).await?;
    for i in 1..=7 {
        conn.append_one(r, &NewEntry { kind: EntryKind::Text, sender_id: alice, subject: None, body: format!("m{i}"), client_message_id: Some(format!("c{i}")) }).await?;
    }
    let seqs = |page: &[Entry]| page.iter().map(|e| e.seq).collect::<Vec<_>>();
    let (latest, more) = conn.page(r, TimelinePage::Latest, 3).await?;
    assert_eq!((seqs(&latest), more), (vec![5, 6, 7], true));
    let (before, more) = conn.page(r, TimelinePage::Before(3), 3).await?;
    assert_eq!((seqs(&before), more), (vec![1, 2], false));
    let (after, more) = conn.page(r, TimelinePage::After(4), 2).await?;
    assert_eq!((seqs(&after), more), (vec![5, 6], true));
    assert_eq!(seqs(&conn.range(r, 2, 5, 10).await?), vec![3, 4, 5]);
    assert_eq!(seqs(&conn.range(r, 2, 5, 2).await?), vec![3, 4]);
    assert_eq!(conn.last_seqs(&[r, RoomId::new()]).await?, vec![(r, 7)]);
    assert_eq!(latest[2].body, "m7");
    assert_eq!(latest[2].sender_username, "alice");
    Ok(())
});

db_test!(async fn the_send_statements_reserve_read_and_insert(t) {
    let mut conn = t.db().write().await?;
    let (alice, mallory) = (user(&mut conn, "alice").await?, user(&mut conn, "mallory").await?);
    let (a, b) = (room(&mut conn, "a", Visibility::Public).await?, room(&mut conn, "b", Visibility::Public).await?);
    conn.transaction(async |tx| {
        tx.insert_membership(a, alice, Role::Owner, Millis(1), 1).await?;
        tx.insert_membership(b, alice, Role::Owner, Millis(1), 1).await
    })
    .await?;
    let tails = conn
        .transaction(async |tx| {
            tx.reserve_seqs(&[(a, 2), (b, 1), (RoomId::new(), 4)]).await?;
            let tails = tx.room_tails(&[a, b], &[alice, mallory]).await?;
            tx.insert_messages(&[text(a, 1, alice, "one", "1"), text(a, 2, alice, "two", "2"), text(b, 1, alice, "elsewhere", "1")]).await?;
            Ok::<_, Error>(tails)
        })
        .await?;
    let tail = |room| tails.iter().find(|t| t.room == room).expect("a tail");
    assert_eq!(tail(a).last_seq, 2);
    assert_eq!(tail(b).last_seq, 1);
    assert_eq!(tail(a).members, vec![(alice, "alice".to_owned())], "mallory is not a member");

    // A repeated key fails the whole insert, and the lookup finds the original.
    let repeat = conn
        .transaction(async |tx| {
            tx.reserve_seqs(&[(a, 2)]).await?;
            tx.insert_messages(&[text(a, 3, alice, "three", "3"), text(a, 4, alice, "one again", "1")]).await
        })
        .await;
    assert!(matches!(&repeat, Err(e) if e.is_conflict()), "{repeat:?}");
    assert_eq!(conn.room(a).await?.map(|r| r.last_seq), Some(2), "the failed batch rolled back");
    let keys = [
        SendKey { room: a, sender: alice, client_message_id: "1" },
        SendKey { room: b, sender: alice, client_message_id: "2" },
    ];
    let found = conn.sent_messages(&keys).await?;
    assert_eq!(found.iter().map(|e| (e.room_id, e.body.as_str())).collect::<Vec<_>>(), vec![(a, "one")], "only the keys asked for");

    conn.transaction(async |tx| tx.set_last_seq(b, 0).await).await?;
    assert_eq!(conn.room(b).await?.map(|r| r.last_seq), Some(0));
    Ok(())
});
