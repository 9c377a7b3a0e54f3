//! chat.v1.RoomService end to end: issue #4's rules.

use std::collections::HashSet;

use api::v1::{
    CreateRoomRequest, GetDirectRoomRequest, LeaveRoomRequest, ListMembersRequest, ListMessagesRequest,
    ListRoomsRequest, ListRoomsScope, MessageKind, RemoveMemberRequest, Role, RoomKind, SetMemberRoleRequest,
    SubscribeRequest, Visibility,
};
use testkit::db_test;
use tonic::Code;
use tonic_types::StatusExt as _;

use crate::support::{Client, Register as _, TestServer, expect_code};

async fn leave(c: &Client, room: &str) -> Result<(), tonic::Status> {
    c.rooms().leave_room(c.req(LeaveRoomRequest { room_id: room.into() })).await.map(|_| ())
}

async fn remove(c: &Client, room: &str, user: &str) -> Result<(), tonic::Status> {
    c.rooms().remove_member(c.req(RemoveMemberRequest { room_id: room.into(), user_id: user.into() })).await.map(|_| ())
}

async fn set_role(c: &Client, room: &str, user: &str, role: Role) -> Result<(), tonic::Status> {
    let request = SetMemberRoleRequest { room_id: room.into(), user_id: user.into(), role: role.into() };
    c.rooms().set_member_role(c.req(request)).await.map(|_| ())
}

async fn direct(c: &Client, username: &str) -> Result<api::v1::Room, tonic::Status> {
    let r = c.rooms().get_direct_room(c.req(GetDirectRoomRequest { username: username.into() })).await?;
    Ok(r.into_inner().room.unwrap_or_default())
}

async fn list(
    c: &Client,
    scope: ListRoomsScope,
    page_size: i32,
    token: &str,
    filter: &str,
) -> Result<(Vec<api::v1::Room>, String), tonic::Status> {
    let request =
        ListRoomsRequest { scope: scope.into(), page_size, page_token: token.into(), name_filter: filter.into() };
    let page = c.rooms().list_rooms(c.req(request)).await?.into_inner();
    Ok((page.rooms, page.next_page_token))
}

/// Every page of a listing, following next_page_token.
async fn list_all(
    c: &Client,
    scope: ListRoomsScope,
    page_size: i32,
    filter: &str,
) -> anyhow::Result<(Vec<String>, usize)> {
    let (mut ids, mut token, mut pages) = (Vec::new(), String::new(), 0);
    loop {
        let (rooms, next) = list(c, scope, page_size, &token, filter).await?;
        assert!(rooms.len() <= page_size as usize);
        pages += 1;
        ids.extend(rooms.into_iter().map(|r| r.id));
        if next.is_empty() {
            return Ok((ids, pages));
        }
        token = next;
    }
}

fn role_of(members: &[api::v1::Member], username: &str) -> Option<Role> {
    members.iter().find(|m| m.user.as_ref().is_some_and(|u| u.username == username)).map(|m| m.role())
}

db_test!(async fn creating_a_room_validates_it_and_makes_the_caller_owner(t) {
    let server = TestServer::start(t).await?;
    let alice = server.register("alice").await?;
    let cases = [
        (CreateRoomRequest { name: String::new(), topic: String::new(), visibility: Visibility::Public.into() }, "name", "must be 1 to 100 characters, not all spaces (is 0)"),
        (CreateRoomRequest { name: "   ".into(), topic: String::new(), visibility: Visibility::Public.into() }, "name", "must be 1 to 100 characters, not all spaces (is 3)"),
        (CreateRoomRequest { name: "n".repeat(101), topic: String::new(), visibility: Visibility::Public.into() }, "name", "must be 1 to 100 characters, not all spaces (is 101)"),
        (CreateRoomRequest { name: "ok".into(), topic: "t".repeat(1001), visibility: Visibility::Public.into() }, "topic", "must be at most 1000 characters (is 1001)"),
        (CreateRoomRequest { name: "ok".into(), topic: String::new(), visibility: Visibility::Unspecified.into() }, "visibility", "must be VISIBILITY_PUBLIC or VISIBILITY_PRIVATE"),
    ];
    for (request, field, description) in cases {
        let status = expect_code(alice.rooms().create_room(alice.req(request)).await, Code::InvalidArgument);
        let violations = status.get_details_bad_request().expect("BadRequest").field_violations;
        assert_eq!(violations.len(), 1, "{violations:?}");
        assert_eq!((violations[0].field.as_str(), violations[0].description.as_str()), (field, description));
    }

    let room = alice.create_room(&"é".repeat(100), Visibility::Private).await?;
    assert_eq!(room.owner_id, alice.user.id);
    assert_eq!(room.member_count, 1);
    assert_eq!(room.caller_role(), Role::Owner);
    assert_eq!(room.kind(), RoomKind::Group);
    assert_eq!(room.visibility(), Visibility::Private);
    assert_eq!(room.last_seq, 1, "the owner's join is the first entry");
    let timeline = alice.timeline(&room.id).await?;
    assert_eq!(timeline.len(), 1);
    assert_eq!(timeline[0].kind(), MessageKind::MemberJoined);
    assert_eq!(timeline[0].member.as_ref().map(|m| m.role()), Some(Role::Owner));
    Ok(())
});

db_test!(async fn a_private_room_is_indistinguishable_from_a_missing_one(t) {
    let server = TestServer::start(t).await?;
    let alice = server.register("alice").await?;
    let mallory = server.register("mallory").await?;
    let private = alice.create_room("secret", Visibility::Private).await?.id;
    let missing = uuid::Uuid::now_v7().to_string();

    // Every call a stranger can make, on the private room and on a room that does not exist.
    let probe = async |room: &str| -> Vec<(Code, String)> {
        let mut answers = Vec::new();
        let mut record = |r: Result<(), tonic::Status>| {
            let status = r.err().unwrap_or_else(|| tonic::Status::ok("unexpected success"));
            answers.push((status.code(), status.message().to_owned()));
        };
        record(mallory.room(room).await.map(|_| ()));
        record(mallory.join(room).await.map(|_| ()));
        record(leave(&mallory, room).await);
        record(mallory.invite(room, "alice").await);
        record(mallory.invite(room, "no-such-user").await);
        record(mallory.members(room).await.map(|_| ()));
        record(remove(&mallory, room, &alice.user.id).await);
        record(set_role(&mallory, room, &alice.user.id, Role::Admin).await);
        record(mallory.send(room, "hi").await.map(|_| ()));
        record(mallory.messages().list_messages(mallory.req(ListMessagesRequest { room_id: room.into(), ..Default::default() })).await.map(|_| ()));
        record(mallory.subscribe(&[(room, 0)]).await.map(|_| ()));
        record(mallory.presence().list_online_users(mallory.req(api::v1::ListOnlineUsersRequest { room_id: room.into() })).await.map(|_| ()));
        answers
    };
    let for_private = probe(&private).await;
    let for_missing = probe(&missing).await;
    assert_eq!(for_private, for_missing);
    assert!(for_private.iter().all(|(code, message)| *code == Code::NotFound && message == "room not found"), "{for_private:?}");

    // Nor does the directory show it.
    let (public, _) = list_all(&mallory, ListRoomsScope::Public, 50, "").await?;
    assert!(!public.contains(&private));
    Ok(())
});

db_test!(async fn public_rooms_are_listed_and_open_to_everyone(t) {
    let server = TestServer::start(t).await?;
    let alice = server.register("alice").await?;
    let bob = server.register("bob").await?;
    let lobby = alice.create_room("Lobby", Visibility::Public).await?;
    let (public, _) = list_all(&bob, ListRoomsScope::Public, 50, "").await?;
    assert_eq!(public, vec![lobby.id.clone()]);

    // A non-member may look, but not read, list members or invite.
    assert_eq!(bob.room(&lobby.id).await?.caller_role(), Role::Unspecified);
    let status = expect_code(bob.members(&lobby.id).await, Code::PermissionDenied);
    assert_eq!(status.message(), "you are not a member of this room; join it first");
    expect_code(bob.invite(&lobby.id, "alice").await, Code::PermissionDenied);
    expect_code(bob.send(&lobby.id, "hi").await, Code::PermissionDenied);

    let joined = bob.join(&lobby.id).await?;
    assert_eq!(joined.member_count, 2);
    assert_eq!(joined.caller_role(), Role::Member);
    // Joining again changes nothing.
    assert_eq!(bob.join(&lobby.id).await?.member_count, 2);
    let (mine, _) = list_all(&bob, ListRoomsScope::Joined, 50, "").await?;
    assert_eq!(mine, vec![lobby.id.clone()]);
    Ok(())
});

db_test!(async fn invitations_open_private_rooms(t) {
    let server = TestServer::start(t).await?;
    let alice = server.register("alice").await?;
    let bob = server.register("bob").await?;
    let carol = server.register("carol").await?;
    let room = alice.create_room("plans", Visibility::Private).await?.id;

    expect_code(bob.join(&room).await, Code::NotFound);
    alice.invite(&room, "BOB").await?;
    alice.invite(&room, "bob").await?; // twice is harmless
    let status = expect_code(alice.invite(&room, "nobody").await, Code::NotFound);
    assert_eq!(status.message(), "no user is called \"nobody\"");
    let status = expect_code(alice.invite(&room, "alice").await, Code::AlreadyExists);
    assert_eq!(status.message(), "alice is already a member of this room");

    // The invitee can see the room and finds it among their invitations, once.
    assert_eq!(bob.room(&room).await?.name, "plans");
    let (invited, _) = list_all(&bob, ListRoomsScope::Invited, 50, "").await?;
    assert_eq!(invited, vec![room.clone()]);
    // Others still cannot.
    expect_code(carol.room(&room).await, Code::NotFound);

    bob.join(&room).await?;
    let (invited, _) = list_all(&bob, ListRoomsScope::Invited, 50, "").await?;
    assert!(invited.is_empty(), "the invitation is used up");
    // Any member may invite.
    bob.invite(&room, "carol").await?;
    carol.join(&room).await?;

    let kinds: Vec<MessageKind> = alice.timeline(&room).await?.iter().map(|m| m.kind()).collect();
    assert_eq!(
        kinds,
        [
            MessageKind::MemberJoined,
            MessageKind::MemberInvited,
            MessageKind::MemberJoined,
            MessageKind::MemberInvited,
            MessageKind::MemberJoined,
        ]
    );
    Ok(())
});

db_test!(async fn only_owners_and_admins_remove_and_nobody_removes_the_owner(t) {
    let server = TestServer::start(t).await?;
    let owner = server.register("owner").await?;
    let admin = server.register("admin").await?;
    let admin2 = server.register("admin2").await?;
    let member = server.register("member").await?;
    let other = server.register("other").await?;
    let room = owner.create_room("club", Visibility::Public).await?.id;
    for c in [&admin, &admin2, &member, &other] {
        c.join(&room).await?;
    }
    set_role(&owner, &room, &admin.user.id, Role::Admin).await?;
    set_role(&owner, &room, &admin2.user.id, Role::Admin).await?;

    let status = expect_code(remove(&member, &room, &other.user.id).await, Code::PermissionDenied);
    assert_eq!(status.message(), "only the owner and admins may remove members");
    let status = expect_code(remove(&admin, &room, &owner.user.id).await, Code::PermissionDenied);
    assert_eq!(status.message(), "nobody may remove the room's owner");
    let status = expect_code(remove(&admin, &room, &admin2.user.id).await, Code::PermissionDenied);
    assert_eq!(status.message(), "admins may not remove other admins; ask the owner");
    let status = expect_code(remove(&admin, &room, &admin.user.id).await, Code::InvalidArgument);
    assert!(status.message().contains("to leave a room use LeaveRoom"), "{}", status.message());
    let strangers_id = server.register("stranger").await?.user.id;
    let status = expect_code(remove(&admin, &room, &strangers_id).await, Code::NotFound);
    assert_eq!(status.message(), "that user is not a member of this room");

    remove(&admin, &room, &other.user.id).await?;
    remove(&owner, &room, &admin2.user.id).await?;
    let members = owner.members(&room).await?;
    assert_eq!(members.len(), 3);
    assert_eq!(role_of(&members, "other"), None);
    // A removed member cannot read any more, but may rejoin a public room.
    expect_code(other.send(&room, "hi").await, Code::PermissionDenied);
    other.join(&room).await?;
    let removed: Vec<_> = owner.timeline(&room).await?.into_iter().filter(|m| m.kind() == MessageKind::MemberRemoved).collect();
    assert_eq!(removed.len(), 2);
    assert_eq!(removed[0].sender_id, admin.user.id);
    assert_eq!(removed[0].member.as_ref().map(|m| m.user_id.as_str()), Some(other.user.id.as_str()));
    Ok(())
});

db_test!(async fn a_removed_member_needs_a_new_invitation_to_a_private_room(t) {
    let server = TestServer::start(t).await?;
    let alice = server.register("alice").await?;
    let bob = server.register("bob").await?;
    let room = alice.create_room("private", Visibility::Private).await?.id;
    alice.invite(&room, "bob").await?;
    bob.join(&room).await?;
    remove(&alice, &room, &bob.user.id).await?;
    expect_code(bob.room(&room).await, Code::NotFound);
    expect_code(bob.join(&room).await, Code::NotFound);
    alice.invite(&room, "bob").await?;
    bob.join(&room).await?;
    Ok(())
});

db_test!(async fn only_the_owner_changes_roles_and_can_hand_ownership_over(t) {
    let server = TestServer::start(t).await?;
    let alice = server.register("alice").await?;
    let bob = server.register("bob").await?;
    let carol = server.register("carol").await?;
    let room = alice.create_room("r", Visibility::Public).await?.id;
    bob.join(&room).await?;
    carol.join(&room).await?;
    set_role(&alice, &room, &bob.user.id, Role::Admin).await?;
    let status = expect_code(set_role(&bob, &room, &carol.user.id, Role::Admin).await, Code::PermissionDenied);
    assert_eq!(status.message(), "only the room's owner may change roles");
    expect_code(set_role(&alice, &room, &carol.user.id, Role::Unspecified).await, Code::InvalidArgument);
    expect_code(set_role(&alice, &room, &alice.user.id, Role::Member).await, Code::InvalidArgument);

    set_role(&alice, &room, &carol.user.id, Role::Owner).await?;
    let members = carol.members(&room).await?;
    assert_eq!(role_of(&members, "carol"), Some(Role::Owner));
    assert_eq!(role_of(&members, "alice"), Some(Role::Admin));
    assert_eq!(carol.room(&room).await?.owner_id, carol.user.id);
    expect_code(set_role(&alice, &room, &bob.user.id, Role::Member).await, Code::PermissionDenied);
    Ok(())
});

db_test!(async fn ownership_passes_to_the_longest_standing_admin_else_member(t) {
    let server = TestServer::start(t).await?;
    let owner = server.register("owner").await?;
    let early = server.register("early").await?;
    let admin = server.register("admin").await?;
    let late = server.register("late").await?;
    let room = owner.create_room("r", Visibility::Public).await?.id;
    for c in [&early, &admin, &late] {
        c.join(&room).await?;
    }
    set_role(&owner, &room, &admin.user.id, Role::Admin).await?;

    // An admin outranks a member who joined earlier.
    leave(&owner, &room).await?;
    assert_eq!(early.room(&room).await?.owner_id, admin.user.id);
    // With no admin left, the longest-standing member.
    leave(&admin, &room).await?;
    assert_eq!(early.room(&room).await?.owner_id, early.user.id);
    let members = late.members(&room).await?;
    assert_eq!(role_of(&members, "early"), Some(Role::Owner));

    // The last member leaving leaves an empty room that keeps its history.
    early.send(&room, "last words").await?;
    leave(&early, &room).await?;
    leave(&late, &room).await?;
    let status = expect_code(leave(&late, &room).await, Code::FailedPrecondition);
    assert_eq!(status.message(), "you are not a member of this room");
    let empty = late.room(&room).await?;
    assert_eq!((empty.member_count, empty.owner_id.as_str()), (0, ""));
    let back = late.join(&room).await?;
    assert_eq!(back.caller_role(), Role::Owner, "whoever joins an ownerless room owns it");
    let history = late.timeline(&room).await?;
    assert!(history.iter().any(|m| m.body == "last words"));
    let seqs: Vec<i64> = history.iter().map(|m| m.seq).collect();
    assert_eq!(seqs, (1..=seqs.len() as i64).collect::<Vec<_>>());
    let handovers: Vec<_> = history
        .iter()
        .filter(|m| m.kind() == MessageKind::MemberRoleChanged && m.member.as_ref().is_some_and(|s| s.role() == Role::Owner))
        .map(|m| m.member.as_ref().map(|s| s.username.clone()).unwrap_or_default())
        .collect();
    assert_eq!(handovers, ["admin", "early", "late"]);
    Ok(())
});

db_test!(async fn listings_page_through_every_room_exactly_once(t) {
    let server = TestServer::start(t).await?;
    let alice = server.register("alice").await?;
    let bob = server.register("bob").await?;
    let mut public = Vec::new();
    for i in 0..23 {
        public.push(alice.create_room(&format!("Room {i:02}"), Visibility::Public).await?.id);
        if i % 5 == 0 {
            alice.create_room(&format!("hidden {i}"), Visibility::Private).await?;
        }
    }
    for size in [1, 7, 23, 200] {
        let (ids, pages) = list_all(&bob, ListRoomsScope::Public, size, "").await?;
        assert_eq!(ids, public, "page size {size}");
        assert_eq!(pages, 23usize.div_ceil(size as usize).max(1));
    }
    // Joined listing, with rooms joined in another order than created.
    for id in public.iter().rev().step_by(2) {
        bob.join(id).await?;
    }
    let (joined, _) = list_all(&bob, ListRoomsScope::Joined, 4, "").await?;
    let expected: Vec<String> = public.iter().filter(|id| joined.contains(id)).cloned().collect();
    assert_eq!(joined, expected, "oldest room first");
    assert_eq!(joined.len(), 12);
    assert_eq!(joined.iter().collect::<HashSet<_>>().len(), 12);

    // The name filter ignores case and treats wildcards literally.
    let (filtered, _) = list_all(&bob, ListRoomsScope::Public, 3, "ROOM 1").await?;
    assert_eq!(filtered.len(), 10);
    let (none, _) = list_all(&bob, ListRoomsScope::Public, 3, "%").await?;
    assert!(none.is_empty());

    // A default page is 50; a bad token is refused.
    let (first, next) = list(&bob, ListRoomsScope::Public, 0, "", "").await?;
    assert_eq!((first.len(), next.as_str()), (23, ""));
    let (_, token) = list(&bob, ListRoomsScope::Public, 5, "", "").await?;
    let status = expect_code(list(&bob, ListRoomsScope::Joined, 5, &token, "").await, Code::InvalidArgument);
    assert!(status.message().contains("page_token"), "{}", status.message());
    expect_code(list(&bob, ListRoomsScope::Public, -1, "", "").await, Code::InvalidArgument);
    Ok(())
});

db_test!(async fn members_are_listed_in_join_order_across_pages(t) {
    let server = TestServer::start(t).await?;
    let owner = server.register("owner").await?;
    let room = owner.create_room("big", Visibility::Public).await?.id;
    let mut names = vec!["owner".to_owned()];
    for i in 0..11 {
        let name = format!("user{i:02}");
        server.register(&name).await?.join(&room).await?;
        names.push(name);
    }
    let mut seen = Vec::new();
    let mut token = String::new();
    loop {
        let request = ListMembersRequest { room_id: room.clone(), page_size: 5, page_token: token.clone() };
        let page = owner.rooms().list_members(owner.req(request)).await?.into_inner();
        seen.extend(page.members.iter().map(|m| m.user.as_ref().map(|u| u.username.clone()).unwrap_or_default()));
        assert!(page.members.iter().all(|m| m.joined_at.is_some()));
        if page.next_page_token.is_empty() {
            break;
        }
        token = page.next_page_token;
    }
    assert_eq!(seen, names);
    Ok(())
});

db_test!(async fn a_direct_room_is_one_private_room_per_pair(t) {
    let server = TestServer::start(t).await?;
    let alice = server.register("alice").await?;
    let bob = server.register("bob").await?;
    let carol = server.register("carol").await?;
    let room = direct(&alice, "Bob").await?;
    assert_eq!((room.kind(), room.visibility(), room.member_count), (RoomKind::Direct, Visibility::Private, 2));
    assert_eq!(room.direct_peer.as_ref().map(|u| u.username.as_str()), Some("bob"));
    let again = direct(&bob, "alice").await?;
    assert_eq!(again.id, room.id);
    assert_eq!(again.direct_peer.as_ref().map(|u| u.username.as_str()), Some("alice"));
    assert_eq!(direct(&alice, "bob").await?.id, room.id);

    expect_code(carol.room(&room.id).await, Code::NotFound);
    expect_code(direct(&alice, "alice").await, Code::InvalidArgument);
    expect_code(direct(&alice, "nobody").await, Code::NotFound);
    let status = expect_code(leave(&alice, &room.id).await, Code::FailedPrecondition);
    assert_eq!(status.message(), "direct conversations cannot be left");
    let status = expect_code(alice.invite(&room.id, "carol").await, Code::FailedPrecondition);
    assert_eq!(status.message(), "direct conversations cannot take more members");
    bob.send(&room.id, "hi alice").await?;
    let (joined, _) = list_all(&alice, ListRoomsScope::Joined, 10, "").await?;
    assert_eq!(joined, vec![room.id.clone()]);
    let (rooms, _) = list(&alice, ListRoomsScope::Joined, 10, "", "").await?;
    assert_eq!(rooms[0].direct_peer.as_ref().map(|u| u.username.as_str()), Some("bob"));
    Ok(())
});

db_test!(async fn simultaneous_joins_make_one_membership(t) {
    let server = TestServer::start(t).await?;
    let alice = server.register("alice").await?;
    let bob = server.register("bob").await?;
    let room = alice.create_room("r", Visibility::Public).await?.id;
    let joins = (0..12).map(|_| bob.join(&room));
    for result in futures::future::join_all(joins).await {
        result?;
    }
    assert_eq!(alice.room(&room).await?.member_count, 2);
    assert_eq!(alice.members(&room).await?.len(), 2);
    let joins = alice.timeline(&room).await?.into_iter().filter(|m| m.kind() == MessageKind::MemberJoined).count();
    assert_eq!(joins, 2, "one join entry each");
    Ok(())
});

db_test!(async fn simultaneous_direct_room_requests_make_one_room(t) {
    let server = TestServer::start(t).await?;
    let alice = server.register("alice").await?;
    let bob = server.register("bob").await?;
    let calls = (0..12).map(|i| if i % 2 == 0 { direct(&alice, "bob") } else { direct(&bob, "alice") });
    let ids: HashSet<String> = futures::future::join_all(calls).await.into_iter().map(|r| r.map(|room| room.id)).collect::<Result<_, _>>()?;
    assert_eq!(ids.len(), 1, "{ids:?}");
    let (rooms, _) = list(&alice, ListRoomsScope::Joined, 50, "", "").await?;
    assert_eq!(rooms.len(), 1);
    assert_eq!(rooms[0].member_count, 2);
    Ok(())
});

db_test!(async fn membership_changes_reach_live_subscribers(t) {
    let server = TestServer::start(t).await?;
    let alice = server.register("alice").await?;
    let bob = server.register("bob").await?;
    let room = alice.create_room("r", Visibility::Private).await?;
    let mut events = alice.subscribe(&[(&room.id, room.last_seq)]).await?;
    alice.invite(&room.id, "bob").await?;
    bob.join(&room.id).await?;
    set_role(&alice, &room.id, &bob.user.id, Role::Admin).await?;
    remove(&alice, &room.id, &bob.user.id).await?;
    let kinds: Vec<MessageKind> = events.messages(4).await?.iter().map(|m| m.kind()).collect();
    assert_eq!(kinds, [MessageKind::MemberInvited, MessageKind::MemberJoined, MessageKind::MemberRoleChanged, MessageKind::MemberRemoved]);
    let _ = SubscribeRequest::default();
    Ok(())
});

db_test!(async fn a_declined_invitation_ends_on_every_device_and_is_recorded(t) {
    use anyhow::Context as _;
    use api::v1::DeclineInvitationRequest;
    use api::v1::subscribe_response::Event;
    let server = TestServer::start(t).await?;
    let alice = server.register("alice").await?;
    let bob = server.register("bob").await?;
    let room = alice.create_room("plans", Visibility::Private).await?;
    let decline = |c: &Client, room: &str| {
        let request = c.req(DeclineInvitationRequest { room_id: room.into() });
        let mut rooms = c.rooms();
        async move { rooms.decline_invitation(request).await.map(|_| ()) }
    };

    // Without an invitation there is nothing to decline; a hidden room looks the same as none.
    let status = expect_code(decline(&bob, &room.id).await, Code::NotFound);
    assert_eq!(status.message(), "room not found");
    let public = alice.create_room("lobby", Visibility::Public).await?;
    let status = expect_code(decline(&bob, &public.id).await, Code::NotFound);
    assert_eq!(status.message(), "you have no pending invitation to this room");

    // Bob has two devices streaming; alice follows the room.
    let mut phone = bob.subscribe(&[]).await?;
    let mut laptop = bob.subscribe(&[]).await?;
    let mut members = alice.subscribe(&[(&room.id, room.last_seq)]).await?;
    alice.invite(&room.id, "bob").await?;
    for device in [&mut phone, &mut laptop] {
        device.next_where(|e| matches!(e, Event::InvitationReceived(_)).then_some(())).await?;
    }
    decline(&bob, &room.id).await?;
    for device in [&mut phone, &mut laptop] {
        let ended = device.next_where(|e| if let Event::InvitationEnded(e) = e { Some(e) } else { None }).await?;
        assert_eq!(ended.room_id, room.id);
    }

    // The room's timeline records it, live and in history.
    let kinds: Vec<MessageKind> = members.messages(2).await?.iter().map(|m| m.kind()).collect();
    assert_eq!(kinds, [MessageKind::MemberInvited, MessageKind::InvitationDeclined]);
    let last = alice.timeline(&room.id).await?.pop().context("empty timeline")?;
    assert_eq!(last.kind(), MessageKind::InvitationDeclined);
    assert_eq!(last.member.as_ref().map(|m| m.user_id.as_str()), Some(bob.user.id.as_str()));

    // It stays declined: no longer listed, the room is hidden again, joining needs a new invitation.
    let (invited, _) = list_all(&bob, ListRoomsScope::Invited, 50, "").await?;
    assert!(invited.is_empty());
    expect_code(bob.room(&room.id).await, Code::NotFound);
    expect_code(bob.join(&room.id).await, Code::NotFound);
    expect_code(decline(&bob, &room.id).await, Code::NotFound);
    alice.invite(&room.id, "bob").await?;
    bob.join(&room.id).await?;
    Ok(())
});
