//! Read state and search end to end (issue #19): markers that never move back and reach every device,
//! receipts gathered per room, unread and mention counts that stay true under concurrent sends, edits and
//! deletes, and full-text search of current bodies (words, CJK, edits, deletes, membership).

use std::collections::HashSet;

use api::v1::subscribe_response::Event;
use api::v1::{
    DeleteMessageRequest, EditMessageRequest, ListRoomsRequest, MarkReadRequest, Message, MessageKind, Room,
    SearchMessagesRequest, Visibility,
};
use testkit::db_test;
use tonic::Code;

use crate::support::{Client, Register as _, TestServer, expect_code};

impl Client {
    async fn mark_read(&self, room: &str, seq: i64) -> Result<i64, tonic::Status> {
        let r = self.messages().mark_read(self.req(MarkReadRequest { room_id: room.into(), seq })).await?;
        Ok(r.into_inner().last_read_seq)
    }

    /// One page of a search: the (room, seq, body) of each result, and the next page's token.
    async fn search_page(
        &self,
        query: &str,
        room: &str,
        page_size: i32,
        page_token: &str,
    ) -> Result<(Vec<Message>, String), tonic::Status> {
        let request = SearchMessagesRequest {
            query: query.into(),
            room_id: room.into(),
            page_size,
            page_token: page_token.into(),
        };
        let r = self.messages().search_messages(self.req(request)).await?.into_inner();
        Ok((r.results.into_iter().filter_map(|r| r.message).collect(), r.next_page_token))
    }

    /// The bodies a search finds (first page of 50), newest first.
    async fn search(&self, query: &str, room: &str) -> Result<Vec<String>, tonic::Status> {
        Ok(self.search_page(query, room, 50, "").await?.0.into_iter().map(|m| m.body).collect())
    }

    async fn edit_to(&self, room: &str, seq: i64, body: &str) -> Result<(), tonic::Status> {
        let request =
            EditMessageRequest { room_id: room.into(), seq, body: body.into(), client_message_id: String::new() };
        self.messages().edit_message(self.req(request)).await.map(|_| ())
    }

    async fn delete_msg(&self, room: &str, seq: i64) -> Result<(), tonic::Status> {
        self.messages().delete_message(self.req(DeleteMessageRequest { room_id: room.into(), seq })).await.map(|_| ())
    }

    async fn joined_rooms(&self) -> Result<Vec<Room>, tonic::Status> {
        let request = ListRoomsRequest { page_size: 200, ..Default::default() };
        Ok(self.rooms().list_rooms(self.req(request)).await?.into_inner().rooms)
    }
}

/// What `who`'s unread and mention counts must be, worked out from the timeline itself: the text messages
/// after their marker that are not deleted, and those of them that mention them.
fn expected_counts(timeline: &[Message], who: &str, marker: i64) -> (i64, i64) {
    let unread: Vec<&Message> =
        timeline.iter().filter(|m| m.kind() == MessageKind::Text && m.seq > marker && m.deleted_at.is_none()).collect();
    let mentions = unread.iter().filter(|m| m.mentions.iter().any(|id| id == who)).count();
    (i64::try_from(unread.len()).unwrap(), i64::try_from(mentions).unwrap())
}

db_test!(async fn a_marker_never_moves_back_and_reaches_the_readers_other_devices_and_co_members(t) {
    let server = TestServer::start(t).await?;
    let alice = server.register("alice").await?;
    let bob = server.register("bob").await?;
    let room = alice.create_room("r", Visibility::Public).await?.id;
    bob.join(&room).await?;
    let mut last = 0;
    for i in 0..3 {
        last = bob.send(&room, &format!("m{i}")).await?.seq;
    }
    // Alice on two devices; bob watching.
    let mut phone = alice.subscribe(&[(&room, last)]).await?;
    let mut laptop = alice.subscribe(&[(&room, last)]).await?;
    let mut bobs = bob.subscribe(&[(&room, last)]).await?;

    assert_eq!(alice.mark_read(&room, last - 1).await?, last - 1);
    assert_eq!(alice.mark_read(&room, last).await?, last);
    // Backwards changes nothing and answers the marker as it stands.
    assert_eq!(alice.mark_read(&room, 1).await?, last);
    assert_eq!(alice.room(&room).await?.last_read_seq, last);

    let marker_of = |e: Event| match e {
        Event::ReadMarker(m) => Some(m),
        _ => None,
    };
    for device in [&mut phone, &mut laptop] {
        // Both marks of one window may come as one; the newest always comes, and never a step back.
        let mut seen = device.next_where(marker_of).await?;
        if seen.last_read_seq < last {
            seen = device.next_where(marker_of).await?;
        }
        assert_eq!((seen.room_id.as_str(), seen.last_read_seq), (room.as_str(), last));
    }
    let receipt = bobs
        .next_where(|e| match e {
            Event::ReadReceipt(r) if r.receipts.iter().any(|x| x.user_id == alice.user.id && x.last_read_seq == last) => {
                Some(r)
            }
            _ => None,
        })
        .await?;
    assert_eq!(receipt.room_id, room);
    // Co-members see the marker on the member list too.
    let members = bob.members(&room).await?;
    let alices = members.iter().find(|m| m.user.as_ref().is_some_and(|u| u.id == alice.user.id)).unwrap();
    assert_eq!(alices.last_read_seq, last);

    // A seq below 1 or beyond the room's newest entry is refused; a non-member is refused as for reading.
    expect_code(alice.mark_read(&room, 0).await, Code::InvalidArgument);
    expect_code(alice.mark_read(&room, last + 5).await, Code::InvalidArgument);
    let eve = server.register("eve").await?;
    expect_code(eve.mark_read(&room, 1).await, Code::PermissionDenied);
    Ok(())
});

db_test!(async fn sending_marks_the_room_read_for_the_sender_and_own_messages_are_never_unread(t) {
    let server = TestServer::start(t).await?;
    let alice = server.register("alice").await?;
    let bob = server.register("bob").await?;
    let room = alice.create_room("r", Visibility::Public).await?.id;
    bob.join(&room).await?;
    // What was there before bob joined is read for him.
    assert_eq!(bob.room(&room).await?.unread_count, 0);
    for i in 0..3 {
        bob.send(&room, &format!("b{i}")).await?;
    }
    let view = alice.room(&room).await?;
    assert_eq!((view.unread_count, view.mention_count), (3, 0));
    assert!(view.last_message_at.is_some());
    assert_eq!(bob.room(&room).await?.unread_count, 0, "own messages are never unread");
    let mine = alice.send(&room, "a reply").await?;
    let view = alice.room(&room).await?;
    assert_eq!((view.last_read_seq, view.unread_count), (mine.seq, 0));
    assert_eq!(bob.room(&room).await?.unread_count, 1);
    Ok(())
});

db_test!(async fn counts_stay_true_under_concurrent_sends_edits_deletes_and_marks(t) {
    let server = TestServer::start(t).await?;
    let alice = server.register("alice").await?;
    let bob = server.register("bob").await?;
    let carol = server.register("carol").await?;
    let room = alice.create_room("r", Visibility::Public).await?.id;
    bob.join(&room).await?;
    carol.join(&room).await?;

    // Bob and carol send at once, some of it naming alice; meanwhile alice marks what she has seen.
    let sends = |who: &Client, name: &'static str| {
        let (who, room) = (who.clone(), room.clone());
        async move {
            let mut sent = Vec::new();
            for i in 0..15 {
                let body = if i % 4 == 0 { format!("@alice look {name}{i}") } else { format!("{name}{i}") };
                sent.push(who.send(&room, &body).await?);
            }
            Ok::<_, tonic::Status>(sent)
        }
    };
    let marks = {
        let (alice, room) = (alice.clone(), room.clone());
        async move {
            for _ in 0..5 {
                let last = alice.room(&room).await?.last_seq;
                alice.mark_read(&room, last).await?;
            }
            Ok::<_, tonic::Status>(())
        }
    };
    let (bobs, carols, marked) = tokio::join!(sends(&bob, "b"), sends(&carol, "c"), marks);
    let (bobs, carols) = (bobs?, carols?);
    marked?;

    // Then at once: bob deletes some of his, edits others to name alice or stop naming her, carol sends.
    let edits_and_deletes = {
        let (bob, room, bobs) = (bob.clone(), room.clone(), bobs.clone());
        async move {
            for (i, m) in bobs.iter().enumerate() {
                match i % 3 {
                    0 => bob.delete_msg(&room, m.seq).await?,
                    1 => bob.edit_to(&room, m.seq, &format!("now for @alice {i}")).await?,
                    _ => bob.edit_to(&room, m.seq, &format!("nobody {i}")).await?,
                }
            }
            Ok::<_, tonic::Status>(())
        }
    };
    let more = sends(&carol, "d");
    let (done, more) = tokio::join!(edits_and_deletes, more);
    done?;
    let carols: Vec<Message> = carols.into_iter().chain(more?).collect();
    // Carol deletes one of hers that named alice.
    let named = carols.iter().find(|m| m.body.starts_with("@alice")).unwrap();
    carol.delete_msg(&room, named.seq).await?;

    let timeline = alice.timeline(&room).await?;
    for who in [&alice, &bob, &carol] {
        let view = who.room(&room).await?;
        let listed = who.joined_rooms().await?.into_iter().find(|r| r.id == room).unwrap();
        assert_eq!(
            (view.unread_count, view.mention_count),
            expected_counts(&timeline, &who.user.id, view.last_read_seq),
            "{}",
            who.user.username
        );
        assert_eq!((listed.unread_count, listed.mention_count), (view.unread_count, view.mention_count));
        // Nobody's own messages are after their marker.
        assert!(
            timeline.iter().all(|m| m.kind() != MessageKind::Text
                || m.seq <= view.last_read_seq
                || m.sender_id != who.user.id),
            "{}",
            who.user.username
        );
    }
    let view = alice.room(&room).await?;
    assert!(view.unread_count > 0 && view.mention_count > 0, "{view:?}");
    // Reading to the end clears both.
    alice.mark_read(&room, view.last_seq).await?;
    let view = alice.room(&room).await?;
    assert_eq!((view.unread_count, view.mention_count), (0, 0));
    Ok(())
});

db_test!(async fn receipts_are_gathered_per_room_not_sent_one_per_mark(t) {
    let server = TestServer::start(t).await?;
    let owner = server.register("owner").await?;
    let room = owner.create_room("big", Visibility::Public).await?.id;
    let mut readers = Vec::new();
    for i in 0..12 {
        let reader = server.register(&format!("reader{i}")).await?;
        reader.join(&room).await?;
        readers.push(reader);
    }
    let last = owner.send(&room, "read me").await?.seq;
    let mut watching = owner.subscribe(&[(&room, last)]).await?;
    let marks = readers.iter().map(|r| r.mark_read(&room, last));
    for marked in futures::future::join_all(marks).await {
        assert_eq!(marked?, last);
    }
    // Every reader's receipt arrives, in far fewer events than marks.
    let mut seen = HashSet::new();
    let mut events = 0;
    while seen.len() < readers.len() {
        let receipt = watching
            .next_where(|e| match e {
                Event::ReadReceipt(r) => Some(r),
                _ => None,
            })
            .await?;
        events += 1;
        seen.extend(receipt.receipts.iter().filter(|r| r.last_read_seq == last).map(|r| r.user_id.clone()));
    }
    assert!(events <= 4, "{events} receipt events for {} marks", readers.len());
    Ok(())
});

db_test!(async fn search_finds_current_words_in_any_case_and_cjk_only_in_the_callers_rooms(t) {
    let server = TestServer::start(t).await?;
    let alice = server.register("alice").await?;
    let bob = server.register("bob").await?;
    let room = alice.create_room("r", Visibility::Public).await?.id;
    let other = alice.create_room("other", Visibility::Public).await?.id;
    let secret = bob.create_room("secret", Visibility::Private).await?.id;
    let hello = alice.send(&room, "Hello World, the weather is fine").await?;
    alice.send(&room, "東京タワーに行きました").await?;
    alice.send(&other, "猫が好き。ＨＥＬＬＯ again").await?;
    alice.send(&room, "서울에 가요").await?;
    bob.send(&secret, "hello from a room alice is not in").await?;

    // Words, in any case or width, in every room of the caller's, newest first.
    assert_eq!(alice.search("hello", "").await?, ["猫が好き。ＨＥＬＬＯ again", "Hello World, the weather is fine"]);
    assert_eq!(alice.search("WORLD hello", "").await?, ["Hello World, the weather is fine"]);
    assert_eq!(alice.search("the", "").await?, ["Hello World, the weather is fine"], "stop words are words");
    assert!(alice.search("wor", "").await?.is_empty(), "words match whole");
    // CJK by its characters and runs.
    assert_eq!(alice.search("東京", "").await?, ["東京タワーに行きました"]);
    assert_eq!(alice.search("タワー", "").await?, ["東京タワーに行きました"]);
    assert_eq!(alice.search("猫", "").await?, ["猫が好き。ＨＥＬＬＯ again"]);
    assert_eq!(alice.search("서울", "").await?, ["서울에 가요"]);
    assert!(alice.search("京都", "").await?.is_empty());
    // One room only.
    assert_eq!(alice.search("hello", &other).await?, ["猫が好き。ＨＥＬＬＯ again"]);
    // Not in a room the caller is not in, even by naming it.
    assert_eq!(bob.search("hello", "").await?, ["hello from a room alice is not in"]);
    expect_code(alice.search("hello", &secret).await, Code::NotFound);

    // An edit is found by its new words only; a deleted message never.
    alice.edit_to(&room, hello.seq, "Goodbye moon").await?;
    assert_eq!(alice.search("moon", &room).await?, ["Goodbye moon"]);
    assert!(alice.search("world", "").await?.is_empty());
    alice.delete_msg(&room, hello.seq).await?;
    assert!(alice.search("moon", "").await?.is_empty());

    expect_code(alice.search(" ,. ", "").await, Code::InvalidArgument);
    expect_code(alice.search(&"word ".repeat(50), "").await, Code::InvalidArgument);
    Ok(())
});

db_test!(async fn search_pages_newest_first_without_repeats(t) {
    let server = TestServer::start(t).await?;
    let alice = server.register("alice").await?;
    let room = alice.create_room("r", Visibility::Public).await?.id;
    let mut sent = Vec::new();
    for i in 0..7 {
        sent.push(alice.send(&room, &format!("needle number {i}")).await?.seq);
        alice.send(&room, "hay").await?;
    }
    let mut found = Vec::new();
    let mut token = String::new();
    loop {
        let (page, next) = alice.search_page("needle", "", 3, &token).await?;
        assert!(page.len() <= 3);
        found.extend(page.iter().map(|m| m.seq));
        if next.is_empty() {
            break;
        }
        token = next;
    }
    sent.reverse();
    assert_eq!(found, sent);
    // A token belongs to its search.
    let (_, next) = alice.search_page("needle", "", 3, "").await?;
    expect_code(alice.search_page("hay", "", 3, &next).await, Code::InvalidArgument);
    // Results arrive as soon as the send is acknowledged (the index is written in its transaction).
    let fresh = alice.send(&room, "brandnew").await?;
    let (page, _) = alice.search_page("brandnew", "", 3, "").await?;
    assert_eq!(page.iter().map(|m| m.seq).collect::<Vec<_>>(), [fresh.seq]);
    Ok(())
});
