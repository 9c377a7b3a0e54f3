//! The group-commit append: what becomes of each draft in a mixed batch, and the numbering around it.

use storage::Error;
use storage::rooms::{self, NewRoom};
use storage::timeline::{self, Appended, Dedup, Draft, Page};
use storage::users::{self, NewUser};
use testkit::db_test;
use types::{Millis, RoomId, UserId, Visibility};

async fn user(conn: &mut storage::Conn, name: &str) -> Result<UserId, Error> {
    let id = UserId::new();
    let email = format!("{name}@example.com");
    let new = NewUser {
        id,
        username: name,
        username_key: name,
        email: &email,
        email_key: &email,
        display_name: name,
        password_hash: "$argon2id$fake",
        created_at: Millis(1_700_000_000_000),
    };
    users::insert(conn, &new).await?;
    Ok(id)
}

async fn room(conn: &mut storage::Conn, owner: UserId, name: &str) -> Result<RoomId, Error> {
    let new = NewRoom { name, name_key: name, topic: "", visibility: Visibility::Public };
    Ok(rooms::create(conn, &new, owner, Millis::now()).await?.room.id)
}

fn draft(sender: UserId, body: &str, id: &str) -> Draft {
    Draft { sender_id: sender, body: body.into(), client_message_id: id.into() }
}

fn stored(outcome: &Appended) -> (i64, &str) {
    match outcome {
        Appended::Stored(e) => (e.seq, e.body.as_str()),
        other => panic!("expected a stored entry, got {other:?}"),
    }
}

db_test!(async fn a_mixed_batch_stores_members_sends_with_contiguous_seqs(t) {
    let mut conn = t.db().write().await?;
    let (alice, mallory) = (user(&mut conn, "alice").await?, user(&mut conn, "mallory").await?);
    let (first, second) = (room(&mut conn, alice, "first").await?, room(&mut conn, alice, "second").await?);
    let start = timeline::page(&mut conn, first, Page::Latest, 10).await?.0.last().map_or(0, |e| e.seq);
    let mut batch = vec![
        (first, vec![
            draft(mallory, "not a member", "m-1"),
            draft(alice, "one", "a-1"),
            draft(alice, "one again", "a-1"),
            draft(mallory, "still not", "m-2"),
            draft(alice, "two", "a-2"),
        ]),
        (second, vec![draft(alice, "elsewhere", "a-1")]),
        (RoomId::new(), vec![draft(alice, "nowhere", "a-9")]),
    ];
    batch.sort_by_key(|(room, _)| *room);
    let outcomes = timeline::append_messages(&mut conn, &batch, Dedup::Optimistic, Millis::now()).await?;
    let of = |room: RoomId| &outcomes[batch.iter().position(|(r, _)| *r == room).expect("in the batch")];

    let in_first = of(first);
    assert_eq!(in_first[0], Appended::NotMember);
    assert_eq!(stored(&in_first[1]), (start + 1, "one"));
    assert!(matches!(&in_first[2], Appended::Duplicate(e) if e.seq == start + 1 && e.body == "one"));
    assert_eq!(in_first[3], Appended::NotMember);
    assert_eq!(stored(&in_first[4]), (start + 2, "two"));
    assert_eq!(stored(&of(second)[0]).1, "elsewhere");
    let missing = batch.iter().position(|(r, _)| *r != first && *r != second).expect("the missing room");
    assert_eq!(outcomes[missing], vec![Appended::NotMember]);

    // The numbers reserved for the refused drafts were given back: the next append follows on.
    let next = timeline::append_messages(&mut conn, &[(first, vec![draft(alice, "three", "a-3")])], Dedup::Optimistic, Millis::now()).await?;
    assert_eq!(stored(&next[0][0]), (start + 3, "three"));
    let (page, _) = timeline::page(&mut conn, first, Page::After(start), 10).await?;
    let seqs: Vec<i64> = page.iter().map(|e| e.seq).collect();
    assert_eq!(seqs, vec![start + 1, start + 2, start + 3]);
    Ok(())
});

db_test!(async fn an_optimistic_batch_that_repeats_a_stored_send_fails_whole_and_the_lookup_answers_it(t) {
    let mut conn = t.db().write().await?;
    let alice = user(&mut conn, "alice").await?;
    let first = room(&mut conn, alice, "first").await?;
    let original = timeline::append_messages(&mut conn, &[(first, vec![draft(alice, "hello", "a-1")])], Dedup::Optimistic, Millis::now()).await?;
    let original = match &original[0][0] {
        Appended::Stored(e) => e.clone(),
        other => panic!("{other:?}"),
    };
    let batch = [(first, vec![draft(alice, "new", "a-2"), draft(alice, "hello, retried", "a-1")])];
    let failed = timeline::append_messages(&mut conn, &batch, Dedup::Optimistic, Millis::now()).await;
    assert!(matches!(&failed, Err(e) if e.is_conflict()), "{failed:?}");
    let outcomes = timeline::append_messages(&mut conn, &batch, Dedup::LookUp, Millis::now()).await?;
    assert_eq!(stored(&outcomes[0][0]), (original.seq + 1, "new"));
    assert_eq!(outcomes[0][1], Appended::Duplicate(original));
    Ok(())
});
