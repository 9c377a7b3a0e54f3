// Sign-in and registration.

import { useState, type FormEvent } from "react";
import { describeError } from "../api/errors";
import { startSession, takeEndedReason } from "../api/session";
import { publicAuth } from "../api/transport";
import { Alert } from "./ui";

export function SignIn() {
  const [mode, setMode] = useState<"login" | "register">("login");
  const [notice] = useState(() => takeEndedReason());
  const [error, setError] = useState<string | null>(null);
  const [busy, setBusy] = useState(false);

  async function submit(e: FormEvent<HTMLFormElement>) {
    e.preventDefault();
    const form = new FormData(e.currentTarget);
    const field = (name: string) => String(form.get(name) ?? "");
    setBusy(true);
    setError(null);
    try {
      if (mode === "register") {
        const r = await publicAuth.register({
          username: field("username"),
          email: field("email"),
          password: field("password"),
          displayName: field("displayName"),
        });
        startSession(r.user, r.tokens);
      } else {
        const r = await publicAuth.login({ login: field("login"), password: field("password") });
        startSession(r.user, r.tokens);
      }
    } catch (err) {
      setError(describeError(err));
      setBusy(false);
    }
  }

  return (
    <main className="signin">
      <form className="card" onSubmit={submit} aria-labelledby="signin-title">
        <h1 id="signin-title">
          <span className="logo" aria-hidden="true">
            ◆
          </span>{" "}
          Parley
        </h1>
        <div className="tabs" role="tablist">
          <button type="button" role="tab" aria-selected={mode === "login"} onClick={() => setMode("login")}>
            Sign in
          </button>
          <button type="button" role="tab" aria-selected={mode === "register"} onClick={() => setMode("register")}>
            Create account
          </button>
        </div>
        {notice && <p className="notice">{notice}</p>}
        {mode === "register" ? (
          <>
            <label>
              Username
              <input name="username" autoComplete="username" required minLength={3} maxLength={32} autoFocus />
            </label>
            <label>
              Email
              <input name="email" type="email" autoComplete="email" required />
            </label>
            <label>
              Display name <span className="optional">(optional)</span>
              <input name="displayName" autoComplete="name" maxLength={64} />
            </label>
            <label>
              Password
              <input name="password" type="password" autoComplete="new-password" required minLength={8} />
            </label>
          </>
        ) : (
          <>
            <label>
              Username or email
              <input name="login" autoComplete="username" required autoFocus />
            </label>
            <label>
              Password
              <input name="password" type="password" autoComplete="current-password" required />
            </label>
          </>
        )}
        <Alert error={error} />
        <button className="primary" type="submit" disabled={busy}>
          {mode === "register" ? "Create account" : "Sign in"}
        </button>
      </form>
    </main>
  );
}
