"""A scripted tour of Parley's client contract, with the echo bot: run against a real parleyd, it fails loudly
(exit status 1) on the first broken promise, and prints one `ok <step>: ...` line per step that held.

    .venv/bin/python scenario.py --server 127.0.0.1:50051

Start parleyd with a short access-token lifetime (`--access-token-ttl 2s`) to see the token refresh: the
step waits for the token to expire, at most --max-token-wait seconds. Usernames get a random suffix, so the
scenario can run again and again against one server (mind parleyd's Register rate limit, 5 at once per
address: `--rate-limits off` lifts it on a test server).
"""

from __future__ import annotations

import argparse
import asyncio
import datetime
import os
import secrets
import sys

import grpc

import parley
from bot import EchoBot
from parley import auth_pb2, messages_pb2, presence_pb2, rooms_pb2

# How long to wait for any one expected event.
WAIT = 10.0


def ok(step: str, what: str) -> None:
    print(f"ok {step}: {what}", flush=True)


def check(condition: bool, failure: str) -> None:
    if not condition:
        raise AssertionError(failure)


async def expect_error(call: object, code: grpc.StatusCode, wanted: str) -> parley.Details:
    """Awaits `call`, which must fail with `code` and ErrorInfo reason `wanted`; returns the error's details."""
    try:
        await call  # type: ignore[misc]
    except grpc.aio.AioRpcError as e:
        found = parley.details(e)
        check(e.code() == code and found.reason == wanted,
              f"expected {code.name} {wanted}, got {e.code().name} {found.reason}: {e.details()}")
        check(found.domain == "parley.chat", f"ErrorInfo domain is {found.domain!r}")
        return found
    raise AssertionError(f"expected {code.name} {wanted}, but the call succeeded")


def message_in(room_id: str, pick=lambda m: True):
    """A `next_where` picker for timeline entries of one room that `pick` accepts."""
    def choose(event: messages_pb2.SubscribeResponse):
        if event.WhichOneof("event") == "message" and event.message.room_id == room_id and pick(event.message):
            return event.message
        return None
    return choose


def presence_of(user_id: str, status: int):
    def choose(event: messages_pb2.SubscribeResponse):
        if event.WhichOneof("event") == "presence_changed":
            p = event.presence_changed.presence
            if p.user.id == user_id and p.status == status:
                return p
        return None
    return choose


async def send(session: parley.Session, room_id: str, body: str, client_id: str | None = None
               ) -> messages_pb2.Message:
    request = messages_pb2.SendMessageRequest(room_id=room_id, body=body,
                                              client_message_id=client_id or secrets.token_hex(8))
    return (await session.call(session.messages.SendMessage, request)).message


async def run(server: str, max_token_wait: float) -> None:
    suffix = secrets.token_hex(3)
    alice, bob, robot = (parley.Session(server) for _ in range(3))
    sessions = [alice, bob, robot]
    tasks: list[asyncio.Task] = []
    try:
        await alice.register(f"alice-{suffix}", "alice's password")
        await bob.register(f"bob-{suffix}", "bob's password")
        await robot.register(f"echo-bot-{suffix}", "the bot's password")
        ok("register", f"alice-{suffix}, bob-{suffix} and echo-bot-{suffix}")

        taken = robot.auth.Register(auth_pb2.RegisterRequest(
            username=f"ALICE-{suffix}", email=f"other-{suffix}@example.com", password="another password"))
        await expect_error(taken, grpc.StatusCode.ALREADY_EXISTS, "USERNAME_TAKEN")
        bad = robot.auth.Register(auth_pb2.RegisterRequest(username=f"carol-{suffix}", email="not an address",
                                                           password="carol's password"))
        found = await expect_error(bad, grpc.StatusCode.INVALID_ARGUMENT, "FIELD_INVALID")
        check("email" in found.fields, f"BadRequest names {sorted(found.fields)}, not email")
        ok("reasons", f"USERNAME_TAKEN for a taken username (any case); FIELD_INVALID naming email "
                      f"({found.fields['email']})")

        create = rooms_pb2.CreateRoomRequest(name=f"crew-{suffix}", topic="the scenario's room",
                                             visibility=rooms_pb2.VISIBILITY_PRIVATE)
        room = (await alice.call(alice.rooms.CreateRoom, create)).room
        ok("private room", f"#{room.name} created by alice")

        join = rooms_pb2.JoinRoomRequest(room_id=room.id)
        await expect_error(bob.rooms.JoinRoom(join, metadata=bob.metadata()), grpc.StatusCode.NOT_FOUND,
                           "ROOM_NOT_FOUND")
        ok("not invited", "bob's JoinRoom fails with NOT_FOUND ROOM_NOT_FOUND before an invitation")

        # The bot follows its rooms and joins where it is invited, as it does when run by hand.
        bot = EchoBot(robot)
        tasks.append(asyncio.create_task(bot.run()))
        await alice.call(alice.rooms.InviteMember, rooms_pb2.InviteMemberRequest(room_id=room.id,
                                                                                 username=bob.user.username))
        joined = (await bob.call(bob.rooms.JoinRoom, join)).room
        check(joined.caller_role == rooms_pb2.ROLE_MEMBER, f"bob's role is {joined.caller_role}")
        # The bot's stream must be up before its invitation, or it would never hear of it.
        await asyncio.wait_for(bot.following.wait(), WAIT)
        await alice.call(alice.rooms.InviteMember, rooms_pb2.InviteMemberRequest(room_id=room.id,
                                                                                 username=robot.user.username))

        # Bob follows the room from its start: the replay holds its creation, invitations and joins.
        events = await bob.subscribe({room.id: 0})
        bot_joined = await events.next_where(message_in(
            room.id, lambda m: m.kind == messages_pb2.MESSAGE_KIND_MEMBER_JOINED and m.member.user_id == robot.user.id))
        ok("invite and join", f"bob joined after alice's invitation; the bot joined by itself (seq {bot_joined.seq})")
        last_seen = bot_joined.seq
        ok("subscribe", f"bob's stream replayed the room from seq 1 to {last_seen}")

        client_id = f"hello-{suffix}"
        first = await send(alice, room.id, "hello, crew", client_id)
        again = await send(alice, room.id, "hello, crew", client_id)
        check(again.seq == first.seq and again.id == first.id, f"retry stored seq {again.seq}, first {first.seq}")
        page = await bob.call(bob.messages.ListMessages, messages_pb2.ListMessagesRequest(room_id=room.id))
        copies = [m for m in page.messages if m.client_message_id == client_id]
        check(len(copies) == 1, f"the timeline holds {len(copies)} copies of the message")
        got = await events.next_where(message_in(room.id, lambda m: m.kind == messages_pb2.MESSAGE_KIND_TEXT))
        check(got.seq == first.seq, f"bob's stream delivered seq {got.seq}, expected {first.seq}")
        last_seen = got.seq
        ok("send retry", f"the retried send returned seq {first.seq} again; the timeline and bob's stream hold it once")

        alice_events = await alice.subscribe()
        await events.next_where(presence_of(alice.user.id, presence_pb2.PRESENCE_STATUS_ONLINE))
        online = await bob.call(bob.presence.ListOnlineUsers, presence_pb2.ListOnlineUsersRequest(room_id=room.id))
        check(alice.user.id in {p.user.id for p in online.users}, "alice is not listed online")
        await alice.call(alice.presence.SetPresence, presence_pb2.SetPresenceRequest(
            status=presence_pb2.PRESENCE_STATUS_AWAY))
        await events.next_where(presence_of(alice.user.id, presence_pb2.PRESENCE_STATUS_AWAY))
        ok("presence", "bob saw alice come online, listed her, and saw her turn away")
        alice_events.cancel()

        # Bob's connection drops (the channel closes, as a network failure would end it); alice goes on.
        await bob.reconnect()
        missed = [(await send(alice, room.id, f"while bob was away #{i}")).seq for i in range(3)]
        events = await bob.subscribe({room.id: last_seen})
        replay = [await events.next_where(message_in(room.id)) for _ in missed]
        live = await send(alice, room.id, "welcome back, bob")
        after = await events.next_where(message_in(room.id))
        seqs = [m.seq for m in replay] + [after.seq]
        check(seqs == list(range(last_seen + 1, live.seq + 1)),
              f"after seq {last_seen} bob got {seqs}, expected {last_seen + 1}..{live.seq}")
        last_seen = after.seq
        ok("resume", f"bob resumed after seq {seqs[0] - 1}, got {missed[0]}..{missed[-1]} once each, "
                     f"then live seq {after.seq}")

        asked = await send(bob, room.id, "!echo hello from bob")
        reply = await events.next_where(message_in(room.id, lambda m: m.reply_to_seq == asked.seq))
        check(reply.sender_id == robot.user.id and reply.body == "hello from bob", f"unexpected reply {reply}")
        asked = await send(bob, room.id, "!time")
        reply = await events.next_where(message_in(room.id, lambda m: m.reply_to_seq == asked.seq))
        said = datetime.datetime.fromisoformat(reply.body.replace("Z", "+00:00"))
        drift = abs((datetime.datetime.now(datetime.timezone.utc) - said).total_seconds())
        check(drift < 60, f"the bot's time {reply.body} is {drift:.0f}s off")
        ok("bot", f"the bot answered !echo with the text and !time with {reply.body}")

        # Let alice's access token expire, and call with it: the server says why, the session refreshes. The
        # server accepts a token a few seconds past its expiry (leeway for clocks that disagree), so keep
        # calling until it refuses.
        expires = alice.tokens.access_token_expires_at.ToDatetime(tzinfo=datetime.timezone.utc)
        wait = (expires - datetime.datetime.now(datetime.timezone.utc)).total_seconds()
        if wait > max_token_wait:
            raise AssertionError(f"alice's access token lives {wait:.0f}s more; start parleyd with "
                                 f"--access-token-ttl 2s, or pass --max-token-wait {wait + 1:.0f}")
        await asyncio.sleep(max(wait, 0))
        while True:
            try:
                await alice.auth.GetMe(auth_pb2.GetMeRequest(), metadata=alice.metadata())
            except grpc.aio.AioRpcError as e:
                check(e.code() == grpc.StatusCode.UNAUTHENTICATED and parley.reason(e) == "TOKEN_EXPIRED",
                      f"expected UNAUTHENTICATED TOKEN_EXPIRED, got {e.code().name} {parley.reason(e)}")
                break
            late = (datetime.datetime.now(datetime.timezone.utc) - expires).total_seconds()
            check(late < 30, f"the access token is still accepted {late:.0f}s after it expired")
            await asyncio.sleep(0.25)
        late = (datetime.datetime.now(datetime.timezone.utc) - expires).total_seconds()
        refreshes = alice.refreshes
        me = (await alice.call(alice.auth.GetMe, auth_pb2.GetMeRequest())).user
        check(me.id == alice.user.id and alice.refreshes == refreshes + 1, "the session did not refresh")
        ok("token refresh", f"the token, refused {late:.1f}s after its expiry with UNAUTHENTICATED TOKEN_EXPIRED, "
                            "was refreshed by the session and the call went through")

        # A refresh token is single-use: presenting a spent one is taken as theft and ends the session.
        spent = alice.spent_refresh_tokens[-1]
        await expect_error(alice.auth.RefreshToken(auth_pb2.RefreshTokenRequest(refresh_token=spent)),
                           grpc.StatusCode.UNAUTHENTICATED, "REFRESH_TOKEN_REUSED")
        ok("refresh reuse", "the spent refresh token is refused with REFRESH_TOKEN_REUSED")

        check(not tasks[0].done(), f"the bot stopped: {tasks[0]}")
        print("scenario passed", flush=True)
    finally:
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
        for session in sessions:
            await session.close()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--server", default=os.environ.get("PARLEY_SERVER", "127.0.0.1:50051"),
                        help="parleyd's address, HOST:PORT (env PARLEY_SERVER)")
    parser.add_argument("--max-token-wait", type=float, default=10.0, metavar="SECONDS",
                        help="longest wait for an access token to expire")
    args = parser.parse_args()
    try:
        asyncio.run(run(args.server.removeprefix("http://"), args.max_token_wait))
    except grpc.aio.AioRpcError as e:
        found = parley.details(e)
        sys.exit(f"FAILED: {e.code().name} {found.reason or '-'}: {e.details()}"
                 + (f" (retry after {found.retry_after:.0f}s)" if found.retry_after else ""))
    except (AssertionError, asyncio.TimeoutError, TimeoutError) as e:
        sys.exit(f"FAILED: {e!r}")


if __name__ == "__main__":
    main()
