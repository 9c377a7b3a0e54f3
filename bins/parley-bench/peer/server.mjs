// The benchmark's peer: what people would write instead of Parley with Socket.IO 4 on Node. Rooms and
// broadcast, in memory only (nothing stored, nothing authenticated), with Socket.IO's default settings.
//
//   node server.mjs --listen 127.0.0.1:0
//
// parley-bench starts it like parleyd: it waits for the JSON line on stderr whose message ends in
// "listening", and reads the address from it. Its load generator speaks Engine.IO 4 over WebSocket
// (bins/parley-bench/src/socketio.rs):
//
//   subscribe  emit("subscribe", room, ack)        joins the room; the ack is the subscription's "ready"
//   send       emit("send", { room, body, client_message_id }, ack)
//                                                 broadcasts "message" to the room; the ack carries it
//
// A message carries what Parley's carries to a subscriber (id, room, seq, sender, body, client id, time), so
// that both servers encode and send comparable bytes.
import { randomUUID } from "node:crypto";
import { createServer } from "node:http";
import { Server } from "socket.io";

function listenAddress(argv) {
  const at = argv.indexOf("--listen");
  const value = at >= 0 ? argv[at + 1] : "127.0.0.1:0";
  const colon = value.lastIndexOf(":");
  return { host: value.slice(0, colon), port: Number(value.slice(colon + 1)) };
}

const http = createServer();
const io = new Server(http);
// Each room's last seq, as Parley numbers a room's timeline.
const seqs = new Map();

io.on("connection", (socket) => {
  socket.on("subscribe", (room, ack) => {
    socket.join(String(room));
    if (typeof ack === "function") ack({ room });
  });
  socket.on("send", (request, ack) => {
    const room = String(request?.room ?? "");
    const seq = (seqs.get(room) ?? 0) + 1;
    seqs.set(room, seq);
    const message = {
      id: randomUUID(),
      room_id: room,
      seq,
      sender_id: socket.id,
      body: String(request?.body ?? ""),
      client_message_id: String(request?.client_message_id ?? ""),
      created_at: Date.now(),
    };
    io.to(room).emit("message", message);
    if (typeof ack === "function") ack({ message });
  });
});

const { host, port } = listenAddress(process.argv);
http.listen(port, host, () => {
  const { address, port: bound } = http.address();
  console.error(JSON.stringify({ message: "peer listening", address: `${address}:${bound}` }));
});

for (const signal of ["SIGTERM", "SIGINT"]) {
  process.on(signal, () => process.exit(0));
}
