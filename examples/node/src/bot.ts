// An echo bot for Parley: joins rooms, accepts invitations, and answers `!echo <text>` and `!time`.
//
//   npm run bot -- --server http://127.0.0.1:50051 --join general
//
// It signs in as --username (registering the account the first time), joins the public rooms named by --join,
// joins every room it is invited to, and follows all its rooms on one Subscribe stream. When the stream drops
// it subscribes again from the last seq it saw in each room, so it misses nothing; its replies use the
// triggering message's id as client_message_id, so a message seen twice is still answered once.

import { pathToFileURL } from "node:url";
import { parseArgs } from "node:util";
import { Code, ConnectError } from "@connectrpc/connect";
import { MessageKind, type Message, type SubscribeResponse } from "./gen/chat/v1/messages_pb.js";
import { ListRoomsScope } from "./gen/chat/v1/rooms_pb.js";
import { details, reason, Session, type Events } from "./parley.js";

/** Failures after which the bot subscribes again (the server restarting, the network dropping). */
const RETRYABLE = new Set([Code.Unavailable, Code.Canceled, Code.DeadlineExceeded, Code.Internal, Code.Unknown]);

const log = (line: string) => console.log(`[bot] ${line}`);

/** The bot's answer to a message's text, or undefined when it is not a command. */
export function answer(body: string): string | undefined {
  if (body === "!echo" || body.startsWith("!echo ")) return body.slice("!echo".length).trim() || "(nothing to echo)";
  if (body.trim() === "!time") return new Date().toISOString().replace(/\.\d+Z$/, "Z");
  return undefined;
}

/** The bot's behaviour, on a signed-in session. */
export class EchoBot {
  /** Room id -> the last seq seen there: where a new stream resumes. */
  readonly cursors = new Map<string, bigint>();
  answered = 0;
  /** Resolved once the first stream is open (from then on, invitations reach the bot). */
  readonly following: Promise<void>;
  private followed!: () => void;
  private stopped = false;
  private events?: Events;

  constructor(readonly session: Session) {
    this.following = new Promise((resolve) => (this.followed = resolve));
  }

  /** Joins the public rooms with these names. */
  async joinPublic(names: string[]) {
    const wanted = new Set(names);
    let pageToken = "";
    while (wanted.size > 0) {
      const page = await this.session.call(this.session.rooms.listRooms, {
        scope: ListRoomsScope.PUBLIC,
        pageSize: 100,
        pageToken,
      });
      for (const room of page.rooms) {
        if (!wanted.delete(room.name)) continue;
        await this.session.call(this.session.rooms.joinRoom, { roomId: room.id });
        log(`joined #${room.name}`);
      }
      pageToken = page.nextPageToken;
      if (!pageToken) break;
    }
    for (const name of wanted) log(`no public room named ${JSON.stringify(name)}`);
  }

  /** Follows every room until stop(), subscribing again after a dropped stream. */
  async run() {
    let delayMs = 200;
    while (!this.stopped) {
      try {
        const events = await this.session.subscribe(this.cursors.size > 0 ? this.cursors : undefined);
        this.events = events;
        if (this.stopped) events.cancel();
        for (const c of events.ready.rooms) if (!this.cursors.has(c.roomId)) this.cursors.set(c.roomId, c.afterSeq);
        log(`following ${events.ready.rooms.length} rooms`);
        this.followed();
        delayMs = 200;
        for await (const event of events) await this.handle(event);
        if (!this.stopped) log("stream ended; subscribing again");
      } catch (e) {
        if (this.stopped) return;
        const d = details(e);
        if (!RETRYABLE.has(d.code)) throw e;
        log(`stream failed (${Code[d.code]} ${d.reason || "-"}); resuming in ${delayMs} ms`);
        await new Promise((r) => setTimeout(r, delayMs));
        delayMs = Math.min(delayMs * 2, 5000);
        this.session.reconnect();
      }
    }
  }

  /** Ends run(). */
  stop() {
    this.stopped = true;
    this.events?.cancel();
  }

  private async handle(event: SubscribeResponse) {
    const e = event.event;
    switch (e.case) {
      case "invitationReceived": {
        const room = e.value.room!;
        await this.session.call(this.session.rooms.joinRoom, { roomId: room.id });
        log(`joined #${room.name} (invited by ${e.value.inviterUsername})`);
        break;
      }
      case "roomAdded":
        if (!this.cursors.has(e.value.room!.id)) this.cursors.set(e.value.room!.id, e.value.afterSeq);
        break;
      case "roomRemoved":
        this.cursors.delete(e.value.roomId);
        break;
      case "message":
        await this.onMessage(e.value);
        break;
    }
  }

  private async onMessage(message: Message) {
    const seen = this.cursors.get(message.roomId) ?? 0n;
    if (message.seq > seen) this.cursors.set(message.roomId, message.seq);
    if (message.kind !== MessageKind.TEXT || message.senderId === this.session.user!.id) return;
    const text = answer(message.body);
    if (text === undefined) return;
    await this.session.call(this.session.messages.sendMessage, {
      roomId: message.roomId,
      body: text,
      replyToSeq: message.seq,
      clientMessageId: `re:${message.id}`,
    });
    this.answered += 1;
    log(`answered ${message.senderUsername}'s ${message.body.split(/\s/)[0]} (seq ${message.seq})`);
  }
}

/** Logs in, or registers the account when there is none yet. */
export async function signIn(session: Session, username: string, password: string) {
  try {
    await session.login(username, password);
    log(`signed in as ${username}`);
  } catch (e) {
    if (reason(e) !== "BAD_CREDENTIALS") throw e;
    await session.register(username, password);
    log(`registered ${username}`);
  }
}

async function main() {
  const { values } = parseArgs({
    options: {
      server: { type: "string", default: process.env.PARLEY_SERVER ?? "http://127.0.0.1:50051" },
      username: { type: "string", default: "echo-bot" },
      password: { type: "string", default: process.env.PARLEY_BOT_PASSWORD ?? "echo-bot-password" },
      join: { type: "string", multiple: true, default: [] },
    },
  });
  const session = new Session(values.server);
  const bot = new EchoBot(session);
  process.on("SIGINT", () => bot.stop());
  try {
    await signIn(session, values.username, values.password);
    await bot.joinPublic(values.join);
    await bot.run();
  } catch (e) {
    const d = details(e);
    console.error(`${Code[d.code]} ${d.reason}: ${ConnectError.from(e).rawMessage}`);
    process.exitCode = 1;
  } finally {
    session.close();
  }
}

if (import.meta.url === pathToFileURL(process.argv[1] ?? "").href) await main();
