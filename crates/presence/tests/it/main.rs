//! The presence service's rules on real databases (SQLite and MySQL), without gRPC: online while connected
//! on any device, offline a grace period after the last connection, away on request, and every change told
//! to the user's rooms once.

// A failed expectation in a test is a failed test: panicking is the point.
#![allow(clippy::expect_used, clippy::unwrap_used, clippy::panic)]

use std::sync::Arc;
use std::time::Duration;

use bus::{Bus, Event, Topic};
use presence::{Error, LocalStore, Presence};
use rooms::Rooms;
use testdb::db_test;
use types::{PresenceStatus, RoomId, UserId, Visibility};

const GRACE: Duration = Duration::from_millis(300);

struct Setup {
    presence: Presence,
    bus: Bus,
    room: RoomId,
    users: Vec<UserId>,
}

/// Users `names`, all members of one public room, and the service with a short grace period.
async fn setup(t: &testdb::TestDb, names: &[&str]) -> anyhow::Result<Setup> {
    let mut users = Vec::new();
    for name in names {
        users.push(testdb::user(&mut t.db().write().await?, name).await?);
    }
    let bus = Bus::default();
    let rooms = Rooms::new(t.db().clone(), bus.clone());
    let room = rooms.create(users[0], "r", "", Visibility::Public).await?.room.id;
    for user in &users[1..] {
        rooms.join(*user, room).await?;
    }
    let presence = Presence::new(
        t.db().clone(),
        bus.clone(),
        rooms,
        Arc::new(LocalStore::default()),
        GRACE,
        metrics::Presence::default(),
    );
    Ok(Setup { presence, bus, room, users })
}

/// The next presence change heard on `topic`, failing after five seconds.
async fn change(sub: &mut bus::Subscription) -> anyhow::Result<(UserId, PresenceStatus)> {
    loop {
        match tokio::time::timeout(Duration::from_secs(5), sub.recv()).await?? {
            Event::Presence { presence, .. } => return Ok((presence.user.id, presence.status)),
            _ => continue,
        }
    }
}

db_test!(async fn online_while_any_device_is_connected_offline_after_the_grace(t) {
    let s = setup(t, &["alice", "bob"]).await?;
    let alice = s.users[0];
    let mut room = s.bus.subscribe(Topic::Room(s.room));
    let phone = s.presence.connect(alice);
    assert_eq!(change(&mut room).await?, (alice, PresenceStatus::Online));
    let laptop = s.presence.connect(alice);
    drop(phone);
    tokio::time::sleep(GRACE * 2).await;
    assert_eq!(s.presence.statuses(&[alice]), vec![PresenceStatus::Online], "the laptop is still connected");
    drop(laptop);
    assert_eq!(change(&mut room).await?, (alice, PresenceStatus::Offline));
    // Offline users have a last-seen time.
    assert_eq!(t.db().read().await?.last_seen(&[alice]).await?.len(), 1);
    Ok(())
});

db_test!(async fn a_reconnect_within_the_grace_is_not_seen(t) {
    let s = setup(t, &["alice"]).await?;
    let alice = s.users[0];
    let mut room = s.bus.subscribe(Topic::Room(s.room));
    let first = s.presence.connect(alice);
    assert_eq!(change(&mut room).await?, (alice, PresenceStatus::Online));
    drop(first);
    let _again = s.presence.connect(alice);
    let heard = tokio::time::timeout(GRACE * 3, change(&mut room)).await;
    assert!(heard.is_err(), "no offline/online flap: {heard:?}");
    assert_eq!(s.presence.statuses(&[alice]), vec![PresenceStatus::Online]);
    Ok(())
});

db_test!(async fn away_is_set_while_connected_and_ends_with_the_connection(t) {
    let s = setup(t, &["alice", "bob"]).await?;
    let (alice, bob) = (s.users[0], s.users[1]);
    assert!(matches!(s.presence.set_status(alice, PresenceStatus::Away), Err(Error::NotConnected)));
    let mut room = s.bus.subscribe(Topic::Room(s.room));
    let connection = s.presence.connect(alice);
    assert_eq!(change(&mut room).await?, (alice, PresenceStatus::Online));
    assert!(matches!(s.presence.set_status(alice, PresenceStatus::Offline), Err(Error::InvalidStatus)));
    s.presence.set_status(alice, PresenceStatus::Away)?;
    assert_eq!(change(&mut room).await?, (alice, PresenceStatus::Away));
    let online = s.presence.online(bob, Some(s.room)).await?;
    assert_eq!(online.iter().map(|p| (p.user.id, p.status)).collect::<Vec<_>>(), vec![(alice, PresenceStatus::Away)]);
    drop(connection);
    assert_eq!(change(&mut room).await?, (alice, PresenceStatus::Offline));
    let _back = s.presence.connect(alice);
    assert_eq!(change(&mut room).await?, (alice, PresenceStatus::Online), "away does not outlive the connection");
    Ok(())
});

db_test!(async fn who_is_online_needs_membership_and_covers_co_members_without_a_room(t) {
    let s = setup(t, &["alice", "bob", "carol"]).await?;
    let (alice, bob, carol) = (s.users[0], s.users[1], s.users[2]);
    let _a = s.presence.connect(alice);
    let _b = s.presence.connect(bob);
    let everyone = s.presence.online(carol, None).await?;
    let mut names: Vec<&str> = everyone.iter().map(|p| p.user.username.as_str()).collect();
    names.sort_unstable();
    assert_eq!(names, ["alice", "bob"]);
    assert!(matches!(s.presence.online(carol, Some(RoomId::new())).await, Err(Error::Rooms(rooms::Error::RoomNotFound))));
    Ok(())
});
