// A button that shows a small panel of buttons (a menu, an emoji picker). Opening it focuses the panel's
// first button; choosing one, Escape (which gives focus back to the button) or a click elsewhere closes it.
// The panel opens downwards in the upper half of the window and upwards in the lower half, so that it stays
// inside the scrolling panel it is in.

import { useEffect, useRef, useState, type ReactNode } from "react";

interface Props {
  /** The button's accessible name (and tooltip). */
  label: string;
  icon: ReactNode;
  className?: string;
  /** Extra classes of the panel. */
  panelClass?: string;
  children: ReactNode;
}

export function Popover({ label, icon, className = "", panelClass = "", children }: Props) {
  const [open, setOpen] = useState<"down" | "up" | null>(null);
  const box = useRef<HTMLDivElement>(null);
  const button = useRef<HTMLButtonElement>(null);
  useEffect(() => {
    if (!open) return;
    box.current?.querySelector<HTMLElement>(".menu-panel button")?.focus();
    const onDown = (e: PointerEvent) => box.current?.contains(e.target as Node) || setOpen(null);
    const onKey = (e: KeyboardEvent) => {
      if (e.key !== "Escape") return;
      e.stopPropagation();
      setOpen(null);
      button.current?.focus();
    };
    document.addEventListener("pointerdown", onDown);
    document.addEventListener("keydown", onKey);
    return () => {
      document.removeEventListener("pointerdown", onDown);
      document.removeEventListener("keydown", onKey);
    };
  }, [open]);
  const toggle = () => {
    const top = button.current?.getBoundingClientRect().top ?? 0;
    setOpen((v) => (v ? null : top < window.innerHeight / 2 ? "down" : "up"));
  };
  return (
    <div className={`popover ${className} ${open ? "open" : ""}`} ref={box}>
      <button ref={button} type="button" className="icon" aria-label={label} title={label} aria-expanded={!!open} onClick={toggle}>
        {icon}
      </button>
      {open && (
        <div className={`menu-panel ${open} ${panelClass}`} onClick={() => setOpen(null)}>
          {children}
        </div>
      )}
    </div>
  );
}
