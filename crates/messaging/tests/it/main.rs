//! The messaging service's rules on real databases (SQLite and MySQL), without gRPC: sends are durable,
//! unique per client id and only from members; history pages; a subscription replays then goes live with
//! every entry once, in order, and stops a room where the subscriber's membership ends.

// A failed expectation in a test is a failed test: panicking is the point.
#![allow(clippy::expect_used, clippy::unwrap_used, clippy::panic)]

use std::sync::Arc;
use std::time::Duration;

use auth::{Auth, AuthConfig, Identity, Registration};
use bus::Bus;
use futures::StreamExt as _;
use messaging::{Error, Messaging, MessagingConfig, StreamEvent, Subscription};
use rooms::Rooms;
use testdb::db_test;
use tokio_util::sync::CancellationToken;
use types::{Departure, EntryKind, PageSize, RoomId, TimelinePage, Visibility};

struct Node {
    auth: Arc<Auth>,
    rooms: Rooms,
    messaging: Messaging,
    _stopping: tokio_util::sync::DropGuard,
}

fn node(t: &testdb::TestDb) -> anyhow::Result<Node> {
    let bus = Bus::default();
    let auth = Arc::new(Auth::new(t.db().clone(), bus.clone(), AuthConfig::new(vec![7; 32]))?);
    let rooms = Rooms::new(t.db().clone(), bus.clone());
    let stopping = CancellationToken::new();
    let messaging = Messaging::new(
        t.db().clone(),
        bus,
        rooms.clone(),
        auth.clone(),
        MessagingConfig { reconcile_interval: Duration::from_millis(200), ..MessagingConfig::default() },
        metrics::Messaging::default(),
        &tasks::Supervisor::new(stopping.clone()),
    );
    Ok(Node { auth, rooms, messaging, _stopping: stopping.drop_guard() })
}

async fn register(node: &Node, name: &str) -> anyhow::Result<Identity> {
    let email = format!("{name}@example.com");
    let registration = Registration { username: name, email: &email, password: "password-1", display_name: "" };
    let (_, tokens) = node.auth.register(registration).await?;
    Ok(node.auth.authenticate(Some(&format!("Bearer {}", tokens.access_token))).await?)
}

/// The next timeline entry on a subscription (skipping other events), failing after ten seconds.
async fn next_entry(sub: &mut Subscription) -> anyhow::Result<Arc<types::Entry>> {
    loop {
        match tokio::time::timeout(Duration::from_secs(10), sub.next()).await? {
            Some(Ok(StreamEvent::Entry(e))) => return Ok(e),
            Some(Ok(_)) => continue,
            Some(Err(e)) => anyhow::bail!("stream failed: {e}"),
            None => anyhow::bail!("stream ended"),
        }
    }
}

db_test!(async fn a_retried_send_returns_the_original_and_only_members_send(t) {
    let n = node(t)?;
    let (alice, bob) = (register(&n, "alice").await?, register(&n, "bob").await?);
    let room = n.rooms.create(alice.user_id, "r", "", Visibility::Public).await?.room.id;
    let first = n.messaging.send(alice.user_id, room, "hello", "c-1", None).await?;
    let again = n.messaging.send(alice.user_id, room, "hello, edited on retry", "c-1", None).await?;
    assert_eq!((again.seq, again.id, again.body.as_str()), (first.seq, first.id, "hello"));
    assert!(matches!(n.messaging.send(bob.user_id, room, "hi", "b-1", None).await, Err(Error::Rooms(rooms::Error::NotMember))));
    let hidden = n.rooms.create(alice.user_id, "secret", "", Visibility::Private).await?.room.id;
    assert!(matches!(n.messaging.send(bob.user_id, hidden, "hi", "b-1", None).await, Err(Error::Rooms(rooms::Error::RoomNotFound))));
    assert!(matches!(n.messaging.send(alice.user_id, RoomId::new(), "hi", "a-1", None).await, Err(Error::Rooms(rooms::Error::RoomNotFound))));
    for (body, id) in [("", "x"), ("  \n ", "x"), (&*"x".repeat(4001), "x"), ("ok", ""), ("ok", &*"i".repeat(65))] {
        assert!(matches!(n.messaging.send(alice.user_id, room, body, id, None).await, Err(Error::Invalid(_))), "{body:?} {id:?}");
    }
    Ok(())
});

db_test!(async fn concurrent_sends_get_contiguous_seqs_each_once(t) {
    let n = node(t)?;
    let alice = register(&n, "alice").await?;
    let room = n.rooms.create(alice.user_id, "r", "", Visibility::Public).await?.room.id;
    let sends = (0..40).map(|i| {
        let id = format!("c-{}", i % 30); // ten of them retry an earlier id
        let m = n.messaging.clone();
        async move { m.send(alice.user_id, room, &format!("m{i}"), &id, None).await }
    });
    let stored = futures::future::try_join_all(sends).await?;
    let mut seqs: Vec<i64> = stored.iter().map(|e| e.seq).collect();
    seqs.sort_unstable();
    seqs.dedup();
    assert_eq!(seqs, (2..32).collect::<Vec<_>>(), "30 distinct sends after the owner's join, no gaps");
    Ok(())
});

db_test!(async fn history_pages_both_ways_and_needs_membership(t) {
    let n = node(t)?;
    let (alice, bob) = (register(&n, "alice").await?, register(&n, "bob").await?);
    let room = n.rooms.create(alice.user_id, "r", "", Visibility::Public).await?.room.id;
    for i in 0..5 {
        n.messaging.send(alice.user_id, room, &format!("m{i}"), &format!("c{i}"), None).await?;
    }
    let size = PageSize::requested(Some(2));
    let (latest, more) = n.messaging.history(alice.user_id, room, TimelinePage::Latest, size).await?;
    assert_eq!((latest.iter().map(|e| e.seq).collect::<Vec<_>>(), more), (vec![5, 6], true));
    let (older, _) = n.messaging.history(alice.user_id, room, TimelinePage::Before(5), size).await?;
    assert_eq!(older.iter().map(|e| e.seq).collect::<Vec<_>>(), vec![3, 4]);
    assert!(matches!(
        n.messaging.history(bob.user_id, room, TimelinePage::Latest, size).await,
        Err(Error::Rooms(rooms::Error::NotMember))
    ));
    Ok(())
});

db_test!(async fn a_subscription_replays_then_goes_live_with_every_entry_once(t) {
    let n = node(t)?;
    let alice = register(&n, "alice").await?;
    let room = n.rooms.create(alice.user_id, "r", "", Visibility::Public).await?.room.id;
    for i in 0..3 {
        n.messaging.send(alice.user_id, room, &format!("old {i}"), &format!("o{i}"), None).await?;
    }
    let mut sub = n.messaging.subscribe(alice, vec![(room, 0)], false).await?;
    assert!(matches!(sub.next().await, Some(Ok(StreamEvent::Ready(rooms))) if rooms == vec![(room, 0)]));
    // Sends racing the replay: whatever the interleaving, each seq arrives once and in order.
    let sender = {
        let m = n.messaging.clone();
        tokio::spawn(async move {
            for i in 0..20 {
                m.send(alice.user_id, room, &format!("new {i}"), &format!("n{i}"), None).await?;
            }
            Ok::<_, Error>(())
        })
    };
    let mut seqs = Vec::new();
    while seqs.len() < 24 {
        seqs.push(next_entry(&mut sub).await?.seq);
    }
    sender.await??;
    assert_eq!(seqs, (1..=24).collect::<Vec<_>>());
    Ok(())
});

db_test!(async fn an_entry_written_behind_the_bus_arrives_through_the_tail_check(t) {
    let n = node(t)?;
    let alice = register(&n, "alice").await?;
    let room = n.rooms.create(alice.user_id, "r", "", Visibility::Public).await?.room;
    let mut sub = n.messaging.subscribe(alice, vec![(room.id, room.last_seq)], false).await?;
    let entry = storage::timeline::NewEntry {
        kind: EntryKind::Text,
        sender_id: alice.user_id,
        subject: None,
        body: "from another node".into(),
        client_message_id: Some("elsewhere".into()),
    };
    let stored = t.db().write().await?.append_one(room.id, &entry).await?;
    let got = next_entry(&mut sub).await?;
    assert_eq!((got.seq, got.body.as_str()), (stored.seq, "from another node"));
    Ok(())
});

db_test!(async fn a_removed_member_stops_receiving_after_the_entry_that_says_so(t) {
    let n = node(t)?;
    let (alice, bob) = (register(&n, "alice").await?, register(&n, "bob").await?);
    let room = n.rooms.create(alice.user_id, "r", "", Visibility::Public).await?.room.id;
    n.rooms.join(bob.user_id, room).await?;
    let mut sub = n.messaging.subscribe(bob, Vec::new(), false).await?;
    assert!(matches!(sub.next().await, Some(Ok(StreamEvent::Ready(_)))));
    n.rooms.remove(alice.user_id, room, bob.user_id).await?;
    let removal = next_entry(&mut sub).await?;
    assert_eq!(removal.kind, EntryKind::MemberRemoved);
    loop {
        match tokio::time::timeout(Duration::from_secs(10), sub.next()).await? {
            Some(Ok(StreamEvent::RoomRemoved { room_id, reason, last_seq })) => {
                assert_eq!((room_id, reason, last_seq), (room, Departure::Removed, removal.seq));
                break;
            }
            Some(Ok(StreamEvent::Entry(e))) => panic!("delivered after the removal: {e:?}"),
            Some(Ok(_)) => {}
            other => panic!("{other:?}"),
        }
    }
    n.messaging.send(alice.user_id, room, "after bob left", "a-1", None).await?;
    let quiet = tokio::time::timeout(Duration::from_millis(500), async {
        loop {
            if let Some(Ok(StreamEvent::Entry(e))) = sub.next().await {
                return e;
            }
        }
    })
    .await;
    assert!(quiet.is_err(), "nothing more of that room");
    Ok(())
});

db_test!(async fn a_logged_out_session_ends_its_streams(t) {
    let n = node(t)?;
    let alice = register(&n, "alice").await?;
    let room = n.rooms.create(alice.user_id, "r", "", Visibility::Public).await?.room;
    let mut sub = n.messaging.subscribe(alice, vec![(room.id, room.last_seq)], false).await?;
    n.auth.logout(&alice, auth::LogoutScope::ThisSession).await?;
    loop {
        match tokio::time::timeout(Duration::from_secs(10), sub.next()).await? {
            Some(Err(Error::SessionEnded)) => break,
            Some(Ok(_)) => {}
            other => panic!("{other:?}"),
        }
    }
    Ok(())
});

db_test!(async fn an_edit_racing_a_deletion_never_revives_the_message(t) {
    let n = node(t)?;
    let (alice, bob) = (register(&n, "alice").await?, register(&n, "bob").await?);
    let room = n.rooms.create(alice.user_id, "r", "", Visibility::Public).await?.room.id;
    n.rooms.join(bob.user_id, room).await?;
    for round in 0..10 {
        let m = n.messaging.send(bob.user_id, room, "draft", &format!("m{round}"), None).await?;
        let edit = n.messaging.edit(bob.user_id, room, m.seq, "final", None);
        let delete = n.messaging.delete(alice.user_id, room, m.seq);
        let (edited, deleted) = tokio::join!(edit, delete);
        deleted?;
        // Either the edit came first (and was then deleted) or it found a tombstone.
        match edited {
            Ok(e) => assert_eq!(e.seq, m.seq),
            Err(Error::MessageDeleted) => {}
            Err(e) => panic!("unexpected: {e}"),
        }
        let now = n.messaging.get(bob.user_id, room, m.seq).await?;
        assert!(now.message.deleted_at.is_some() && now.body.is_empty(), "round {round}: {now:?}");
    }
    // Whatever the order, the timeline has no gap.
    let (page, _) = n.messaging.history(alice.user_id, room, TimelinePage::After(0), PageSize::exactly(PageSize::MAX)).await?;
    assert!(page.iter().zip(1..).all(|(e, seq)| e.seq == seq));
    Ok(())
});

db_test!(async fn action_rules_name_what_is_wrong(t) {
    let n = node(t)?;
    let (alice, bob) = (register(&n, "alice").await?, register(&n, "bob").await?);
    let room = n.rooms.create(alice.user_id, "r", "", Visibility::Public).await?.room.id;
    n.rooms.join(bob.user_id, room).await?;
    let m = n.messaging.send(alice.user_id, room, "hi", "m1", None).await?;
    assert!(matches!(n.messaging.edit(bob.user_id, room, m.seq, "x", None).await, Err(Error::NotYourMessage(_))));
    assert!(matches!(n.messaging.delete(bob.user_id, room, m.seq).await, Err(Error::NotYourMessage(_))));
    assert!(matches!(n.messaging.get(bob.user_id, room, 99).await, Err(Error::MessageNotFound(99))));
    assert!(matches!(n.messaging.react(bob.user_id, room, 1, "👍", true).await, Err(Error::NotAMessage(1))));
    assert!(matches!(n.messaging.react(bob.user_id, room, m.seq, "nope", true).await, Err(Error::Invalid(_))));
    assert!(matches!(n.messaging.edit(alice.user_id, room, 0, "x", None).await, Err(Error::Invalid(_))));
    assert!(matches!(n.messaging.send(bob.user_id, room, "re", "b1", Some(1)).await, Err(Error::Invalid(_))));
    n.rooms.leave(bob.user_id, room).await?;
    assert!(matches!(n.messaging.react(bob.user_id, room, m.seq, "👍", true).await, Err(Error::Rooms(rooms::Error::NotMember))));
    Ok(())
});

db_test!(async fn typing_in_a_crowded_room_costs_a_bounded_number_of_events(t) {
    const TYPERS: usize = 40;
    let n = node(t)?;
    let owner = register(&n, "owner").await?;
    let room = n.rooms.create(owner.user_id, "crowd", "", Visibility::Public).await?.room.id;
    let mut typers = Vec::new();
    for i in 0..TYPERS {
        let who = register(&n, &format!("typer{i:02}")).await?;
        n.rooms.join(who.user_id, room).await?;
        typers.push(who.user_id);
    }
    let mut sub = n.messaging.subscribe(owner, vec![(room, 0)], false).await?;
    let started = tokio::time::Instant::now();
    for who in &typers {
        n.messaging.set_typing(*who, room, true).await?;
    }
    let windows = started.elapsed().as_secs() + 1;
    let mut events = 0u64;
    while let Ok(Some(event)) = tokio::time::timeout(Duration::from_millis(500), sub.next()).await {
        if matches!(event?, StreamEvent::Typing(_)) {
            events += 1;
        }
    }
    // Five new typers a second per room: the rest are not announced.
    assert!(events >= 1 && events <= 5 * windows, "{events} events over {windows} windows");
    Ok(())
});

/// `who`'s read state in `room`, as GetRoom shows it.
async fn read_state(n: &Node, who: &Identity, room: RoomId) -> anyhow::Result<types::ReadState> {
    Ok(n.rooms.get(who.user_id, room).await?.read.expect("a member has a read state"))
}

db_test!(async fn a_marker_moves_only_forward_and_counts_follow_deletes_and_mention_edits(t) {
    let n = node(t)?;
    let (alice, bob) = (register(&n, "alice").await?, register(&n, "bob").await?);
    let room = n.rooms.create(alice.user_id, "r", "", Visibility::Public).await?.room.id;
    n.rooms.join(bob.user_id, room).await?;
    let mut sent = Vec::new();
    for i in 0..4 {
        sent.push(n.messaging.send(bob.user_id, room, &format!("m{i}"), &format!("b-{i}"), None).await?.seq);
    }
    let state = read_state(&n, &alice, room).await?;
    assert_eq!((state.unread_count, state.mention_count), (4, 0));
    assert_eq!(read_state(&n, &bob, room).await?.unread_count, 0);

    // An unread message edited to name alice counts as a mention; a deleted one stops counting.
    n.messaging.edit(bob.user_id, room, sent[3], "now @alice", None).await?;
    n.messaging.delete(bob.user_id, room, sent[2]).await?;
    let state = read_state(&n, &alice, room).await?;
    assert_eq!((state.unread_count, state.mention_count), (3, 1));

    // Forward only; the marker does not count action entries as messages.
    assert_eq!(n.messaging.mark_read(alice.user_id, room, sent[1]).await?, sent[1]);
    assert_eq!(n.messaging.mark_read(alice.user_id, room, sent[0]).await?, sent[1]);
    let state = read_state(&n, &alice, room).await?;
    assert_eq!((state.last_read_seq, state.unread_count, state.mention_count), (sent[1], 1, 1));
    // Deleting a message already read changes nothing that is unread.
    n.messaging.delete(bob.user_id, room, sent[0]).await?;
    assert_eq!(read_state(&n, &alice, room).await?.unread_count, 1);
    let last = n.rooms.get(alice.user_id, room).await?.room.last_seq;
    assert!(matches!(n.messaging.mark_read(alice.user_id, room, last + 1).await, Err(Error::Invalid(_))));
    n.messaging.mark_read(alice.user_id, room, last).await?;
    let state = read_state(&n, &alice, room).await?;
    assert_eq!((state.unread_count, state.mention_count), (0, 0));
    Ok(())
});

db_test!(async fn a_search_needs_membership_and_sees_current_bodies(t) {
    let n = node(t)?;
    let (alice, bob) = (register(&n, "alice").await?, register(&n, "bob").await?);
    let room = n.rooms.create(alice.user_id, "r", "", Visibility::Public).await?.room.id;
    let sent = n.messaging.send(alice.user_id, room, "quarterly report", "a-1", None).await?;
    let size = PageSize::exactly(10);
    let found = |who: &Identity, q: &'static str| {
        let (m, who) = (n.messaging.clone(), who.user_id);
        async move { m.search(who, q, None, size, "").await.map(|(found, _)| found.len()) }
    };
    assert_eq!(found(&alice, "REPORT").await?, 1);
    assert_eq!(found(&bob, "report").await?, 0, "not a member");
    assert!(matches!(n.messaging.search(bob.user_id, "report", Some(room), size, "").await, Err(Error::Rooms(rooms::Error::NotMember))));
    n.messaging.edit(alice.user_id, room, sent.seq, "annual summary", None).await?;
    assert_eq!((found(&alice, "report").await?, found(&alice, "annual").await?), (0, 1));
    n.messaging.delete(alice.user_id, room, sent.seq).await?;
    assert_eq!(found(&alice, "annual").await?, 0);
    Ok(())
});

db_test!(async fn a_search_pages_from_the_newest_rows_into_the_full_text_index(t) {
    let n = node(t)?;
    let alice = register(&n, "alice").await?;
    let room = n.rooms.create(alice.user_id, "r", "", Visibility::Public).await?.room.id;
    // More messages than the first step reads (4,000): words only in older ones come from the engine.
    let body = |seq: i64| match seq {
        7 => "needle common".to_owned(),
        11 => "résumé common".to_owned(),
        s if s % 100 == 0 && s < 2_000 => "older common".to_owned(),
        s if s % 300 == 0 => "sparse common".to_owned(),
        _ => "common".to_owned(),
    };
    let last = storage::bench::bulk_load_searchable(t.db(), room, alice.user_id, 6_000, 2_000, body, |_| ()).await?;
    let first = last - 6_000;
    let pages = async |query: &str, size: usize| -> anyhow::Result<Vec<i64>> {
        let (mut found, mut token) = (Vec::new(), String::new());
        loop {
            let (page, next) = n.messaging.search(alice.user_id, query, None, PageSize::exactly(size), &token).await?;
            assert!(page.len() <= size);
            found.extend(page.iter().map(|e| e.seq));
            let Some(next) = next else { return Ok(found) };
            token = next;
        }
    };
    let newest_first = |keep: &dyn Fn(i64) -> bool| (first + 1..=last).rev().filter(|s| keep(*s)).collect::<Vec<i64>>();
    assert_eq!(pages("needle", 5).await?, vec![7], "a rare word, from the engine");
    assert_eq!(pages("older", 7).await?, newest_first(&|s| s % 100 == 0 && s < 2_000), "pages of the engine");
    assert_eq!(
        pages("sparse", 6).await?,
        newest_first(&|s| s % 300 == 0 && !(s % 100 == 0 && s < 2_000)),
        "pages of the first step"
    );
    assert_eq!(pages("common", 50).await?.len(), 6_000, "every message, once, in order");
    assert_eq!(pages("common", 50).await?, newest_first(&|_| true));
    // Accents are part of a word in both steps and both engines.
    assert_eq!(pages("résumé", 5).await?, vec![11]);
    assert_eq!(pages("resume", 5).await?, Vec::<i64>::new());
    Ok(())
});

/// Every page of a search, as (room, seq), in the order found.
async fn search_all(n: &Node, who: &Identity, query: &str) -> anyhow::Result<Vec<(RoomId, i64)>> {
    let (mut found, mut token) = (Vec::new(), String::new());
    loop {
        let (page, next) = n.messaging.search(who.user_id, query, None, PageSize::exactly(200), &token).await?;
        found.extend(page.iter().map(|e| (e.room_id, e.seq)));
        let Some(next) = next else { return Ok(found) };
        token = next;
    }
}

/// The seqs of the text messages in `room` whose current body has `word`, from its history.
async fn texts_with(n: &Node, who: &Identity, room: RoomId, word: &str) -> anyhow::Result<Vec<i64>> {
    let (mut seqs, mut after) = (Vec::new(), 0);
    loop {
        let (page, _) =
            n.messaging.history(who.user_id, room, TimelinePage::After(after), PageSize::exactly(200)).await?;
        let Some(last) = page.last() else { return Ok(seqs) };
        after = last.seq;
        seqs.extend(page.iter().filter(|e| e.kind == EntryKind::Text && e.body.contains(word)).map(|e| e.seq));
    }
}

db_test!(async fn a_search_finds_messages_the_index_has_not_reached(t) {
    let n = node(t)?;
    let alice = register(&n, "alice").await?;
    let a = n.rooms.create(alice.user_id, "a", "", Visibility::Public).await?.room.id;
    let b = n.rooms.create(alice.user_id, "b", "", Visibility::Public).await?.room.id;
    n.messaging.send(alice.user_id, a, "quarterly figures, sent", "f-1", None).await?;
    // Rows written straight to `messages` (texts mixed with edits and reactions), which the index has not
    // looked at: as a server that stopped before indexing its sends leaves them, or one from before search
    // existed. Room a takes several of the indexer's transactions.
    storage::bench::bulk_load(t.db(), a, alice.user_id, 1_100, 400, "quarterly report", |_| ()).await?;
    storage::bench::bulk_load(t.db(), b, alice.user_id, 300, 400, "quarterly report", |_| ()).await?;
    // Before any indexing, one of those messages is edited and one deleted.
    let (edited, deleted) = match texts_with(&n, &alice, b, "quarterly").await?[..] {
        [.., deleted, edited] => (edited, deleted),
        _ => anyhow::bail!("room b has texts"),
    };
    n.messaging.edit(alice.user_id, b, edited, "annual summary", None).await?;
    n.messaging.delete(alice.user_id, b, deleted).await?;

    let mut expected: Vec<(RoomId, i64)> = Vec::new();
    for room in [a, b] {
        expected.extend(texts_with(&n, &alice, room, "quarterly").await?.into_iter().map(|seq| (room, seq)));
    }
    assert!(expected.len() > 1_000, "{} texts", expected.len());
    // The search has the index catch up first: no waiting.
    let mut found = search_all(&n, &alice, "quarterly").await?;
    found.sort_unstable();
    expected.sort_unstable();
    assert_eq!(found, expected, "every live text, once, and nothing else");
    assert!(!found.contains(&(b, deleted)) && !found.contains(&(b, edited)));
    assert_eq!(search_all(&n, &alice, "annual").await?, vec![(b, edited)], "the edit's words, not the old ones");
    Ok(())
});

db_test!(async fn the_indexer_catches_up_on_its_own(t) {
    let n = node(t)?;
    let alice = register(&n, "alice").await?;
    let a = n.rooms.create(alice.user_id, "a", "", Visibility::Public).await?.room.id;
    let behind = async || -> anyhow::Result<Vec<RoomId>> { Ok(t.db().read().await?.unindexed_rooms(None, 10).await?) };
    let caught_up = async || -> anyhow::Result<bool> {
        let deadline = tokio::time::Instant::now() + Duration::from_secs(30);
        while tokio::time::Instant::now() < deadline {
            if behind().await?.is_empty() {
                return Ok(true);
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        Ok(false)
    };
    // Sends are indexed just after they commit.
    for i in 0..20 {
        n.messaging.send(alice.user_id, a, &format!("note {i}"), &format!("n-{i}"), None).await?;
    }
    assert!(caught_up().await?, "the writer's rooms are indexed: {:?}", behind().await?);
    // Entries no node indexed (bulk-loaded) are found by the sweep of a node that starts.
    storage::bench::bulk_load(t.db(), a, alice.user_id, 700, 400, "backlog", |_| ()).await?;
    assert_eq!(behind().await?, vec![a]);
    let _starting = node(t)?;
    assert!(caught_up().await?, "a starting node's sweep indexes what no one did");
    Ok(())
});

db_test!(async fn edits_racing_the_indexer_leave_only_their_new_words(t) {
    let n = node(t)?;
    let alice = register(&n, "alice").await?;
    let room = n.rooms.create(alice.user_id, "r", "", Visibility::Public).await?.room.id;
    storage::bench::bulk_load(t.db(), room, alice.user_id, 1_500, 500, "alpha", |_| ()).await?;
    let texts = texts_with(&n, &alice, room, "alpha").await?;
    // Edits from the newest back, while a search has the indexer work through the room from the oldest.
    let edited: Vec<i64> = texts.iter().rev().step_by(7).copied().collect();
    let edits = async {
        for seq in &edited {
            n.messaging.edit(alice.user_id, room, *seq, "omega", None).await?;
        }
        anyhow::Ok(())
    };
    let (indexing, editing) = tokio::join!(search_all(&n, &alice, "alpha"), edits);
    indexing?;
    editing?;
    let mut omega: Vec<i64> = search_all(&n, &alice, "omega").await?.into_iter().map(|(_, seq)| seq).collect();
    let mut alpha: Vec<i64> = search_all(&n, &alice, "alpha").await?.into_iter().map(|(_, seq)| seq).collect();
    let mut unedited: Vec<i64> = texts.iter().filter(|seq| !edited.contains(seq)).copied().collect();
    let mut edited = edited;
    for v in [&mut omega, &mut alpha, &mut unedited, &mut edited] {
        v.sort_unstable();
    }
    assert_eq!(omega, edited, "every edit found by its new words");
    assert_eq!(alpha, unedited, "and none by its old ones");
    Ok(())
});
