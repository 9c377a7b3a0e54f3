// One member in the members panel, with the controls the user's role allows and an inline confirmation for
// what cannot be undone by the user alone (removal, handing ownership over).

import { useState } from "react";
import type { PresenceStatus } from "../gen/chat/v1/presence_pb";
import { Role, type Member } from "../gen/chat/v1/rooms_pb";
import { Dot, presenceName } from "./ui";

interface Props {
  member: Member;
  myRole: Role;
  isSelf: boolean;
  status: PresenceStatus | undefined;
  onRemove: () => Promise<void>;
  onRole: (role: Role) => Promise<void>;
}

const ROLE_NAMES: Record<number, string> = { [Role.OWNER]: "owner", [Role.ADMIN]: "admin", [Role.MEMBER]: "member" };

export function MemberRow({ member, myRole, isSelf, status, onRemove, onRole }: Props) {
  const [confirm, setConfirm] = useState<"remove" | "owner" | null>(null);
  const [busy, setBusy] = useState(false);
  const user = member.user;
  const name = user?.displayName || user?.username || "";
  const canRole = !isSelf && myRole === Role.OWNER;
  const canRemove =
    !isSelf && member.role !== Role.OWNER && (myRole === Role.OWNER || (myRole === Role.ADMIN && member.role === Role.MEMBER));
  const perform = async (what: () => Promise<void>) => {
    setBusy(true);
    await what();
    setBusy(false);
    setConfirm(null);
  };

  return (
    <li
      className="member"
      data-testid="member"
      data-username={user?.username}
      data-presence={presenceName(status)}
      data-role={ROLE_NAMES[member.role] ?? ""}
    >
      <div className="who">
        <Dot status={status} />
        <span className="name" title={`@${user?.username ?? ""}`}>
          {name}
          {isSelf && <small> (you)</small>}
        </span>
        {member.role !== Role.MEMBER && <small className="role">{ROLE_NAMES[member.role]}</small>}
      </div>
      {!confirm && (canRole || canRemove) && (
        <div className="row controls">
          {canRole && (
            <select
              aria-label={`Role of ${name}`}
              value={member.role}
              disabled={busy}
              onChange={(e) => {
                const role = Number(e.target.value) as Role;
                if (role === Role.OWNER) setConfirm("owner");
                else void perform(() => onRole(role));
              }}
            >
              <option value={Role.MEMBER}>Member</option>
              <option value={Role.ADMIN}>Admin</option>
              <option value={Role.OWNER}>Owner</option>
            </select>
          )}
          {canRemove && (
            <button className="small danger" onClick={() => setConfirm("remove")}>
              Remove
            </button>
          )}
        </div>
      )}
      {confirm && (
        <div className="confirm" role="group" aria-label="Confirm">
          <span>
            {confirm === "remove" ? `Remove ${name} from the room?` : `Make ${name} the owner? You will become an admin.`}
          </span>
          <span className="row">
            <button
              className={`small ${confirm === "remove" ? "danger-solid" : "primary"}`}
              disabled={busy}
              onClick={() => perform(confirm === "remove" ? onRemove : () => onRole(Role.OWNER))}
            >
              {confirm === "remove" ? "Yes, remove" : "Hand over"}
            </button>
            <button className="small" onClick={() => setConfirm(null)}>
              Cancel
            </button>
          </span>
        </div>
      )}
    </li>
  );
}
