// A scripted tour of Parley's client contract, with the echo bot: run against a real parleyd, it fails loudly
// (exit status 1) on the first broken promise, and prints one `ok <step>: ...` line per step that held.
//
//   npm run scenario -- --server http://127.0.0.1:50051
//
// Start parleyd with a short access-token lifetime (`--access-token-ttl 2s`) to see the token refresh: the
// step waits for the token to expire, at most --max-token-wait seconds. Usernames get a random suffix, so the
// scenario can run again and again against one server (mind parleyd's Register rate limit, 5 at once per
// address: `--rate-limits off` lifts it on a test server).

import { randomBytes } from "node:crypto";
import { parseArgs } from "node:util";
import { Code, ConnectError } from "@connectrpc/connect";
import { timestampDate } from "@bufbuild/protobuf/wkt";
import { MessageKind, type Message, type SubscribeResponse } from "./gen/chat/v1/messages_pb.js";
import { PresenceStatus, type UserPresence } from "./gen/chat/v1/presence_pb.js";
import { Role, Visibility } from "./gen/chat/v1/rooms_pb.js";
import { EchoBot } from "./bot.js";
import { details, Session, within, type Details } from "./parley.js";

const ok = (step: string, what: string) => console.log(`ok ${step}: ${what}`);

function check(condition: boolean, failure: string): asserts condition {
  if (!condition) throw new Error(failure);
}

/** Awaits `call`, which must fail with `code` and ErrorInfo reason `wanted`; returns the error's details. */
async function expectError(call: Promise<unknown>, code: Code, wanted: string): Promise<Details> {
  try {
    await call;
  } catch (e) {
    const found = details(e);
    check(
      found.code === code && found.reason === wanted,
      `expected ${Code[code]} ${wanted}, got ${Code[found.code]} ${found.reason}: ${ConnectError.from(e).rawMessage}`,
    );
    check(found.domain === "parley.chat", `ErrorInfo domain is ${found.domain}`);
    return found;
  }
  throw new Error(`expected ${Code[code]} ${wanted}, but the call succeeded`);
}

/** A nextWhere picker for timeline entries of one room that `pick` accepts. */
const messageIn =
  (roomId: string, pick: (m: Message) => boolean = () => true) =>
  (e: SubscribeResponse): Message | undefined =>
    e.event.case === "message" && e.event.value.roomId === roomId && pick(e.event.value) ? e.event.value : undefined;

const presenceOf =
  (userId: string, status: PresenceStatus) =>
  (e: SubscribeResponse): UserPresence | undefined => {
    if (e.event.case !== "presenceChanged") return undefined;
    const p = e.event.value.presence;
    return p?.user?.id === userId && p.status === status ? p : undefined;
  };

async function send(session: Session, roomId: string, body: string, clientMessageId?: string): Promise<Message> {
  const r = await session.call(session.messages.sendMessage, {
    roomId,
    body,
    clientMessageId: clientMessageId ?? randomBytes(8).toString("hex"),
  });
  return r.message!;
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

async function run(server: string, maxTokenWaitS: number) {
  const suffix = randomBytes(3).toString("hex");
  const [alice, bob, robot] = [new Session(server), new Session(server), new Session(server)];
  let bot: EchoBot | undefined;
  let botRun: Promise<void> | undefined;
  let botFailure: unknown;
  try {
    await alice.register(`alice-${suffix}`, "alice's password");
    await bob.register(`bob-${suffix}`, "bob's password");
    await robot.register(`echo-bot-${suffix}`, "the bot's password");
    ok("register", `alice-${suffix}, bob-${suffix} and echo-bot-${suffix}`);

    const taken = robot.auth.register({
      username: `ALICE-${suffix}`,
      email: `other-${suffix}@example.com`,
      password: "another password",
    });
    await expectError(taken, Code.AlreadyExists, "USERNAME_TAKEN");
    const bad = robot.auth.register({
      username: `carol-${suffix}`,
      email: "not an address",
      password: "carol's password",
    });
    const found = await expectError(bad, Code.InvalidArgument, "FIELD_INVALID");
    check(found.fields.has("email"), `BadRequest names ${[...found.fields.keys()]}, not email`);
    ok(
      "reasons",
      `USERNAME_TAKEN for a taken username (any case); FIELD_INVALID naming email (${found.fields.get("email")})`,
    );

    const room = (
      await alice.call(alice.rooms.createRoom, {
        name: `crew-${suffix}`,
        topic: "the scenario's room",
        visibility: Visibility.PRIVATE,
      })
    ).room!;
    ok("private room", `#${room.name} created by alice`);

    await expectError(bob.rooms.joinRoom({ roomId: room.id }, bob.options()), Code.NotFound, "ROOM_NOT_FOUND");
    ok("not invited", "bob's JoinRoom fails with NOT_FOUND ROOM_NOT_FOUND before an invitation");

    // The bot follows its rooms and joins where it is invited, as it does when run by hand.
    bot = new EchoBot(robot);
    botRun = bot.run().catch((e: unknown) => {
      botFailure = e;
    });
    await alice.call(alice.rooms.inviteMember, { roomId: room.id, username: bob.user!.username });
    const joined = (await bob.call(bob.rooms.joinRoom, { roomId: room.id })).room!;
    check(joined.callerRole === Role.MEMBER, `bob's role is ${joined.callerRole}`);
    // The bot's stream must be up before its invitation, or it would never hear of it.
    await within(bot.following, 10_000, "the bot did not start following its rooms");
    await alice.call(alice.rooms.inviteMember, { roomId: room.id, username: robot.user!.username });

    // Bob follows the room from its start: the replay holds its creation, invitations and joins.
    let events = await bob.subscribe(new Map([[room.id, 0n]]));
    const botJoined = await events.nextWhere(
      messageIn(room.id, (m) => m.kind === MessageKind.MEMBER_JOINED && m.member?.userId === robot.user!.id),
    );
    ok("invite and join", `bob joined after alice's invitation; the bot joined by itself (seq ${botJoined.seq})`);
    let lastSeen = botJoined.seq;
    ok("subscribe", `bob's stream replayed the room from seq 1 to ${lastSeen}`);

    const clientId = `hello-${suffix}`;
    const first = await send(alice, room.id, "hello, crew", clientId);
    const again = await send(alice, room.id, "hello, crew", clientId);
    check(again.seq === first.seq && again.id === first.id, `retry stored seq ${again.seq}, first ${first.seq}`);
    const page = await bob.call(bob.messages.listMessages, { roomId: room.id });
    const copies = page.messages.filter((m) => m.clientMessageId === clientId);
    check(copies.length === 1, `the timeline holds ${copies.length} copies of the message`);
    const got = await events.nextWhere(messageIn(room.id, (m) => m.kind === MessageKind.TEXT));
    check(got.seq === first.seq, `bob's stream delivered seq ${got.seq}, expected ${first.seq}`);
    lastSeen = got.seq;
    ok("send retry", `the retried send returned seq ${first.seq} again; the timeline and bob's stream hold it once`);

    const aliceEvents = await alice.subscribe();
    await events.nextWhere(presenceOf(alice.user!.id, PresenceStatus.ONLINE));
    const online = await bob.call(bob.presence.listOnlineUsers, { roomId: room.id });
    check(
      online.users.some((p) => p.user?.id === alice.user!.id),
      "alice is not listed online",
    );
    await alice.call(alice.presence.setPresence, { status: PresenceStatus.AWAY });
    await events.nextWhere(presenceOf(alice.user!.id, PresenceStatus.AWAY));
    ok("presence", "bob saw alice come online, listed her, and saw her turn away");
    aliceEvents.cancel();

    // Bob's connection drops (the HTTP/2 connection is torn down, as a network failure would end it).
    bob.reconnect();
    const missed: bigint[] = [];
    for (let i = 0; i < 3; i++) missed.push((await send(alice, room.id, `while bob was away #${i}`)).seq);
    events = await bob.subscribe(new Map([[room.id, lastSeen]]));
    const replay: Message[] = [];
    for (const _ of missed) replay.push(await events.nextWhere(messageIn(room.id)));
    const live = await send(alice, room.id, "welcome back, bob");
    const after = await events.nextWhere(messageIn(room.id));
    const seqs = [...replay, after].map((m) => m.seq);
    const expected = Array.from({ length: Number(live.seq - lastSeen) }, (_, i) => lastSeen + BigInt(i) + 1n);
    check(
      seqs.join() === expected.join(),
      `after seq ${lastSeen} bob got ${seqs.join()}, expected ${lastSeen + 1n}..${live.seq}`,
    );
    ok(
      "resume",
      `bob resumed after seq ${lastSeen}, got ${missed[0]}..${missed[2]} once each, then live seq ${after.seq}`,
    );
    lastSeen = after.seq;

    let asked = await send(bob, room.id, "!echo hello from bob");
    let reply = await events.nextWhere(messageIn(room.id, (m) => m.replyToSeq === asked.seq));
    check(reply.senderId === robot.user!.id && reply.body === "hello from bob", `unexpected reply ${reply.body}`);
    asked = await send(bob, room.id, "!time");
    reply = await events.nextWhere(messageIn(room.id, (m) => m.replyToSeq === asked.seq));
    const drift = Math.abs(Date.now() - Date.parse(reply.body));
    check(drift < 60_000, `the bot's time ${reply.body} is ${drift} ms off`);
    ok("bot", `the bot answered !echo with the text and !time with ${reply.body}`);

    // Let alice's access token expire, and call with it: the server says why, the session refreshes. The server
    // accepts a token a few seconds past its expiry (leeway for clocks that disagree), so keep calling until it
    // refuses.
    const expires = timestampDate(alice.tokens!.accessTokenExpiresAt!).getTime();
    const waitMs = expires - Date.now();
    check(
      waitMs <= maxTokenWaitS * 1000,
      `alice's access token lives ${Math.round(waitMs / 1000)}s more; start parleyd with --access-token-ttl 2s, ` +
        `or pass --max-token-wait ${Math.ceil(waitMs / 1000) + 1}`,
    );
    await sleep(Math.max(waitMs, 0));
    for (;;) {
      try {
        await alice.auth.getMe({}, alice.options());
      } catch (e) {
        const d = details(e);
        check(
          d.code === Code.Unauthenticated && d.reason === "TOKEN_EXPIRED",
          `expected UNAUTHENTICATED TOKEN_EXPIRED, got ${Code[d.code]} ${d.reason}`,
        );
        break;
      }
      check(
        Date.now() - expires < 30_000,
        `the access token is still accepted ${Date.now() - expires} ms after it expired`,
      );
      await sleep(250);
    }
    const late = ((Date.now() - expires) / 1000).toFixed(1);
    const refreshes = alice.refreshes;
    const me = (await alice.call(alice.auth.getMe, {})).user!;
    check(me.id === alice.user!.id && alice.refreshes === refreshes + 1, "the session did not refresh");
    ok(
      "token refresh",
      `the token, refused ${late}s after its expiry with UNAUTHENTICATED TOKEN_EXPIRED, was refreshed by the session ` +
        "and the call went through",
    );

    // A refresh token is single-use: presenting a spent one is taken as theft and ends the session.
    const spent = alice.spentRefreshTokens.at(-1)!;
    await expectError(alice.auth.refreshToken({ refreshToken: spent }), Code.Unauthenticated, "REFRESH_TOKEN_REUSED");
    ok("refresh reuse", "the spent refresh token is refused with REFRESH_TOKEN_REUSED");

    check(botFailure === undefined, `the bot stopped: ${String(botFailure)}`);
    console.log("scenario passed");
  } finally {
    bot?.stop();
    await botRun;
    for (const s of [alice, bob, robot]) s.close();
  }
}

const { values } = parseArgs({
  options: {
    server: { type: "string", default: process.env.PARLEY_SERVER ?? "http://127.0.0.1:50051" },
    "max-token-wait": { type: "string", default: "10" },
  },
});
try {
  const server = values.server.includes("://") ? values.server : `http://${values.server}`;
  await run(server, Number(values["max-token-wait"]));
} catch (e) {
  if (e instanceof ConnectError) {
    const d = details(e);
    const retry = d.retryAfterMs ? ` (retry after ${Math.ceil(d.retryAfterMs / 1000)}s)` : "";
    console.error(`FAILED: ${Code[d.code]} ${d.reason || "-"}: ${e.rawMessage}${retry}`);
  } else {
    console.error(`FAILED: ${e instanceof Error ? e.message : String(e)}`);
  }
  process.exitCode = 1;
}
