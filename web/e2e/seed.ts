// Seeding for the browser test, over grpc-web with the app's own generated client (so it works the same
// against parleyd and through Envoy). chat.test.mjs bundles this file with esbuild at start-up.

import { createClient, type Interceptor } from "@connectrpc/connect";
import { createGrpcWebTransport } from "@connectrpc/connect-web";
import { AuthService } from "../src/gen/chat/v1/auth_pb";
import { MessageService } from "../src/gen/chat/v1/messages_pb";
import { RoomService, Visibility } from "../src/gen/chat/v1/rooms_pb";

export type Api = Awaited<ReturnType<typeof register>>;

/** Registers a user and returns clients that act as them. */
export async function register(baseUrl: string, username: string, displayName: string) {
  const anonymous = createClient(AuthService, createGrpcWebTransport({ baseUrl }));
  const { user, tokens } = await anonymous.register({
    username,
    email: `${username}@example.com`,
    password: `password of ${username}`,
    displayName,
  });
  if (!user || !tokens) throw new Error("register: incomplete answer");
  const bearer: Interceptor = (next) => (req) => {
    req.header.set("authorization", `Bearer ${tokens.accessToken}`);
    return next(req);
  };
  const transport = createGrpcWebTransport({ baseUrl, interceptors: [bearer] });
  return { user, rooms: createClient(RoomService, transport), messages: createClient(MessageService, transport) };
}

export async function send(api: Api, roomId: string, body: string) {
  await api.messages.sendMessage({ roomId, body, clientMessageId: crypto.randomUUID() });
}

/**
 * A public room with `count` numbered messages ("message 1" … "message N") and, after message `longAfter`,
 * one message of 4,000 characters. Returns the room's id.
 */
export async function longRoom(api: Api, name: string, count: number, longAfter: number): Promise<string> {
  const { room } = await api.rooms.createRoom({ name, topic: "A room with a long history", visibility: Visibility.PUBLIC });
  if (!room) throw new Error("createRoom: no room");
  for (let i = 1; i <= count; i++) {
    await send(api, room.id, `message ${i}`);
    if (i === longAfter) await send(api, room.id, `A long one: ${"lorem ipsum ".repeat(400)}`.slice(0, 4000));
  }
  return room.id;
}

/** A public room owned by `api`'s user, without messages. Returns its id. */
export async function publicRoom(api: Api, name: string, topic: string): Promise<string> {
  const { room } = await api.rooms.createRoom({ name, topic, visibility: Visibility.PUBLIC });
  if (!room) throw new Error("createRoom: no room");
  return room.id;
}
