//! chat.v1.PresenceService end to end: issue #6's rules. Where a test must show that an event does *not*
//! arrive, it sends a sentinel message afterwards and checks that the sentinel is the next thing seen.

use std::time::Duration;

use api::v1::subscribe_response::Event;
use api::v1::{ListOnlineUsersRequest, PresenceStatus, SetPresenceRequest, Visibility};
use testkit::db_test;
use tonic::Code;

use crate::support::{Client, Events, Register as _, TestServer, expect_code};

const GRACE: Duration = Duration::from_millis(600);

async fn server(t: &testkit::TestDb) -> anyhow::Result<TestServer> {
    TestServer::start_with(t, |c| c.presence_grace = GRACE).await
}

/// The next presence change of `user` (skipping anything else, including others' presence).
async fn presence_of(events: &mut Events, user: &Client) -> anyhow::Result<(PresenceStatus, bool)> {
    let id = user.user.id.clone();
    events
        .next_where(|e| match e {
            Event::PresenceChanged(p) => p
                .presence
                .filter(|p| p.user.as_ref().is_some_and(|u| u.id == id))
                .map(|p| (p.status(), p.last_seen_at.is_some())),
            _ => None,
        })
        .await
}

/// Sends a sentinel to `room` and asserts that it is the next message or presence event `events` sees:
/// nothing else about presence happened in between.
async fn nothing_before_sentinel(events: &mut Events, sender: &Client, room: &str) -> anyhow::Result<()> {
    let sentinel = sender.send(room, "sentinel").await?;
    let seen = events
        .next_where(|e| match e {
            Event::Message(m) => Some(format!("message {}", m.body)),
            Event::PresenceChanged(p) => Some(format!("presence {p:?}")),
            _ => None,
        })
        .await?;
    assert_eq!(seen, format!("message {}", sentinel.body));
    Ok(())
}

async fn online(c: &Client, room: &str) -> anyhow::Result<Vec<(String, PresenceStatus)>> {
    let users = c
        .presence()
        .list_online_users(c.req(ListOnlineUsersRequest { room_id: room.into() }))
        .await?
        .into_inner()
        .users;
    Ok(users
        .into_iter()
        .map(|u| (u.status(), u.user.map(|u| u.username).unwrap_or_default()))
        .map(|(s, n)| (n, s))
        .collect())
}

async fn set(c: &Client, status: PresenceStatus) -> Result<(), tonic::Status> {
    c.presence().set_presence(c.req(SetPresenceRequest { status: status.into() })).await.map(|_| ())
}

db_test!(async fn online_while_any_device_is_connected_and_offline_after_the_grace_period(t) {
    let server = server(t).await?;
    let alice = server.register("alice").await?;
    let bob = server.register("bob").await?;
    let room = alice.create_room("r", Visibility::Public).await?.id;
    bob.join(&room).await?;
    let mut watch = bob.subscribe(&[(&room, 0)]).await?;
    assert_eq!(presence_of(&mut watch, &bob).await?.0, PresenceStatus::Online, "bob sees himself come online");

    let phone = alice.subscribe(&[]).await?;
    assert_eq!(presence_of(&mut watch, &alice).await?, (PresenceStatus::Online, true));
    let laptop = alice.subscribe(&[]).await?;
    assert_eq!(online(&bob, &room).await?, [("alice".into(), PresenceStatus::Online), ("bob".into(), PresenceStatus::Online)]);

    // One device goes away: still online, well past the grace period.
    drop(phone);
    tokio::time::sleep(GRACE * 3).await;
    nothing_before_sentinel(&mut watch, &bob, &room).await?;
    assert!(online(&bob, &room).await?.contains(&("alice".into(), PresenceStatus::Online)));

    // The last one goes: offline after the grace period, with a last-seen time.
    drop(laptop);
    assert_eq!(presence_of(&mut watch, &alice).await?, (PresenceStatus::Offline, true));
    assert_eq!(online(&bob, &room).await?, [("bob".into(), PresenceStatus::Online)]);
    let members = bob.members(&room).await?;
    let alice_status = members.iter().find(|m| m.user.as_ref().is_some_and(|u| u.username == "alice")).map(|m| m.presence());
    assert_eq!(alice_status, Some(PresenceStatus::Offline));
    Ok(())
});

db_test!(async fn a_quick_reconnect_does_not_flap(t) {
    let server = server(t).await?;
    let alice = server.register("alice").await?;
    let bob = server.register("bob").await?;
    let room = alice.create_room("r", Visibility::Public).await?.id;
    bob.join(&room).await?;
    let mut watch = bob.subscribe(&[(&room, 0)]).await?;
    let first = alice.subscribe(&[]).await?;
    assert_eq!(presence_of(&mut watch, &alice).await?.0, PresenceStatus::Online);
    drop(first);
    tokio::time::sleep(GRACE / 3).await;
    let _second = alice.subscribe(&[]).await?;
    tokio::time::sleep(GRACE * 2).await;
    nothing_before_sentinel(&mut watch, &bob, &room).await?;
    Ok(())
});

db_test!(async fn away_and_back(t) {
    let server = server(t).await?;
    let alice = server.register("alice").await?;
    let bob = server.register("bob").await?;
    let room = alice.create_room("r", Visibility::Public).await?.id;
    bob.join(&room).await?;

    let status = expect_code(set(&alice, PresenceStatus::Away).await, Code::FailedPrecondition);
    assert!(status.message().contains("subscribe first"), "{}", status.message());
    let mut watch = bob.subscribe(&[(&room, 0)]).await?;
    let _stream = alice.subscribe(&[]).await?;
    assert_eq!(presence_of(&mut watch, &alice).await?.0, PresenceStatus::Online);
    set(&alice, PresenceStatus::Away).await?;
    assert_eq!(presence_of(&mut watch, &alice).await?.0, PresenceStatus::Away);
    assert!(online(&bob, "").await?.contains(&("alice".into(), PresenceStatus::Away)));
    set(&alice, PresenceStatus::Away).await?; // no change, no event
    set(&alice, PresenceStatus::Online).await?;
    assert_eq!(presence_of(&mut watch, &alice).await?.0, PresenceStatus::Online);
    expect_code(set(&alice, PresenceStatus::Offline).await, Code::InvalidArgument);
    expect_code(set(&alice, PresenceStatus::Unspecified).await, Code::InvalidArgument);
    Ok(())
});

db_test!(async fn presence_reaches_co_members_once_and_nobody_else(t) {
    let server = server(t).await?;
    let alice = server.register("alice").await?;
    let bob = server.register("bob").await?;
    let carol = server.register("carol").await?;
    let dave = server.register("dave").await?;
    // Bob shares two rooms with Alice; Carol shares none (only a room with Dave).
    let one = alice.create_room("one", Visibility::Public).await?.id;
    let two = alice.create_room("two", Visibility::Private).await?.id;
    bob.join(&one).await?;
    alice.invite(&two, "bob").await?;
    bob.join(&two).await?;
    let elsewhere = dave.create_room("elsewhere", Visibility::Public).await?.id;
    carol.join(&elsewhere).await?;

    let mut bob_sees = bob.subscribe(&[]).await?;
    let mut carol_sees = carol.subscribe(&[]).await?;
    presence_of(&mut bob_sees, &bob).await?;
    presence_of(&mut carol_sees, &carol).await?;

    let _alice_online = alice.subscribe(&[]).await?;
    assert_eq!(presence_of(&mut bob_sees, &alice).await?.0, PresenceStatus::Online);
    set(&alice, PresenceStatus::Away).await?;
    assert_eq!(presence_of(&mut bob_sees, &alice).await?.0, PresenceStatus::Away);
    // Heard through two rooms, delivered once.
    nothing_before_sentinel(&mut bob_sees, &bob, &one).await?;
    // Carol shares no room with Alice: she hears nothing, and cannot ask.
    nothing_before_sentinel(&mut carol_sees, &dave, &elsewhere).await?;
    assert!(!online(&carol, "").await?.iter().any(|(name, _)| name == "alice"));
    let status = expect_code(
        carol.presence().list_online_users(carol.req(ListOnlineUsersRequest { room_id: two.clone() })).await,
        Code::NotFound,
    );
    assert_eq!(status.message(), "room not found");
    expect_code(carol.presence().list_online_users(carol.req(ListOnlineUsersRequest { room_id: one.clone() })).await, Code::PermissionDenied);
    // Bob's view of everyone he shares a room with, sorted by username.
    assert_eq!(online(&bob, "").await?, [("alice".into(), PresenceStatus::Away), ("bob".into(), PresenceStatus::Online)]);
    Ok(())
});
