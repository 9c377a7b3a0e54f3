// A small Parley client on Connect-ES: generated services (src/gen, made from ../../proto by `npm install`),
// a session that refreshes its own tokens, and the google.rpc error details every Parley error carries.
//
// Clients branch on the ErrorInfo reason (listed in proto/chat/v1/errors.proto), never on message text.

import { Code, ConnectError, createClient, type CallOptions, type Client } from "@connectrpc/connect";
import { createGrpcTransport, Http2SessionManager } from "@connectrpc/connect-node";
import { durationMs } from "@bufbuild/protobuf/wkt";
import { AuthService, type Tokens, type User } from "./gen/chat/v1/auth_pb.js";
import { MessageService, type SubscribeResponse, type SubscriptionReady } from "./gen/chat/v1/messages_pb.js";
import { PresenceService } from "./gen/chat/v1/presence_pb.js";
import { RoomService } from "./gen/chat/v1/rooms_pb.js";
import { BadRequestSchema, ErrorInfoSchema, RetryInfoSchema } from "./gen/google/rpc/error_details_pb.js";

/** The details of a failed call, from its google.rpc.Status. */
export interface Details {
  code: Code;
  /** The ErrorInfo reason, e.g. "TOKEN_EXPIRED"; "" when the error carries none (a network failure). */
  reason: string;
  domain: string;
  /** Field name -> what is wrong with it (google.rpc.BadRequest). */
  fields: Map<string, string>;
  /** How long to wait before retrying (google.rpc.RetryInfo), if the server said. */
  retryAfterMs?: number;
}

/** The details of a failed call (any thrown value: what is not a ConnectError becomes one). */
export function details(e: unknown): Details {
  const err = ConnectError.from(e);
  const info = err.findDetails(ErrorInfoSchema)[0];
  const fields = new Map<string, string>();
  for (const bad of err.findDetails(BadRequestSchema)) {
    for (const v of bad.fieldViolations) fields.set(v.field, v.description);
  }
  const delay = err.findDetails(RetryInfoSchema)[0]?.retryDelay;
  return {
    code: err.code,
    reason: info?.reason ?? "",
    domain: info?.domain ?? "",
    fields,
    retryAfterMs: delay ? durationMs(delay) : undefined,
  };
}

/** `promise`, or a failure saying `what` after `ms` (the timer does not outlive it). */
export async function within<T>(promise: Promise<T>, ms: number, what: string): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const late = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`${what} within ${ms} ms`)), ms);
  });
  try {
    return await Promise.race([promise, late]);
  } finally {
    clearTimeout(timer);
  }
}

/** The ErrorInfo reason of a failed call, or "" when it carries none. */
export const reason = (e: unknown): string => details(e).reason;

const expired = (e: unknown) => {
  const d = details(e);
  return d.code === Code.Unauthenticated && d.reason === "TOKEN_EXPIRED";
};

/**
 * One user's connection to Parley: clients for every service and the session's tokens.
 *
 * Calls go through `call()`, which sends the access token and, when the server answers UNAUTHENTICATED with
 * reason TOKEN_EXPIRED, refreshes the tokens once and retries. Refreshing is serialised: a refresh token is
 * single-use, and presenting a used one again ends the session (REFRESH_TOKEN_REUSED).
 */
export class Session {
  tokens?: Tokens;
  user?: User;
  /** How many times the tokens were refreshed after TOKEN_EXPIRED, and the spent refresh tokens. */
  refreshes = 0;
  readonly spentRefreshTokens: string[] = [];
  auth!: Client<typeof AuthService>;
  rooms!: Client<typeof RoomService>;
  messages!: Client<typeof MessageService>;
  presence!: Client<typeof PresenceService>;
  private connection!: Http2SessionManager;
  private refreshing?: Promise<void>;

  constructor(readonly baseUrl: string) {
    this.connect();
  }

  private connect() {
    // One HTTP/2 connection per session, held by this manager so that reconnect() can drop it.
    this.connection = new Http2SessionManager(this.baseUrl);
    const transport = createGrpcTransport({ baseUrl: this.baseUrl, sessionManager: this.connection });
    this.auth = createClient(AuthService, transport);
    this.rooms = createClient(RoomService, transport);
    this.messages = createClient(MessageService, transport);
    this.presence = createClient(PresenceService, transport);
  }

  /** Drops the connection (its streams fail, as on a network failure) and opens a new one. */
  reconnect() {
    this.connection.abort(new Error("connection dropped by the client"));
    this.connect();
  }

  close() {
    this.connection.abort();
  }

  async register(username: string, password: string, email = `${username}@example.com`): Promise<User> {
    const r = await this.auth.register({ username, email, password });
    this.user = r.user;
    this.tokens = r.tokens;
    return r.user!;
  }

  async login(login: string, password: string): Promise<User> {
    const r = await this.auth.login({ login, password });
    this.user = r.user;
    this.tokens = r.tokens;
    return r.user!;
  }

  /** Call options carrying the access token. */
  options(extra: CallOptions = {}): CallOptions {
    if (!this.tokens) throw new Error("sign in first");
    return { ...extra, headers: { authorization: `Bearer ${this.tokens.accessToken}` } };
  }

  /** Exchanges the refresh token for new tokens, unless another call already replaced `stale`. */
  async refresh(stale?: Tokens): Promise<void> {
    while (this.refreshing) await this.refreshing;
    if (stale && this.tokens !== stale) return;
    const old = this.tokens!.refreshToken;
    this.refreshing = (async () => {
      const r = await this.auth.refreshToken({ refreshToken: old });
      this.spentRefreshTokens.push(old);
      this.tokens = r.tokens;
      this.refreshes += 1;
    })();
    try {
      await this.refreshing;
    } finally {
      this.refreshing = undefined;
    }
  }

  /** Calls a unary method with this session's token, refreshing it once if it has expired. */
  async call<Req, Res>(method: (req: Req, options?: CallOptions) => Promise<Res>, request: Req): Promise<Res> {
    const tokens = this.tokens;
    try {
      return await method(request, this.options());
    } catch (e) {
      if (!expired(e)) throw e;
    }
    await this.refresh(tokens);
    return await method(request, this.options());
  }

  /**
   * Opens a Subscribe stream (refreshing the token if it has expired) and returns it once `ready`. With
   * `cursors` (room id -> last seq seen), every entry after those is replayed, then live ones follow (and,
   * with followJoins, rooms joined meanwhile); without, every joined room, live from now.
   */
  async subscribe(cursors?: Map<string, bigint>, followJoins = true): Promise<Events> {
    const rooms = [...(cursors ?? new Map<string, bigint>())].map(([roomId, afterSeq]) => ({ roomId, afterSeq }));
    for (let attempt = 0; ; attempt++) {
      const tokens = this.tokens;
      const abort = new AbortController();
      const stream = this.messages.subscribe(
        { rooms, followJoins: followJoins && rooms.length > 0 },
        this.options({ signal: abort.signal }),
      );
      const events = stream[Symbol.asyncIterator]();
      try {
        const first = await events.next();
        if (first.done || first.value.event.case !== "ready") {
          abort.abort();
          throw new Error(`Subscribe did not start with ready: ${JSON.stringify(first.value)}`);
        }
        return new Events(events, abort, first.value.event.value);
      } catch (e) {
        if (attempt > 0 || !expired(e)) throw e;
      }
      await this.refresh(tokens);
    }
  }
}

/** An open Subscribe stream, after its `ready` event. */
export class Events implements AsyncIterable<SubscribeResponse> {
  constructor(
    private readonly events: AsyncIterator<SubscribeResponse>,
    private readonly abort: AbortController,
    /** The rooms the stream delivers, and the seq after which each starts. */
    readonly ready: SubscriptionReady,
  ) {}

  /**
   * The next event, failing after `timeoutMs`; undefined when the stream ended cleanly. A timeout is the end of
   * the stream for the caller: the read it gave up on still takes the next event.
   */
  async next(timeoutMs = 10_000): Promise<SubscribeResponse | undefined> {
    const r = await within(this.events.next(), timeoutMs, "no event");
    return r.done ? undefined : r.value;
  }

  /** The first event that `pick` turns into something, skipping the others, within `timeoutMs`. */
  async nextWhere<T>(pick: (e: SubscribeResponse) => T | undefined, timeoutMs = 10_000): Promise<T> {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      const event = await this.next(Math.max(0, deadline - Date.now()));
      if (!event) throw new Error("the stream ended");
      const found = pick(event);
      if (found !== undefined) return found;
    }
  }

  cancel() {
    this.abort.abort();
  }

  async *[Symbol.asyncIterator]() {
    for (;;) {
      const r = await this.events.next();
      if (r.done) return;
      yield r.value;
    }
  }
}
