//! Replies, edits, deletions, reactions, mentions and typing end to end (issue #18): actions are timeline
//! entries with their own seq, so resume, history and idempotent retries hold for them as for messages.

use std::time::Duration;

use api::v1::subscribe_response::Event;
use api::v1::{
    AddReactionRequest, DeleteMessageRequest, EditMessageRequest, GetMessageRequest, ListMessagesRequest, Message,
    MessageKind, RemoveReactionRequest, SendMessageRequest, SetTypingRequest, Visibility,
};
use testkit::db_test;
use tonic::Code;
use tonic_types::StatusExt as _;

use crate::support::{Client, Register as _, TestServer, expect_code};

fn reason(status: &tonic::Status) -> String {
    status.get_details_error_info().map(|i| i.reason).unwrap_or_default()
}

impl Client {
    async fn reply(&self, room: &str, body: &str, to: i64) -> Result<Message, tonic::Status> {
        let request = SendMessageRequest {
            room_id: room.into(),
            body: body.into(),
            client_message_id: uuid::Uuid::new_v4().to_string(),
            reply_to_seq: to,
        };
        let r = self.messages().send_message(self.req(request)).await?;
        r.into_inner().message.ok_or_else(|| tonic::Status::internal("no message"))
    }

    async fn get(&self, room: &str, seq: i64) -> Result<Message, tonic::Status> {
        let r = self.messages().get_message(self.req(GetMessageRequest { room_id: room.into(), seq })).await?;
        r.into_inner().message.ok_or_else(|| tonic::Status::internal("no message"))
    }

    async fn edit(&self, room: &str, seq: i64, body: &str, id: &str) -> Result<Message, tonic::Status> {
        let request = EditMessageRequest { room_id: room.into(), seq, body: body.into(), client_message_id: id.into() };
        let r = self.messages().edit_message(self.req(request)).await?;
        r.into_inner().message.ok_or_else(|| tonic::Status::internal("no message"))
    }

    async fn delete(&self, room: &str, seq: i64) -> Result<(), tonic::Status> {
        self.messages().delete_message(self.req(DeleteMessageRequest { room_id: room.into(), seq })).await.map(|_| ())
    }

    async fn react(&self, room: &str, seq: i64, emoji: &str) -> Result<(), tonic::Status> {
        let request = AddReactionRequest { room_id: room.into(), seq, emoji: emoji.into() };
        self.messages().add_reaction(self.req(request)).await.map(|_| ())
    }

    async fn unreact(&self, room: &str, seq: i64, emoji: &str) -> Result<(), tonic::Status> {
        let request = RemoveReactionRequest { room_id: room.into(), seq, emoji: emoji.into() };
        self.messages().remove_reaction(self.req(request)).await.map(|_| ())
    }

    async fn typing(&self, room: &str, typing: bool) -> Result<(), tonic::Status> {
        self.messages().set_typing(self.req(SetTypingRequest { room_id: room.into(), typing })).await.map(|_| ())
    }

    /// Entries after `after`, as ListMessages pages them.
    async fn entries_after(&self, room: &str, after: i64) -> anyhow::Result<Vec<Message>> {
        let request = ListMessagesRequest { room_id: room.into(), before_seq: 0, after_seq: after, limit: 200 };
        Ok(self.messages().list_messages(self.req(request)).await?.into_inner().messages)
    }
}

/// (emoji, count, reacted_by_caller) of a message's reactions.
fn reactions(m: &Message) -> Vec<(&str, i64, bool)> {
    m.reactions.iter().map(|r| (r.emoji.as_str(), r.count, r.reacted_by_caller)).collect()
}

/// A room of `alice` (owner) with `bob` as a member.
async fn room_of_two(server: &TestServer) -> anyhow::Result<(Client, Client, String)> {
    let alice = server.register("alice").await?;
    let bob = server.register("bob").await?;
    let room = alice.create_room("r", Visibility::Public).await?.id;
    bob.join(&room).await?;
    Ok((alice, bob, room))
}

db_test!(async fn replies_name_a_message_of_the_same_room(t) {
    let server = TestServer::start(t).await?;
    let (alice, bob, room) = room_of_two(&server).await?;
    let other = alice.create_room("other", Visibility::Public).await?.id;
    let question = alice.send(&room, "lunch?").await?;
    let answer = bob.reply(&room, "yes", question.seq).await?;
    assert_eq!(answer.reply_to_seq, question.seq);
    assert_eq!(bob.get(&room, answer.seq).await?.reply_to_seq, question.seq);

    // A seq the room does not have, a membership entry (bob's join), a negative seq, a message of another
    // room: each named.
    let elsewhere = alice.send(&other, "elsewhere").await?;
    let join_seq = bob.timeline(&room).await?.iter().find(|m| m.kind() == MessageKind::MemberJoined).unwrap().seq;
    for to in [answer.seq + 10, join_seq, -1, elsewhere.seq + 100] {
        let status = expect_code(bob.reply(&room, "?", to).await, Code::InvalidArgument);
        assert!(status.message().contains("reply_to_seq"), "{status:?}");
    }
    // A reply to a deleted message is still a reply (the tombstone keeps its place).
    alice.delete(&room, question.seq).await?;
    assert_eq!(bob.reply(&room, "too late", question.seq).await?.reply_to_seq, question.seq);
    Ok(())
});

db_test!(async fn an_edit_is_an_entry_and_changes_the_message_for_everyone(t) {
    let server = TestServer::start(t).await?;
    let (alice, bob, room) = room_of_two(&server).await?;
    let sent = alice.send(&room, "helo").await?;
    let mut stream = bob.subscribe(&[(&room, sent.seq)]).await?;

    let edited = alice.edit(&room, sent.seq, "hello", "").await?;
    assert_eq!((edited.seq, edited.body.as_str()), (sent.seq, "hello"));
    assert!(edited.edited_at.is_some() && edited.deleted_at.is_none());

    let entry = stream.message().await?;
    assert_eq!(entry.kind(), MessageKind::Edit);
    assert_eq!((entry.seq, entry.target_seq, entry.body.as_str()), (sent.seq + 1, sent.seq, "hello"));
    assert_eq!(entry.sender_id, alice.user.id);
    // Bob reads the current state; history returns the same two entries as the stream.
    let now = bob.get(&room, sent.seq).await?;
    assert_eq!((now.body.as_str(), now.edited_at.is_some()), ("hello", true));
    let listed = bob.entries_after(&room, sent.seq - 1).await?;
    assert_eq!(listed.len(), 2);
    assert_eq!(listed[0], now);
    assert_eq!(listed[1], entry);

    // An edit that changes nothing appends nothing.
    alice.edit(&room, sent.seq, "hello", "").await?;
    assert_eq!(alice.room(&room).await?.last_seq, entry.seq);
    Ok(())
});

db_test!(async fn only_the_sender_edits_with_the_rules_of_sending(t) {
    let server = TestServer::start(t).await?;
    let (alice, bob, room) = room_of_two(&server).await?;
    let sent = alice.send(&room, "mine").await?;

    let status = expect_code(bob.edit(&room, sent.seq, "yours now", "").await, Code::PermissionDenied);
    assert_eq!(reason(&status), "NOT_YOUR_MESSAGE");
    for body in ["", "   ", &"x".repeat(4001)] {
        let status = expect_code(alice.edit(&room, sent.seq, body, "").await, Code::InvalidArgument);
        assert!(status.message().contains("body"), "{status:?}");
    }
    let status = expect_code(alice.edit(&room, sent.seq + 50, "x", "").await, Code::NotFound);
    assert_eq!(reason(&status), "MESSAGE_NOT_FOUND");
    let status = expect_code(alice.edit(&room, 0, "x", "").await, Code::InvalidArgument);
    assert!(status.message().contains("seq"), "{status:?}");
    // Seq 1 is alice's own join: not a message.
    let status = expect_code(alice.edit(&room, 1, "x", "").await, Code::InvalidArgument);
    assert_eq!(reason(&status), "NOT_A_MESSAGE");
    // An action entry is not a message either.
    alice.edit(&room, sent.seq, "mine, edited", "").await?;
    let status = expect_code(alice.edit(&room, sent.seq + 1, "x", "").await, Code::InvalidArgument);
    assert_eq!(reason(&status), "NOT_A_MESSAGE");

    alice.delete(&room, sent.seq).await?;
    let status = expect_code(alice.edit(&room, sent.seq, "back", "").await, Code::FailedPrecondition);
    assert_eq!(reason(&status), "MESSAGE_DELETED");
    Ok(())
});

db_test!(async fn a_retried_edit_is_stored_once(t) {
    let server = TestServer::start(t).await?;
    let (alice, _bob, room) = room_of_two(&server).await?;
    let sent = alice.send(&room, "v1").await?;
    let first = alice.edit(&room, sent.seq, "v2", "edit-1").await?;
    // A later edit, then the first one retried (its answer was lost): the retry must not put v2 back.
    alice.edit(&room, sent.seq, "v3", "edit-2").await?;
    let retried = alice.edit(&room, sent.seq, "v2", "edit-1").await?;
    assert_eq!(retried.body, "v3");
    assert_eq!(first.body, "v2");
    // Concurrent retries of one edit.
    let tries = (0..8).map(|_| alice.edit(&room, sent.seq, "v4", "edit-3"));
    for result in futures::future::join_all(tries).await {
        assert_eq!(result?.body, "v4");
    }
    let edits: Vec<String> =
        alice.timeline(&room).await?.into_iter().filter(|m| m.kind() == MessageKind::Edit).map(|m| m.body).collect();
    assert_eq!(edits, ["v2", "v3", "v4"]);

    // An edit's id used for another message, or a message's id used for an edit: named, not stored.
    let other = alice.send_with_id(&room, "other", "msg-id").await?;
    let status = expect_code(alice.edit(&room, other.seq, "x", "edit-1").await, Code::InvalidArgument);
    assert!(status.message().contains("client_message_id"), "{status:?}");
    let status = expect_code(alice.edit(&room, other.seq, "x", "msg-id").await, Code::InvalidArgument);
    assert!(status.message().contains("client_message_id"), "{status:?}");
    let status = expect_code(alice.send_with_id(&room, "x", "edit-1").await, Code::InvalidArgument);
    assert!(status.message().contains("client_message_id"), "{status:?}");
    Ok(())
});

db_test!(async fn deleting_leaves_a_tombstone_that_the_sender_owner_or_admin_may_make(t) {
    let server = TestServer::start(t).await?;
    let (alice, bob, room) = room_of_two(&server).await?;
    let carol = server.register("carol").await?;
    carol.join(&room).await?;
    let bobs = bob.send(&room, "@alice look").await?;
    alice.react(&room, bobs.seq, "👍").await?;
    bob.edit(&room, bobs.seq, "@alice look here", "").await?;
    assert_eq!(alice.get(&room, bobs.seq).await?.mentions, vec![alice.user.id.clone()]);

    // Carol is a plain member: not hers to delete.
    let status = expect_code(carol.delete(&room, bobs.seq).await, Code::PermissionDenied);
    assert_eq!(reason(&status), "NOT_YOUR_MESSAGE");
    // The owner may; twice is fine and appends one entry.
    let before = alice.room(&room).await?.last_seq;
    alice.delete(&room, bobs.seq).await?;
    alice.delete(&room, bobs.seq).await?;
    bob.delete(&room, bobs.seq).await?;
    assert_eq!(alice.room(&room).await?.last_seq, before + 1);

    let tombstone = carol.get(&room, bobs.seq).await?;
    assert!(tombstone.deleted_at.is_some());
    assert_eq!(tombstone.body, "");
    assert!(tombstone.reactions.is_empty() && tombstone.mentions.is_empty());
    let timeline = carol.timeline(&room).await?;
    let delete = timeline.last().unwrap();
    assert_eq!((delete.kind(), delete.target_seq, delete.sender_id.as_str()), (
        MessageKind::Delete,
        bobs.seq,
        alice.user.id.as_str()
    ));
    // The edit entry's text is gone too; the reaction entries stay (with the emoji, as history).
    let edit = timeline.iter().find(|m| m.kind() == MessageKind::Edit).unwrap();
    assert_eq!(edit.body, "");
    assert!(edit.mentions.is_empty());
    assert!(timeline.iter().any(|m| m.kind() == MessageKind::ReactionAdded && m.emoji == "👍"));

    // The sender deletes their own.
    let carols = carol.send(&room, "oops").await?;
    carol.delete(&room, carols.seq).await?;
    assert!(carol.get(&room, carols.seq).await?.deleted_at.is_some());
    // An admin (promoted by the owner) may delete another's.
    let promote = api::v1::SetMemberRoleRequest {
        room_id: room.clone(),
        user_id: bob.user.id.clone(),
        role: api::v1::Role::Admin.into(),
    };
    alice.rooms().set_member_role(alice.req(promote)).await?;
    let alices = alice.send(&room, "owner's").await?;
    bob.delete(&room, alices.seq).await?;
    assert!(alice.get(&room, alices.seq).await?.deleted_at.is_some());
    Ok(())
});

db_test!(async fn reactions_are_counted_per_user_and_idempotent(t) {
    let server = TestServer::start(t).await?;
    let (alice, bob, room) = room_of_two(&server).await?;
    let sent = alice.send(&room, "party").await?;
    let mut stream = alice.subscribe(&[(&room, sent.seq)]).await?;

    bob.react(&room, sent.seq, "🎉").await?;
    bob.react(&room, sent.seq, "🎉").await?; // a retry
    alice.react(&room, sent.seq, "🎉").await?;
    tokio::time::sleep(Duration::from_millis(5)).await; // reactions are ordered by the millisecond
    alice.react(&room, sent.seq, ":shipit:").await?;
    assert_eq!(reactions(&alice.get(&room, sent.seq).await?), [("🎉", 2, true), (":shipit:", 1, true)]);
    assert_eq!(reactions(&bob.get(&room, sent.seq).await?), [("🎉", 2, true), (":shipit:", 1, false)]);

    let added = stream.messages(3).await?;
    let counts: Vec<(MessageKind, &str, i64)> = added
        .iter()
        .map(|m| (m.kind(), m.emoji.as_str(), m.reactions.first().map_or(-1, |r| r.count)))
        .collect();
    assert_eq!(counts, [
        (MessageKind::ReactionAdded, "🎉", 1),
        (MessageKind::ReactionAdded, "🎉", 2),
        (MessageKind::ReactionAdded, ":shipit:", 1)
    ]);
    assert!(added.iter().all(|m| m.target_seq == sent.seq));

    bob.unreact(&room, sent.seq, "🎉").await?;
    bob.unreact(&room, sent.seq, "🎉").await?; // a retry
    bob.unreact(&room, sent.seq, "🙈").await?; // never made
    let removed = stream.message().await?;
    assert_eq!((removed.kind(), removed.emoji.as_str(), removed.reactions[0].count), (
        MessageKind::ReactionRemoved,
        "🎉",
        1
    ));
    assert_eq!(reactions(&bob.get(&room, sent.seq).await?), [("🎉", 1, false), (":shipit:", 1, false)]);
    assert_eq!(alice.room(&room).await?.last_seq, removed.seq);

    // Concurrent reactions from one user: one counts.
    let tries = (0..8).map(|_| bob.react(&room, sent.seq, "❤️"));
    for result in futures::future::join_all(tries).await {
        result?;
    }
    let hearts = bob.get(&room, sent.seq).await?.reactions.into_iter().find(|r| r.emoji == "❤️").unwrap();
    assert_eq!(hearts.count, 1);

    // Emoji validated.
    for emoji in ["", "ab", "👍👍", ":no spaces:", &format!(":{}:", "a".repeat(33)), "<b>"] {
        let status = expect_code(bob.react(&room, sent.seq, emoji).await, Code::InvalidArgument);
        assert!(status.message().contains("emoji"), "{emoji:?}: {status:?}");
    }
    // Family emoji (one grapheme of several code points) and flags are one emoji.
    bob.react(&room, sent.seq, "👨‍👩‍👧").await?;
    bob.react(&room, sent.seq, "🇫🇷").await?;

    // No reactions on a deleted message; taking one back is fine.
    alice.delete(&room, sent.seq).await?;
    let status = expect_code(bob.react(&room, sent.seq, "🎉").await, Code::FailedPrecondition);
    assert_eq!(reason(&status), "MESSAGE_DELETED");
    bob.unreact(&room, sent.seq, "❤️").await?;
    Ok(())
});

db_test!(async fn mentions_name_members_by_username_not_inside_words(t) {
    let server = TestServer::start(t).await?;
    let (alice, bob, room) = room_of_two(&server).await?;
    let carol = server.register("carol").await?; // not a member
    let text = "@BOB, @ａｌｉｃｅ and mail@bob.example and @carol and @nobody: @bob again";
    let sent = alice.send(&room, text).await?;
    let mut mentioned = sent.mentions.clone();
    mentioned.sort();
    let mut expected = vec![alice.user.id.clone(), bob.user.id.clone()];
    expected.sort();
    assert_eq!(mentioned, expected);
    assert!(!sent.mentions.contains(&carol.user.id));
    assert_eq!(bob.get(&room, sent.seq).await?.mentions.len(), 2);

    // Re-derived on edit.
    let edited = alice.edit(&room, sent.seq, "never mind, just @bob", "").await?;
    assert_eq!(edited.mentions, vec![bob.user.id.clone()]);
    let entry = bob.timeline(&room).await?.into_iter().last().unwrap();
    assert_eq!((entry.kind(), entry.mentions.clone()), (MessageKind::Edit, vec![bob.user.id.clone()]));
    let edited = alice.edit(&room, sent.seq, "nobody", "").await?;
    assert!(edited.mentions.is_empty());
    Ok(())
});

db_test!(async fn non_members_are_refused_as_for_reading(t) {
    let server = TestServer::start(t).await?;
    let (alice, _bob, room) = room_of_two(&server).await?;
    let secret = alice.create_room("secret", Visibility::Private).await?.id;
    let m = alice.send(&room, "public").await?;
    let s = alice.send(&secret, "private").await?;
    let eve = server.register("eve").await?;

    for (r, seq, code) in [(&room, m.seq, Code::PermissionDenied), (&secret, s.seq, Code::NotFound)] {
        expect_code(eve.get(r, seq).await, code);
        expect_code(eve.edit(r, seq, "x", "").await, code);
        expect_code(eve.delete(r, seq).await, code);
        expect_code(eve.react(r, seq, "👍").await, code);
        expect_code(eve.unreact(r, seq, "👍").await, code);
        expect_code(eve.typing(r, true).await, code);
        expect_code(eve.reply(r, "x", seq).await, code);
    }
    // A seq of the public room is not a message of the private one.
    let status = expect_code(alice.get(&secret, m.seq + 100).await, Code::NotFound);
    assert_eq!(reason(&status), "MESSAGE_NOT_FOUND");
    Ok(())
});

db_test!(async fn resume_and_history_agree_across_actions(t) {
    let server = TestServer::start(t).await?;
    let (alice, bob, room) = room_of_two(&server).await?;
    let start = alice.room(&room).await?.last_seq;
    let mut live = bob.subscribe(&[(&room, start)]).await?;
    let a = alice.send(&room, "a").await?;
    let b = bob.reply(&room, "b", a.seq).await?;
    alice.edit(&room, a.seq, "a2", "").await?;
    bob.react(&room, a.seq, "👀").await?;
    // Bob drops here; what follows he resumes from history and a new stream.
    let seen = live.messages(4).await?;
    drop(live);
    alice.delete(&room, b.seq).await?;
    bob.unreact(&room, a.seq, "👀").await?;
    alice.send(&room, "c").await?;
    alice.edit(&room, a.seq, "a3", "").await?;
    let mut resumed = bob.subscribe(&[(&room, seen.last().unwrap().seq)]).await?;
    let rest = resumed.messages(4).await?;
    let streamed: Vec<(i64, MessageKind)> = seen.iter().chain(&rest).map(|m| (m.seq, m.kind())).collect();
    let expected: Vec<i64> = (start + 1..=start + 8).collect();
    assert_eq!(streamed.iter().map(|s| s.0).collect::<Vec<_>>(), expected);
    assert_eq!(streamed.iter().map(|s| s.1).collect::<Vec<_>>(), [
        MessageKind::Text,
        MessageKind::Text,
        MessageKind::Edit,
        MessageKind::ReactionAdded,
        MessageKind::Delete,
        MessageKind::ReactionRemoved,
        MessageKind::Text,
        MessageKind::Edit,
    ]);
    // History gives the same entries in the same order; text messages in their current state.
    let listed = bob.entries_after(&room, start).await?;
    assert_eq!(listed.iter().map(|m| (m.seq, m.kind())).collect::<Vec<_>>(), streamed);
    assert_eq!(listed[0].body, "a3");
    assert!(listed[1].deleted_at.is_some());
    // Applying the stream's actions in order gives the same current state as history.
    assert_eq!(rest.last().unwrap().body, "a3");
    Ok(())
});

db_test!(async fn typing_reaches_co_members_lapses_and_ends_with_a_send(t) {
    let server = TestServer::start(t).await?;
    let (alice, bob, room) = room_of_two(&server).await?;
    let start = alice.room(&room).await?.last_seq;
    let mut bobs = bob.subscribe(&[(&room, start)]).await?;
    let mut alices = alice.subscribe(&[(&room, start)]).await?;

    let typing_of = |e: Event| match e {
        Event::Typing(t) => Some(t),
        _ => None,
    };
    alice.typing(&room, true).await?;
    let t = bobs.next_where(typing_of).await?;
    assert_eq!((t.room_id.as_str(), t.user_id.as_str(), t.username.as_str(), t.typing), (
        room.as_str(),
        alice.user.id.as_str(),
        "alice",
        true
    ));
    let expires = t.expires_at.unwrap();
    let now = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH)?.as_secs() as i64;
    assert!((now + 2..=now + 10).contains(&expires.seconds), "expires in a few seconds: {expires:?} at {now}");
    // Renewals soon after are folded: the next typing event bob sees is the one that ends it, after
    // alice's message (which comes first).
    alice.typing(&room, true).await?;
    alice.typing(&room, true).await?;
    let sent = alice.send(&room, "done typing").await?;
    let mut after = Vec::new();
    while after.len() < 2 {
        match bobs.next().await? {
            Event::Typing(t) => after.push(format!("typing:{}", t.typing)),
            Event::Message(m) => after.push(format!("message:{}", m.seq)),
            _ => {}
        }
    }
    assert_eq!(after, [format!("message:{}", sent.seq), "typing:false".to_owned()]);
    // Alice's own stream never shows her typing; it does show her message.
    let first = alices.next_where(|e| matches!(e, Event::Typing(_) | Event::Message(_)).then_some(e)).await?;
    assert!(matches!(first, Event::Message(m) if m.seq == sent.seq));

    // Typing is not stored: no seq used.
    assert_eq!(alice.room(&room).await?.last_seq, sent.seq);
    // Stopping explicitly.
    bob.typing(&room, true).await?;
    bob.typing(&room, false).await?;
    let events: Vec<bool> = [alices.next_where(typing_of).await?, alices.next_where(typing_of).await?]
        .iter()
        .map(|t| t.typing)
        .collect();
    assert_eq!(events, [true, false]);
    Ok(())
});

db_test!(async fn typing_is_rate_limited(t) {
    // The default limits: 5 a second, bursts of 20.
    let server = TestServer::start_with(t, |c| c.rates = gateway::RateConfig::default()).await?;
    let (alice, _bob, room) = room_of_two(&server).await?;
    let mut limited = None;
    for _ in 0..40 {
        if let Err(status) = alice.typing(&room, false).await {
            limited = Some(status);
            break;
        }
    }
    let status = limited.expect("some call refused");
    assert_eq!(status.code(), Code::ResourceExhausted);
    assert_eq!(reason(&status), "RATE_LIMITED");
    tokio::time::sleep(Duration::from_millis(1100)).await;
    alice.typing(&room, true).await?;
    Ok(())
});

db_test!(async fn typing_renewed_after_the_fold_window_moves_its_expiry(t) {
    let server = TestServer::start(t).await?;
    let (alice, bob, room) = room_of_two(&server).await?;
    let start = alice.room(&room).await?.last_seq;
    let mut bobs = bob.subscribe(&[(&room, start)]).await?;
    let typing_of = |e: Event| match e {
        Event::Typing(t) => Some(t),
        _ => None,
    };
    alice.typing(&room, true).await?;
    let first = bobs.next_where(typing_of).await?.expires_at.unwrap();
    // Still typing a few seconds later: a renewal, announced, with a later expiry.
    tokio::time::sleep(Duration::from_millis(3200)).await;
    alice.typing(&room, true).await?;
    let renewed = bobs.next_where(typing_of).await?;
    assert!(renewed.typing);
    let renewed = renewed.expires_at.unwrap();
    assert!((renewed.seconds, renewed.nanos) > (first.seconds, first.nanos), "{first:?} then {renewed:?}");
    Ok(())
});
