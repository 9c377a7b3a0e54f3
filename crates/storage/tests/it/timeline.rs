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
        sender_display_name: String::new(),
        subject: None,
        body: body.into(),
        client_message_id: Some(id.into()),
        created_at: Millis::now(),
        message: types::MessageState::default(),
        target_seq: None,
        reaction: None,
        wire: types::WireCache::default(),
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
    let (latest, more) = conn.page(r, TimelinePage::Latest, 3, None).await?;
    assert_eq!((seqs(&latest), more), (vec![5, 6, 7], true));
    let (before, more) = conn.page(r, TimelinePage::Before(3), 3, None).await?;
    assert_eq!((seqs(&before), more), (vec![1, 2], false));
    let (after, more) = conn.page(r, TimelinePage::After(4), 2, None).await?;
    assert_eq!((seqs(&after), more), (vec![5, 6], true));
    assert_eq!(seqs(&conn.range(r, 2, 5, 10, None).await?), vec![3, 4, 5]);
    assert_eq!(seqs(&conn.range(r, 2, 5, 2, None).await?), vec![3, 4]);
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
            tx.reserve_seqs(&[(a, 2), (b, 1), (RoomId::new(), 4)], Millis(1)).await?;
            let tails = tx.room_tails(&[a, b], &[alice, mallory]).await?;
            tx.insert_messages(&[text(a, 1, alice, "one", "1"), text(a, 2, alice, "two", "2"), text(b, 1, alice, "elsewhere", "1")]).await?;
            Ok::<_, Error>(tails)
        })
        .await?;
    let tail = |room| tails.iter().find(|t| t.room == room).expect("a tail");
    assert_eq!(tail(a).last_seq, 2);
    assert_eq!(tail(b).last_seq, 1);
    let members: Vec<(UserId, &str)> = tail(a).members.iter().map(|m| (m.user, m.username.as_str())).collect();
    assert_eq!(members, vec![(alice, "alice")], "mallory is not a member");

    // A repeated key fails the whole insert, and the lookup finds the original.
    let repeat = conn
        .transaction(async |tx| {
            tx.reserve_seqs(&[(a, 2)], Millis(1)).await?;
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

db_test!(async fn actions_append_entries_and_change_the_messages_state(t) {
    use storage::timeline::NewAction;
    use types::Reaction;

    let mut conn = t.db().write().await?;
    let (alice, bob) = (user(&mut conn, "alice").await?, user(&mut conn, "bob").await?);
    let r = room(&mut conn, "r", Visibility::Public).await?;
    conn.transaction(async |tx| {
        tx.insert_membership(r, alice, Role::Owner, Millis(1), 1).await?;
        tx.insert_membership(r, bob, Role::Member, Millis(1), 2).await?;
        tx.reserve_seqs(&[(r, 1)], Millis(1)).await?;
        tx.insert_messages(&[text(r, 1, alice, "hi @bob", "1")]).await?;
        tx.set_mentions(r, 1, &[bob]).await
    })
    .await?;
    assert_eq!(conn.members_named(&[r], &["bob".into(), "carol".into()]).await?, vec![(r, bob, "bob".to_owned())]);

    let now = Millis::now();
    let appended = conn
        .transaction(async |tx| {
            let last = tx.lock_room(r).await?.expect("the room");
            assert!(tx.add_reaction(r, 1, "👍", bob, now).await?);
            assert!(!tx.add_reaction(r, 1, "👍", bob, now).await?, "a repeat changes nothing");
            assert!(tx.add_reaction(r, 1, "👍", alice, now).await?);
            assert!(tx.add_reaction(r, 1, ":tada:", bob, Millis(now.0 + 1)).await?);
            let count = tx.reaction_count(r, 1, "👍").await?;
            let reaction = Some(Reaction { emoji: "👍".into(), count, mine: false });
            let react = NewAction { kind: EntryKind::ReactionAdded, sender_id: alice, target_seq: 1, body: String::new(), mentions: vec![], reaction, client_message_id: None };
            let first = tx.append_action(r, last, &react, now).await?;
            tx.set_message_body(r, 1, "hi @alice", now).await?;
            tx.set_mentions(r, 1, &[alice]).await?;
            let edit = NewAction { kind: EntryKind::Edit, sender_id: alice, target_seq: 1, body: "hi @alice".into(), mentions: vec![alice], reaction: None, client_message_id: Some("e1".into()) };
            let second = tx.append_action(r, first.seq, &edit, now).await?;
            Ok::<_, Error>(vec![first, second])
        })
        .await?;
    assert_eq!(appended.iter().map(|e| (e.seq, e.target_seq)).collect::<Vec<_>>(), vec![(2, Some(1)), (3, Some(1))]);
    assert_eq!(appended[0].reaction.as_ref().map(|r| r.count), Some(2));
    assert_eq!(conn.room(r).await?.map(|r| r.last_seq), Some(3));

    // The message as bob sees it: new text, edited, both reactions (his own marked), alice mentioned.
    let m = conn.entry(r, 1, Some(bob)).await?.expect("the message");
    assert_eq!((m.body.as_str(), m.message.edited_at, m.message.deleted_at), ("hi @alice", Some(now), None));
    let seen: Vec<(&str, i64, bool)> = m.message.reactions.iter().map(|x| (x.emoji.as_str(), x.count, x.mine)).collect();
    assert_eq!(seen, vec![("👍", 2, true), (":tada:", 1, true)]);
    assert_eq!(m.message.mentions, vec![alice]);
    // A page reads the same state, and the edit entry with its mentions, in one range.
    let page = conn.range(r, 0, 10, 10, Some(alice)).await?;
    assert_eq!(page.iter().map(|e| e.kind).collect::<Vec<_>>(), vec![EntryKind::Text, EntryKind::ReactionAdded, EntryKind::Edit]);
    assert_eq!(page[0].message.reactions.iter().map(|x| x.mine).collect::<Vec<_>>(), vec![true, false]);
    assert_eq!(page[2].message.mentions, vec![alice]);
    assert_eq!(conn.entry_kinds(r, &[1, 2, 9]).await?.len(), 2);

    assert!(conn.transaction(async |tx| tx.remove_reaction(r, 1, ":tada:", bob).await).await?);
    assert!(!conn.transaction(async |tx| tx.remove_reaction(r, 1, ":tada:", bob).await).await?);

    // A tombstone: no text (nor its edit's), no reactions, no mentions.
    conn.transaction(async |tx| tx.tombstone(r, 1, now).await).await?;
    let page = conn.range(r, 0, 10, 10, Some(bob)).await?;
    assert_eq!((page[0].body.as_str(), page[0].message.deleted_at), ("", Some(now)));
    assert!(page[0].message.reactions.is_empty() && page[0].message.mentions.is_empty());
    assert_eq!((page[2].body.as_str(), page[2].message.mentions.len()), ("", 0));
    assert_eq!(conn.transaction(async |tx| tx.reaction_count(r, 1, "👍").await).await?, 0);
    Ok(())
});
