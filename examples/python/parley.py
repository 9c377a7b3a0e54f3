"""A small Parley client on grpcio: generated stubs, a session that refreshes its own tokens, error reasons.

The stubs are generated from the repository's `proto/` when first needed, by grpcio-tools, into
`gen/<hash of the protos>/` beside this file (ignored by git): a changed proto gets a fresh directory, and two
processes generating at once cannot see each other's half-written files. `PARLEY_PROTO_DIR` points elsewhere
(a copy of `proto/` outside this repository).

Every Parley error carries a `google.rpc.ErrorInfo` in the `grpc-status-details-bin` trailer; `reason()`
reads it. Clients branch on that word (listed in proto/chat/v1/errors.proto), never on message text.
"""

from __future__ import annotations

import asyncio
import hashlib
import importlib.resources
import os
import shutil
import sys
import tempfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Awaitable, Callable, TypeVar

import grpc
from google.rpc import error_details_pb2, status_pb2

HERE = Path(__file__).resolve().parent
PROTO_DIR = Path(os.environ.get("PARLEY_PROTO_DIR", HERE.parent.parent / "proto"))


def _generate() -> Path:
    """Generates the chat.v1 stubs (if these protos have not been generated before) and returns where."""
    from grpc_tools import protoc

    files = sorted(PROTO_DIR.glob("chat/v1/*.proto"))
    if not files:
        raise SystemExit(f"no protos under {PROTO_DIR}/chat/v1 (set PARLEY_PROTO_DIR)")
    digest = hashlib.sha256()
    for f in files:
        digest.update(f.relative_to(PROTO_DIR).as_posix().encode() + b"\0" + f.read_bytes() + b"\0")
    out = HERE / "gen" / digest.hexdigest()[:16]
    if out.is_dir():
        return out
    out.parent.mkdir(exist_ok=True)
    tmp = Path(tempfile.mkdtemp(dir=out.parent, prefix=".tmp-"))
    well_known = importlib.resources.files("grpc_tools") / "_proto"
    args = ["grpc_tools.protoc", f"-I{PROTO_DIR}", f"-I{well_known}", f"--python_out={tmp}",
            f"--grpc_python_out={tmp}", f"--pyi_out={tmp}", *map(str, files)]
    if protoc.main(args) != 0:
        shutil.rmtree(tmp, ignore_errors=True)
        raise SystemExit("grpc_tools.protoc failed on " + " ".join(map(str, files)))
    try:
        tmp.rename(out)
    except OSError:
        # Another process generated the same protos first: theirs is as good as ours.
        shutil.rmtree(tmp, ignore_errors=True)
    return out


sys.path.insert(0, str(_generate()))

from chat.v1 import auth_pb2, auth_pb2_grpc  # noqa: E402
from chat.v1 import messages_pb2, messages_pb2_grpc  # noqa: E402
from chat.v1 import presence_pb2, presence_pb2_grpc  # noqa: E402
from chat.v1 import rooms_pb2, rooms_pb2_grpc  # noqa: E402

__all__ = ["auth_pb2", "messages_pb2", "presence_pb2", "rooms_pb2", "Details", "Events", "Session", "details",
           "reason"]

T = TypeVar("T")


@dataclass
class Details:
    """The error details of a failed call."""

    reason: str = ""
    domain: str = ""
    # Field name -> what is wrong with it (google.rpc.BadRequest).
    fields: dict[str, str] = field(default_factory=dict)
    # Seconds to wait before retrying (google.rpc.RetryInfo), if the server said.
    retry_after: float | None = None


def details(error: grpc.RpcError) -> Details:
    """The google.rpc details of a failed call, from its grpc-status-details-bin trailer."""
    found = Details()
    trailers = error.trailing_metadata() if hasattr(error, "trailing_metadata") else None
    for key, value in trailers or ():
        if key != "grpc-status-details-bin":
            continue
        status = status_pb2.Status.FromString(value)
        for any_detail in status.details:
            info, bad, retry = (error_details_pb2.ErrorInfo(), error_details_pb2.BadRequest(),
                                error_details_pb2.RetryInfo())
            if any_detail.Unpack(info):
                found.reason, found.domain = info.reason, info.domain
            elif any_detail.Unpack(bad):
                found.fields.update((v.field, v.description) for v in bad.field_violations)
            elif any_detail.Unpack(retry):
                found.retry_after = retry.retry_delay.ToTimedelta().total_seconds()
    return found


def reason(error: grpc.RpcError) -> str:
    """The ErrorInfo reason of a failed call (e.g. "TOKEN_EXPIRED"), or "" when it carries none."""
    return details(error).reason


class Session:
    """One user's connection to Parley: stubs for every service and the session's tokens.

    Calls go through `call()`, which sends the access token and, when the server answers UNAUTHENTICATED
    with reason TOKEN_EXPIRED, refreshes the tokens once and retries. Refreshing is serialised: a refresh
    token is single-use, and presenting a used one again ends the session (REFRESH_TOKEN_REUSED).
    """

    def __init__(self, target: str) -> None:
        self.target = target
        self.tokens: auth_pb2.Tokens | None = None
        self.user: auth_pb2.User | None = None
        # How many times the tokens were refreshed after TOKEN_EXPIRED, and the old refresh tokens.
        self.refreshes = 0
        self.spent_refresh_tokens: list[str] = []
        self._refreshing = asyncio.Lock()
        self._connect()

    def _connect(self) -> None:
        self.channel = grpc.aio.insecure_channel(self.target)
        self.auth = auth_pb2_grpc.AuthServiceStub(self.channel)
        self.rooms = rooms_pb2_grpc.RoomServiceStub(self.channel)
        self.messages = messages_pb2_grpc.MessageServiceStub(self.channel)
        self.presence = presence_pb2_grpc.PresenceServiceStub(self.channel)

    async def reconnect(self) -> None:
        """Closes the connection (ending its streams, as a network failure would) and opens a new one."""
        await self.channel.close()
        self._connect()

    async def close(self) -> None:
        await self.channel.close()

    async def register(self, username: str, password: str, email: str | None = None) -> auth_pb2.User:
        request = auth_pb2.RegisterRequest(username=username, email=email or f"{username}@example.com",
                                           password=password)
        response = await self.auth.Register(request)
        self.user, self.tokens = response.user, response.tokens
        return response.user

    async def login(self, login: str, password: str) -> auth_pb2.User:
        response = await self.auth.Login(auth_pb2.LoginRequest(login=login, password=password))
        self.user, self.tokens = response.user, response.tokens
        return response.user

    def metadata(self) -> tuple[tuple[str, str], ...]:
        assert self.tokens is not None, "sign in first"
        return (("authorization", f"Bearer {self.tokens.access_token}"),)

    async def refresh(self, stale: auth_pb2.Tokens | None = None) -> None:
        """Exchanges the refresh token for new tokens, unless another task already replaced `stale`."""
        async with self._refreshing:
            if stale is not None and self.tokens is not stale:
                return
            assert self.tokens is not None
            old = self.tokens.refresh_token
            response = await self.auth.RefreshToken(auth_pb2.RefreshTokenRequest(refresh_token=old))
            self.spent_refresh_tokens.append(old)
            self.tokens = response.tokens
            self.refreshes += 1

    async def call(self, rpc: Callable[..., Awaitable[T]], request: Any) -> T:
        """Calls a unary `rpc` with this session's token, refreshing it once if it has expired."""
        tokens = self.tokens
        try:
            return await rpc(request, metadata=self.metadata())
        except grpc.aio.AioRpcError as e:
            if e.code() != grpc.StatusCode.UNAUTHENTICATED or reason(e) != "TOKEN_EXPIRED":
                raise
        await self.refresh(stale=tokens)
        return await rpc(request, metadata=self.metadata())

    async def subscribe(self, cursors: dict[str, int] | None = None, follow_joins: bool = True) -> Events:
        """Opens a Subscribe stream (refreshing the token if it has expired) and returns it once `ready`.

        With `cursors` (room id -> last seq seen), every entry after those is replayed, then live ones
        follow (and, with `follow_joins`, rooms joined meanwhile); without, every joined room, live from now.
        """
        rooms = [messages_pb2.RoomCursor(room_id=r, after_seq=s) for r, s in (cursors or {}).items()]
        request = messages_pb2.SubscribeRequest(rooms=rooms, follow_joins=follow_joins and bool(rooms))
        for attempt in range(2):
            tokens = self.tokens
            call = self.messages.Subscribe(request, metadata=self.metadata())
            try:
                first = await call.read()
            except grpc.aio.AioRpcError as e:
                if attempt or e.code() != grpc.StatusCode.UNAUTHENTICATED or reason(e) != "TOKEN_EXPIRED":
                    raise
                await self.refresh(stale=tokens)
                continue
            if first is grpc.aio.EOF or not first.HasField("ready"):
                call.cancel()
                raise RuntimeError(f"Subscribe did not start with ready: {first}")
            return Events(call, first.ready)
        raise AssertionError("unreachable")


class Events:
    """An open Subscribe stream, after its `ready` event."""

    def __init__(self, call: Any, ready: messages_pb2.SubscriptionReady) -> None:
        self.call = call
        # The rooms the stream delivers, and the seq after which each starts.
        self.ready = ready

    async def next(self, timeout: float | None = None) -> messages_pb2.SubscribeResponse:
        """The next event; EOFError when the stream ended cleanly, AioRpcError when it failed, TimeoutError
        after `timeout` seconds (the read is cancelled with it: open a new stream after one)."""
        event = await asyncio.wait_for(self.call.read(), timeout)
        if event is grpc.aio.EOF:
            raise EOFError("the stream ended")
        return event

    async def next_where(self, pick: Callable[[messages_pb2.SubscribeResponse], T | None],
                         timeout: float = 10.0) -> T:
        """The first event that `pick` turns into something, skipping the others, within `timeout` seconds."""
        loop = asyncio.get_running_loop()
        deadline = loop.time() + timeout
        while True:
            found = pick(await self.next(max(0.0, deadline - loop.time())))
            if found is not None:
                return found

    def cancel(self) -> None:
        self.call.cancel()

    def __aiter__(self) -> Events:
        return self

    async def __anext__(self) -> messages_pb2.SubscribeResponse:
        try:
            return await self.next()
        except EOFError:
            raise StopAsyncIteration from None
