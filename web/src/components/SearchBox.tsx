// Message search in the sidebar (labelled "Find", so that it is never mistaken for the directory's "Search"): every word must be in a message; results, newest first, name their room and
// sender, and choosing one opens the room with the message shown in context (the store's `show`).

import { useState, type FormEvent } from "react";
import { describeError } from "../api/errors";
import type { Message } from "../gen/chat/v1/messages_pb";
import { useChat } from "../hooks/useChat";
import { roomTitle } from "../store/chat";

export function SearchBox() {
  const { snap, store, user, act } = useChat();
  const [query, setQuery] = useState("");
  const [results, setResults] = useState<Message[] | null>(null);
  const [next, setNext] = useState("");
  const [error, setError] = useState<string | null>(null);

  const run = async (pageToken: string) => {
    try {
      const page = await store.search(query.trim(), "", pageToken);
      const found = page.results.flatMap((r) => (r.message ? [r.message] : []));
      setResults((held) => (pageToken && held ? [...held, ...found] : found));
      setNext(page.nextPageToken);
      setError(null);
    } catch (e) {
      setError(describeError(e));
    }
  };
  const submit = (e: FormEvent) => {
    e.preventDefault();
    if (query.trim()) void run("");
  };
  const title = (roomId: string) => {
    const room = snap.rooms.find((r) => r.room.id === roomId)?.room;
    return room ? roomTitle(room, user.id) : "";
  };

  return (
    <section className="search" aria-label="Find messages">
      <form role="search" onSubmit={submit}>
        <input
          type="search"
          value={query}
          placeholder="Find messages"
          aria-label="Find in messages"
          data-testid="search-input"
          onChange={(e) => {
            setQuery(e.target.value);
            if (!e.target.value) setResults(null);
          }}
        />
      </form>
      {error && <p className="error" role="alert">{error}</p>}
      {results && (
        <ul className="list search-results" data-testid="search-results" aria-label="Messages found">
          {results.length === 0 && <li className="muted">Nothing found.</li>}
          {results.map((m) => (
            <li key={`${m.roomId}/${m.seq}`}>
              <button
                className="search-result"
                data-testid="search-result"
                onClick={() => act(() => store.show(m.roomId, m.seq))}
              >
                <span className="where">
                  {title(m.roomId)} · {m.senderDisplayName || m.senderUsername}
                </span>
                <span className="body">{m.body}</span>
              </button>
            </li>
          ))}
          {next && (
            <li>
              <button className="link" onClick={() => void run(next)}>
                More results
              </button>
            </li>
          )}
        </ul>
      )}
    </section>
  );
}
