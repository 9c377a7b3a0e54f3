//! chat.v1.MessageService end to end: issue #5's rules and its numbered "done when" cases.

use std::collections::HashSet;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use api::v1::subscribe_response::Event;
use api::v1::{GetRoomRequest, ListMessagesRequest, LogoutRequest, MessageKind, RoomRemovedReason, Visibility};
use testkit::db_test;
use tonic::Code;
use tonic_types::StatusExt as _;

use crate::support::{Client, Register as _, TestServer, expect_code};

fn seqs(messages: &[api::v1::Message]) -> Vec<i64> {
    messages.iter().map(|m| m.seq).collect()
}

async fn last_seq(c: &Client, room: &str) -> anyhow::Result<i64> {
    Ok(c.rooms()
        .get_room(c.req(GetRoomRequest { room_id: room.into() }))
        .await?
        .into_inner()
        .room
        .map_or(0, |r| r.last_seq))
}

async fn history(
    c: &Client,
    room: &str,
    before: i64,
    after: i64,
    limit: i32,
) -> Result<(Vec<i64>, bool), tonic::Status> {
    let request = ListMessagesRequest { room_id: room.into(), before_seq: before, after_seq: after, limit };
    let page = c.messages().list_messages(c.req(request)).await?.into_inner();
    Ok((seqs(&page.messages), page.has_more))
}

db_test!(async fn concurrent_senders_make_one_gapless_timeline_that_every_subscriber_sees(t) {
    const SENDERS: usize = 20;
    const EACH: usize = 50;
    let server = TestServer::start(t).await?;
    let owner = server.register("owner").await?;
    let room = owner.create_room("busy", Visibility::Public).await?.id;
    let mut senders = Vec::new();
    for i in 0..SENDERS {
        let c = server.register(&format!("sender{i:02}")).await?;
        c.join(&room).await?;
        senders.push(c);
    }
    let start = last_seq(&owner, &room).await?;
    let mut subscribers = Vec::new();
    for _ in 0..3 {
        subscribers.push(owner.subscribe(&[(&room, start)]).await?);
    }
    let room = &room;
    let all_from_all = senders.iter().map(|c| async move {
        for j in 0..EACH {
            c.send(room, &format!("{} #{j}", c.user.username)).await?;
        }
        anyhow::Ok(())
    });
    for result in futures::future::join_all(all_from_all).await {
        result?;
    }
    let n = (SENDERS * EACH) as i64;
    let expected: Vec<i64> = (start + 1..=start + n).collect();
    for events in &mut subscribers {
        assert_eq!(seqs(&events.messages(SENDERS * EACH).await?), expected);
    }
    let timeline = owner.timeline(room).await?;
    assert_eq!(seqs(&timeline), (1..=start + n).collect::<Vec<_>>());
    // Each sender's messages are in the order it sent them.
    for c in &senders {
        let mine: Vec<&str> =
            timeline.iter().filter(|m| m.sender_id == c.user.id && m.kind() == MessageKind::Text).map(|m| m.body.as_str()).collect();
        let sent: Vec<String> = (0..EACH).map(|j| format!("{} #{j}", c.user.username)).collect();
        assert_eq!(mine, sent);
    }
    Ok(())
});

db_test!(async fn a_repeated_client_message_id_returns_the_original_also_after_a_restart(t) {
    let server = TestServer::start(t).await?;
    let alice = server.register("alice").await?;
    let room = alice.create_room("r", Visibility::Public).await?.id;
    let first = alice.send_with_id(&room, "hello", "msg-1").await?;
    let again = alice.send_with_id(&room, "hello (retry with another body)", "msg-1").await?;
    assert_eq!(again, first);
    // Same id from another sender is another message.
    let bob = server.register("bob").await?;
    bob.join(&room).await?;
    assert_ne!(bob.send_with_id(&room, "hello", "msg-1").await?.id, first.id);

    server.stop().await?;
    let server = TestServer::start(t).await?;
    let alice = crate::support::Client::new(server.channel().await?, alice.user.clone(), alice.tokens.clone())?;
    let after_restart = alice.send_with_id(&room, "hello", "msg-1").await?;
    assert_eq!(after_restart, first);
    let copies = alice.timeline(&room).await?.into_iter().filter(|m| m.client_message_id == "msg-1" && m.sender_id == alice.user.id).count();
    assert_eq!(copies, 1);
    Ok(())
});

db_test!(async fn concurrent_retries_of_one_message_store_it_once(t) {
    let server = TestServer::start(t).await?;
    let alice = server.register("alice").await?;
    let room = alice.create_room("r", Visibility::Public).await?.id;
    let tries = (0..16).map(|_| alice.send_with_id(&room, "once", "same-id"));
    let results: Vec<_> = futures::future::join_all(tries).await.into_iter().collect::<Result<_, _>>()?;
    assert!(results.windows(2).all(|w| w[0] == w[1]), "every retry got the original");
    assert_eq!(alice.timeline(&room).await?.iter().filter(|m| m.body == "once").count(), 1);
    Ok(())
});

db_test!(async fn repeats_among_fresh_sends_get_the_original_and_the_fresh_ones_are_stored_once(t) {
    let server = TestServer::start(t).await?;
    let alice = server.register("alice").await?;
    let bob = server.register("bob").await?;
    let room = alice.create_room("r", Visibility::Public).await?.id;
    bob.join(&room).await?;
    let original = alice.send_with_id(&room, "first", "first").await?;
    // Repeats and new messages at once, so that the writer's batches mix them.
    let sends = (0..40).map(|i| {
        let (alice, bob, room) = (alice.clone(), bob.clone(), room.clone());
        async move {
            if i % 2 == 0 {
                alice.send_with_id(&room, "first, retried", "first").await
            } else {
                bob.send_with_id(&room, &format!("fresh {i}"), &format!("fresh-{i}")).await
            }
        }
    });
    let results: Vec<_> = futures::future::join_all(sends).await.into_iter().collect::<Result<_, _>>()?;
    for (i, message) in results.iter().enumerate() {
        if i % 2 == 0 {
            assert_eq!(message, &original);
        } else {
            assert_eq!(message.body, format!("fresh {i}"));
        }
    }
    let timeline = alice.timeline(&room).await?;
    assert_eq!(seqs(&timeline), (1..=timeline.len() as i64).collect::<Vec<_>>());
    let texts: Vec<&str> =
        timeline.iter().filter(|m| m.kind() == MessageKind::Text).map(|m| m.body.as_str()).collect();
    assert_eq!(texts.iter().filter(|b| b.starts_with("first")).count(), 1);
    let fresh: HashSet<&str> = texts.iter().copied().filter(|b| b.starts_with("fresh")).collect();
    assert_eq!(fresh.len(), 20);
    assert_eq!(texts.len(), 21);
    Ok(())
});

db_test!(async fn a_subscriber_that_comes_back_gets_exactly_what_it_missed_then_live(t) {
    let server = TestServer::start(t).await?;
    let alice = server.register("alice").await?;
    let bob = server.register("bob").await?;
    let room = alice.create_room("r", Visibility::Public).await?.id;
    bob.join(&room).await?;
    let mut events = bob.subscribe(&[(&room, 0)]).await?;
    for i in 0..5 {
        alice.send(&room, &format!("before {i}")).await?;
    }
    let k = events.messages(7).await?.last().map_or(0, |m| m.seq);
    drop(events);

    let sends = (0..500).map(|i| {
        let alice = alice.clone();
        let room = room.clone();
        async move { alice.send_with_id(&room, &format!("missed {i}"), &format!("missed-{i}")).await }
    });
    // Several at a time, as many clients would.
    let mut sends = futures::stream::iter(sends).buffer_unordered(8);
    while let Some(result) = futures::StreamExt::next(&mut sends).await {
        result?;
    }

    let mut events = bob.subscribe(&[(&room, k)]).await?;
    assert!(matches!(events.next().await?, Event::Ready(_)));
    let replay = events.messages(500).await?;
    assert_eq!(seqs(&replay), (k + 1..=k + 500).collect::<Vec<_>>());
    let live = alice.send(&room, "live").await?;
    let next = events.message().await?;
    assert_eq!((next.seq, next.body.as_str()), (live.seq, "live"));
    Ok(())
});

use futures::StreamExt as _;

db_test!(async fn the_replay_to_live_seam_neither_skips_nor_repeats(t) {
    let server = TestServer::start(t).await?;
    let alice = server.register("alice").await?;
    let bob = server.register("bob").await?;
    let room = alice.create_room("r", Visibility::Public).await?.id;
    bob.join(&room).await?;
    for i in 0..20 {
        alice.send(&room, &format!("seed {i}")).await?;
    }
    // Two clients keep sending for the whole test.
    let running = Arc::new(AtomicBool::new(true));
    let mut feeders = Vec::new();
    for c in [alice.clone(), bob.clone()] {
        let (running, room) = (running.clone(), room.clone());
        feeders.push(tokio::spawn(async move {
            let mut i = 0u64;
            while running.load(Ordering::Relaxed) {
                c.send(&room, &format!("{} {i}", c.user.username)).await?;
                i += 1;
            }
            anyhow::Ok(())
        }));
    }
    for round in 0..50 {
        let tail = last_seq(&bob, &room).await?;
        let k = tail - (round % 12) as i64; // sometimes from the tail, sometimes a little behind it
        let mut events = bob.subscribe(&[(&room, k)]).await?;
        // Read past the point where replay must have handed over to live.
        let want = usize::try_from(tail - k).unwrap_or(0) + 8;
        let got = seqs(&events.messages(want).await?);
        assert_eq!(got, (k + 1..=k + want as i64).collect::<Vec<_>>(), "round {round} from {k}");
    }
    running.store(false, Ordering::Relaxed);
    for feeder in feeders {
        feeder.await??;
    }
    let timeline = seqs(&bob.timeline(&room).await?);
    assert_eq!(timeline, (1..=timeline.len() as i64).collect::<Vec<_>>());
    Ok(())
});

db_test!(async fn non_members_are_refused_in_the_rooms_own_terms(t) {
    let server = TestServer::start(t).await?;
    let alice = server.register("alice").await?;
    let mallory = server.register("mallory").await?;
    let public = alice.create_room("public", Visibility::Public).await?.id;
    let private = alice.create_room("private", Visibility::Private).await?.id;
    for (room, code) in [(&public, Code::PermissionDenied), (&private, Code::NotFound)] {
        expect_code(mallory.send(room, "hi").await, code);
        expect_code(history(&mallory, room, 0, 0, 10).await, code);
        expect_code(mallory.subscribe(&[(room, 0)]).await, code);
    }
    Ok(())
});

db_test!(async fn bad_sends_and_history_requests_are_named(t) {
    let server = TestServer::start(t).await?;
    let alice = server.register("alice").await?;
    let room = alice.create_room("r", Visibility::Public).await?.id;
    let field = |status: tonic::Status| -> Vec<String> {
        status.get_details_bad_request().map(|b| b.field_violations.into_iter().map(|v| v.field).collect()).unwrap_or_default()
    };
    for body in ["", "   \n\t ", &"x".repeat(4001)] {
        assert_eq!(field(expect_code(alice.send(&room, body).await, Code::InvalidArgument)), ["body"]);
    }
    alice.send(&room, &"é".repeat(4000)).await?;
    for id in ["", &"i".repeat(65)] {
        assert_eq!(field(expect_code(alice.send_with_id(&room, "hi", id).await, Code::InvalidArgument)), ["client_message_id"]);
    }
    assert_eq!(field(expect_code(history(&alice, &room, 3, 1, 10).await, Code::InvalidArgument)), ["after_seq"]);
    assert_eq!(field(expect_code(history(&alice, &room, -1, 0, 10).await, Code::InvalidArgument)), ["before_seq"]);
    assert_eq!(field(expect_code(history(&alice, &room, 0, 0, -5).await, Code::InvalidArgument)), ["limit"]);
    let status = expect_code(alice.messages().send_message(alice.req(api::v1::SendMessageRequest { reply_to_seq: 0, room_id: "not-an-id".into(), body: "x".into(), client_message_id: "x".into() })).await, Code::InvalidArgument);
    assert_eq!(field(status), ["room_id"]);
    let tail = last_seq(&alice, &room).await?;
    let status = expect_code(alice.subscribe(&[(&room, tail + 1)]).await, Code::InvalidArgument);
    assert!(status.message().contains("beyond the newest entry"), "{}", status.message());
    expect_code(alice.subscribe(&[(&room, -1)]).await, Code::InvalidArgument);
    expect_code(alice.subscribe(&[(&room, 0), (&room, 1)]).await, Code::InvalidArgument);
    Ok(())
});

db_test!(async fn history_pages_both_ways_with_has_more(t) {
    let server = TestServer::start(t).await?;
    let alice = server.register("alice").await?;
    let room = alice.create_room("r", Visibility::Public).await?.id;
    for i in 0..59 {
        alice.send(&room, &format!("m{i}")).await?; // seqs 2..=60
    }
    assert_eq!(history(&alice, &room, 0, 0, 0).await?, ((11..=60).collect(), true), "the newest 50 by default");
    assert_eq!(history(&alice, &room, 11, 0, 7).await?, ((4..=10).collect(), true));
    assert_eq!(history(&alice, &room, 4, 0, 7).await?, ((1..=3).collect(), false));
    assert_eq!(history(&alice, &room, 0, 50, 7).await?, ((51..=57).collect(), true));
    assert_eq!(history(&alice, &room, 0, 57, 7).await?, ((58..=60).collect(), false));
    assert_eq!(history(&alice, &room, 0, 60, 7).await?, (vec![], false));
    let (all, more) = history(&alice, &room, 0, 0, 1000).await?;
    assert_eq!((all.len(), more), (60, false), "at most 200 a page, and this is all");
    Ok(())
});

db_test!(async fn subscribing_to_nothing_follows_every_joined_room_and_new_joins(t) {
    let server = TestServer::start(t).await?;
    let alice = server.register("alice").await?;
    let bob = server.register("bob").await?;
    let first = alice.create_room("first", Visibility::Public).await?.id;
    alice.send(&first, "old news").await?;
    let mut events = alice.subscribe(&[]).await?;
    let Event::Ready(ready) = events.next().await? else { anyhow::bail!("ready first") };
    assert_eq!(ready.rooms.iter().map(|c| (c.room_id.as_str(), c.after_seq)).collect::<Vec<_>>(), [(first.as_str(), 2)], "live from now");
    alice.send(&first, "fresh").await?;
    assert_eq!(events.message().await?.body, "fresh");

    // A room joined while subscribed is added, starting with the join.
    let second = bob.create_room("second", Visibility::Public).await?.id;
    bob.send(&second, "before alice came").await?;
    alice.join(&second).await?;
    let added = events.next_where(|e| match e { Event::RoomAdded(a) => Some(a), _ => None }).await?;
    assert_eq!(added.room.as_ref().map(|r| r.id.as_str()), Some(second.as_str()));
    let join = events.message().await?;
    assert_eq!((join.kind(), join.room_id.as_str(), join.seq), (MessageKind::MemberJoined, second.as_str(), added.after_seq + 1));
    bob.send(&second, "welcome").await?;
    assert_eq!(events.message().await?.body, "welcome");
    Ok(())
});

db_test!(async fn leaving_or_being_removed_stops_the_room_with_an_event(t) {
    let server = TestServer::start(t).await?;
    let alice = server.register("alice").await?;
    let bob = server.register("bob").await?;
    let room = alice.create_room("r", Visibility::Public).await?.id;
    let other = alice.create_room("other", Visibility::Public).await?.id;
    bob.join(&room).await?;
    bob.join(&other).await?;
    let mut events = bob.subscribe(&[]).await?;
    events.next().await?;
    alice.rooms().remove_member(alice.req(api::v1::RemoveMemberRequest { room_id: room.clone(), user_id: bob.user.id.clone() })).await?;
    let removal = events.message().await?;
    assert_eq!(removal.kind(), MessageKind::MemberRemoved);
    let stopped = events.next_where(|e| match e { Event::RoomRemoved(r) => Some(r), _ => None }).await?;
    assert_eq!((stopped.room_id.as_str(), stopped.reason(), stopped.last_seq), (room.as_str(), RoomRemovedReason::Removed, removal.seq));
    // Nothing more from that room; the other room still flows.
    alice.send(&room, "bob must not see this").await?;
    alice.send(&other, "bob sees this").await?;
    let next = events.message().await?;
    assert_eq!(next.body, "bob sees this");

    bob.rooms().leave_room(bob.req(api::v1::LeaveRoomRequest { room_id: other.clone() })).await?;
    let left = events.message().await?;
    assert_eq!((left.kind(), left.room_id.as_str()), (MessageKind::MemberLeft, other.as_str()));
    let stopped = events.next_where(|e| match e { Event::RoomRemoved(r) => Some(r), _ => None }).await?;
    assert_eq!(stopped.reason(), RoomRemovedReason::Left);
    Ok(())
});

db_test!(async fn logout_ends_the_sessions_streams(t) {
    let server = TestServer::start(t).await?;
    let alice = server.register("alice").await?;
    let room = alice.create_room("r", Visibility::Public).await?.id;
    let mut events = alice.subscribe(&[(&room, 0)]).await?;
    events.message().await?;
    alice.auth().logout(alice.req(LogoutRequest::default())).await?;
    let status = events.end().await?;
    assert_eq!(status.code(), Code::Unauthenticated);
    assert_eq!(status.message(), "session has ended; sign in again");
    Ok(())
});

db_test!(async fn idle_streams_get_heartbeats(t) {
    let server = TestServer::start_with(t, |c| c.messaging.heartbeat_interval = Duration::from_millis(300)).await?;
    let alice = server.register("alice").await?;
    let room = alice.create_room("r", Visibility::Public).await?.id;
    let mut events = alice.subscribe(&[(&room, 1)]).await?;
    assert!(matches!(events.next().await?, Event::Ready(_)));
    // Two in a row (the subscriber's own presence change may come first).
    for _ in 0..2 {
        events.next_where(|e| matches!(e, Event::Heartbeat(_)).then_some(())).await?;
    }
    Ok(())
});

db_test!(async fn an_entry_the_bus_never_carried_still_arrives(t) {
    // The bus is only a hint: write an entry behind its back and the periodic reconciliation delivers it.
    let server = TestServer::start_with(t, |c| c.messaging.reconcile_interval = Duration::from_millis(200)).await?;
    let alice = server.register("alice").await?;
    let room = alice.create_room("r", Visibility::Public).await?;
    let mut events = alice.subscribe(&[(&room.id, room.last_seq)]).await?;
    events.next().await?;
    let room_id: types::RoomId = room.id.parse()?;
    let sender: types::UserId = alice.user.id.parse()?;
    let entry = storage::timeline::NewEntry {
        kind: types::EntryKind::Text,
        sender_id: sender,
        subject: None,
        body: "written by another node".into(),
        client_message_id: Some("elsewhere".into()),
    };
    let mut conn = t.db().write().await?;
    let stored = storage::timeline::append_one(&mut conn, room_id, &entry).await?;
    drop(conn);
    let got = events.message().await?;
    assert_eq!((got.seq, got.body.as_str()), (stored.seq, "written by another node"));
    Ok(())
});

db_test!(async fn shutting_down_ends_streams_so_clients_reconnect(t) {
    let server = TestServer::start(t).await?;
    let alice = server.register("alice").await?;
    let room = alice.create_room("r", Visibility::Public).await?.id;
    let mut events = alice.subscribe(&[(&room, 0)]).await?;
    events.message().await?;
    let stopping = tokio::spawn(server.stop());
    let status = events.end().await?;
    assert_eq!(status.code(), Code::Unavailable);
    stopping.await??;
    Ok(())
});

db_test!(async fn a_subscriber_that_reads_nothing_costs_bounded_memory_and_loses_nothing(t) {
    // A tiny buffer and bus so that the subscriber overflows at once and must be caught up from storage.
    let server = TestServer::start_with(t, |c| c.messaging.stream_buffer = 4).await?;
    let alice = server.register("alice").await?;
    let room = alice.create_room("r", Visibility::Public).await?.id;
    let start = last_seq(&alice, &room).await?;
    let mut sleeper = alice.subscribe(&[(&room, start)]).await?;
    const N: usize = 10_000;
    let sends = (0..N).map(|i| {
        let alice = alice.clone();
        let room = room.clone();
        async move { alice.send_with_id(&room, &format!("m{i}"), &format!("id-{i}")).await }
    });
    let mut sends = futures::stream::iter(sends).buffer_unordered(32);
    while let Some(result) = sends.next().await {
        result?;
    }
    let got = seqs(&sleeper.messages(N).await?);
    assert_eq!(got, (start + 1..=start + N as i64).collect::<Vec<_>>());
    let _ = HashSet::<i64>::new();
    Ok(())
});

db_test!(async fn a_resuming_client_can_list_its_rooms_and_still_follow_new_joins(t) {
    let server = TestServer::start(t).await?;
    let alice = server.register("alice").await?;
    let bob = server.register("bob").await?;
    let mine = alice.create_room("mine", Visibility::Public).await?;
    alice.send(&mine.id, "missed while away").await?;
    let mut events = alice.subscribe_following(&[(&mine.id, 1)], true).await?;
    assert_eq!(events.message().await?.body, "missed while away");
    let theirs = bob.create_room("theirs", Visibility::Public).await?.id;
    alice.join(&theirs).await?;
    let added = events.next_where(|e| match e { Event::RoomAdded(a) => Some(a), _ => None }).await?;
    assert_eq!(added.room.map(|r| r.id), Some(theirs.clone()));
    assert_eq!(events.message().await?.kind(), MessageKind::MemberJoined);
    // Without the flag, a listed subscription does not grow.
    let mut fixed = alice.subscribe(&[(&mine.id, 2)]).await?;
    let other = bob.create_room("other", Visibility::Public).await?.id;
    alice.join(&other).await?;
    alice.send(&mine.id, "sentinel").await?;
    let next = fixed.next_where(|e| match e { Event::RoomAdded(_) => Some("added".to_owned()), Event::Message(m) => Some(m.body), _ => None }).await?;
    assert_eq!(next, "sentinel");
    Ok(())
});

db_test!(async fn invitations_reach_the_invitees_open_streams(t) {
    let server = TestServer::start(t).await?;
    let alice = server.register("alice").await?;
    let bob = server.register("bob").await?;
    let mut events = alice.subscribe(&[]).await?;
    events.next().await?;
    let room = bob.create_room("Bob's den", Visibility::Private).await?.id;
    bob.invite(&room, "alice").await?;
    let invitation =
        events.next_where(|e| match e { Event::InvitationReceived(i) => Some(i), _ => None }).await?;
    assert_eq!(invitation.inviter_username, "bob");
    assert_eq!(invitation.inviter_id, bob.user.id);
    let invited_to = invitation.room.expect("room");
    assert_eq!((invited_to.id.as_str(), invited_to.name.as_str()), (room.as_str(), "Bob's den"));
    Ok(())
});
