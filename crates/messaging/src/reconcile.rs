//! The safety net under the bus. Every interval, the node reads the stored tail (`last_seq`) of each room
//! that has subscribers here and publishes it as an [`Event::Tail`] hint; a subscriber whose cursor is
//! behind reads the difference from storage. So an entry whose bus message was lost (another node's
//! message dropped on the way, say) is delivered at most one interval late, never missed.
//!
//! A room with subscribers that storage no longer has was deleted by the server's operator (`parleyd
//! admin delete-room`, another process, which cannot reach this node's bus): its subscribers are told with
//! [`Event::RoomDeleted`], at most one interval after the deletion.

use std::collections::HashSet;
use std::time::Duration;

use bus::{Bus, Event, Topic};
use storage::Db;
use tasks::Supervisor;
use types::RoomId;

/// Rooms read per query.
const CHUNK: usize = 500;

pub(crate) fn spawn(db: Db, bus: Bus, every: Duration, supervisor: &Supervisor) {
    supervisor.spawn_every("tail reconciler", every, move || {
        let (db, bus) = (db.clone(), bus.clone());
        async move {
            if let Err(e) = once(&db, &bus).await {
                tracing::warn!(error = %e, "reconciling timeline tails failed; will retry");
            }
        }
    });
}

async fn once(db: &Db, bus: &Bus) -> Result<(), storage::Error> {
    let rooms = bus.room_topics();
    for chunk in rooms.chunks(CHUNK) {
        let tails = db.read().await?.last_seqs(chunk).await?;
        let found: HashSet<RoomId> = tails.iter().map(|(room, _)| *room).collect();
        for (room_id, last_seq) in tails {
            bus.publish(Topic::Room(room_id), Event::Tail { room_id, last_seq });
        }
        for &room_id in chunk.iter().filter(|room| !found.contains(room)) {
            bus.publish(Topic::Room(room_id), Event::RoomDeleted { room_id });
        }
    }
    Ok(())
}
