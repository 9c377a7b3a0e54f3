import { useState, type ReactNode } from "react";
import { describeError } from "../../api/errors";
import { Alert } from "../ui";

/** A dialog's form: runs `onSubmit` with the form's fields and shows what went wrong, if anything did. */
export function DialogForm(props: { submit: string; onSubmit: (form: FormData) => Promise<void>; children: ReactNode }) {
  const [error, setError] = useState<string | null>(null);
  const [busy, setBusy] = useState(false);
  return (
    <form
      className="stack"
      onSubmit={async (e) => {
        e.preventDefault();
        setError(null);
        setBusy(true);
        try {
          await props.onSubmit(new FormData(e.currentTarget));
        } catch (err) {
          setError(describeError(err));
        } finally {
          setBusy(false);
        }
      }}
    >
      {props.children}
      <Alert error={error} />
      <button className="primary" type="submit" disabled={busy}>
        {props.submit}
      </button>
    </form>
  );
}
