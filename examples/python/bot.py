"""An echo bot for Parley: joins rooms, accepts invitations, and answers `!echo <text>` and `!time`.

    .venv/bin/python bot.py --server 127.0.0.1:50051 --join general

It signs in as --username (registering the account the first time), joins the public rooms named by --join,
joins every room it is invited to, and follows all its rooms on one Subscribe stream. When the stream drops
it subscribes again from the last seq it saw in each room, so it misses nothing; its replies use the
triggering message's id as client_message_id, so a message seen twice is still answered once.
"""

from __future__ import annotations

import argparse
import asyncio
import datetime
import os
import sys

import grpc

import parley
from parley import messages_pb2, rooms_pb2

# Failures after which the bot subscribes again (the server restarting, the network dropping).
RETRYABLE = {grpc.StatusCode.UNAVAILABLE, grpc.StatusCode.CANCELLED, grpc.StatusCode.DEADLINE_EXCEEDED,
             grpc.StatusCode.INTERNAL, grpc.StatusCode.UNKNOWN}


def log(line: str) -> None:
    print(f"[bot] {line}", flush=True)


def answer(body: str) -> str | None:
    """The bot's answer to a message's text, or None when it is not a command."""
    if body == "!echo" or body.startswith("!echo "):
        return body[len("!echo"):].strip() or "(nothing to echo)"
    if body.strip() == "!time":
        now = datetime.datetime.now(datetime.timezone.utc)
        return now.isoformat(timespec="seconds").replace("+00:00", "Z")
    return None


class EchoBot:
    """The bot's behaviour, on a signed-in session."""

    def __init__(self, session: parley.Session) -> None:
        self.session = session
        # Room id -> the last seq seen there: where a new stream resumes.
        self.cursors: dict[str, int] = {}
        self.answered = 0
        # Set once the first stream is open (from then on, invitations reach the bot).
        self.following = asyncio.Event()

    async def join_public(self, names: list[str]) -> None:
        """Joins the public rooms with these names."""
        wanted, token = set(names), ""
        while wanted:
            request = rooms_pb2.ListRoomsRequest(scope=rooms_pb2.LIST_ROOMS_SCOPE_PUBLIC, page_size=100,
                                                 page_token=token)
            page = await self.session.call(self.session.rooms.ListRooms, request)
            for room in page.rooms:
                if room.name in wanted:
                    await self.session.call(self.session.rooms.JoinRoom, rooms_pb2.JoinRoomRequest(room_id=room.id))
                    log(f"joined #{room.name}")
                    wanted.discard(room.name)
            token = page.next_page_token
            if not token:
                break
        for name in sorted(wanted):
            log(f"no public room named {name!r}")

    async def run(self) -> None:
        """Follows every room until cancelled, subscribing again after a dropped stream."""
        delay = 0.2
        while True:
            try:
                events = await self.session.subscribe(self.cursors or None)
                for cursor in events.ready.rooms:
                    self.cursors.setdefault(cursor.room_id, cursor.after_seq)
                log(f"following {len(events.ready.rooms)} rooms")
                self.following.set()
                delay = 0.2
                async for event in events:
                    await self.handle(event)
                log("stream ended; subscribing again")
            except grpc.aio.AioRpcError as e:
                if e.code() not in RETRYABLE:
                    raise
                log(f"stream failed ({e.code().name} {parley.reason(e) or '-'}); resuming in {delay:.1f}s")
                await asyncio.sleep(delay)
                delay = min(delay * 2, 5.0)
                await self.session.reconnect()

    async def handle(self, event: messages_pb2.SubscribeResponse) -> None:
        kind = event.WhichOneof("event")
        if kind == "invitation_received":
            room = event.invitation_received.room
            await self.session.call(self.session.rooms.JoinRoom, rooms_pb2.JoinRoomRequest(room_id=room.id))
            log(f"joined #{room.name} (invited by {event.invitation_received.inviter_username})")
        elif kind == "room_added":
            self.cursors.setdefault(event.room_added.room.id, event.room_added.after_seq)
        elif kind == "room_removed":
            self.cursors.pop(event.room_removed.room_id, None)
        elif kind == "message":
            await self.on_message(event.message)

    async def on_message(self, message: messages_pb2.Message) -> None:
        self.cursors[message.room_id] = max(self.cursors.get(message.room_id, 0), message.seq)
        assert self.session.user is not None
        if message.kind != messages_pb2.MESSAGE_KIND_TEXT or message.sender_id == self.session.user.id:
            return
        text = answer(message.body)
        if text is None:
            return
        request = messages_pb2.SendMessageRequest(room_id=message.room_id, body=text, reply_to_seq=message.seq,
                                                  client_message_id=f"re:{message.id}")
        await self.session.call(self.session.messages.SendMessage, request)
        self.answered += 1
        log(f"answered {message.sender_username}'s {message.body.split()[0]} (seq {message.seq})")


async def sign_in(session: parley.Session, username: str, password: str) -> None:
    """Logs in, or registers the account when there is none yet."""
    try:
        await session.login(username, password)
        log(f"signed in as {username}")
    except grpc.aio.AioRpcError as e:
        if parley.reason(e) != "BAD_CREDENTIALS":
            raise
        await session.register(username, password)
        log(f"registered {username}")


async def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--server", default=os.environ.get("PARLEY_SERVER", "127.0.0.1:50051"),
                        help="parleyd's address, HOST:PORT (env PARLEY_SERVER)")
    parser.add_argument("--username", default="echo-bot")
    parser.add_argument("--password", default=os.environ.get("PARLEY_BOT_PASSWORD", "echo-bot-password"),
                        help="(env PARLEY_BOT_PASSWORD)")
    parser.add_argument("--join", action="append", default=[], metavar="ROOM",
                        help="a public room to join, by name (repeatable)")
    args = parser.parse_args()
    session = parley.Session(args.server.removeprefix("http://"))
    try:
        await sign_in(session, args.username, args.password)
        bot = EchoBot(session)
        await bot.join_public(args.join)
        await bot.run()
    except grpc.aio.AioRpcError as e:
        sys.exit(f"{e.code().name} {parley.reason(e)}: {e.details()}")
    finally:
        await session.close()


if __name__ == "__main__":
    try:
        asyncio.run(main())
    except KeyboardInterrupt:
        pass
