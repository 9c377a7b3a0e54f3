#!/usr/bin/env python3
"""Groups a callgrind dump's instructions by component, per delivery.

    callgrind-components.py DUMP DELIVERIES [DUMP DELIVERIES ...]

DUMP is a file written by `parley-bench --callgrind DIR` (one measured broadcast of one server); DELIVERIES is
how many deliveries that broadcast made (parley-bench prints it). Each instruction is charged to the source
file it was compiled from (callgrind_annotate's exclusive counts; inlined code counts where it was written),
the file to its crate, and the crate to one of the components below. Needs callgrind_annotate (valgrind) and
a build with line tables (the release profile has them).
"""

import re
import subprocess
import sys
from collections import defaultdict

# Crate -> component, in the order the table prints them. Anything else is "other".
COMPONENTS = [
    ("HTTP/2 framing (h2, hyper)", {"h2", "hyper", "hyper-util", "httparse", "http", "http-body", "http-body-util"}),
    ("gRPC (tonic, prost, tower)", {"tonic", "tonic-prost", "tonic-web", "prost", "prost-types", "tower", "tower-http", "tower-layer",
                                    "tower-service", "axum", "axum-core", "pin-project", "pin-project-lite"}),
    ("Parley: stream task, bus, gateway", {"messaging", "bus", "gateway", "types", "presence", "limits", "auth",
                                           "rooms", "api", "parleyd", "parley-bench", "storage"}),
    ("tokio: scheduling, channels, timers", {"tokio", "tokio-util", "tokio-stream", "futures-util", "futures-core", "mio",
                                             "crossbeam-queue", "crossbeam-utils",
                                             "futures-channel", "futures-task", "parking_lot", "parking_lot_core"}),
    ("allocation (jemalloc, malloc)", {"jemalloc", "tikv-jemalloc-sys", "tikv-jemallocator"}),
    ("bytes, std, libc (memcpy, malloc, hashing)", {"bytes", "std", "libc", "hashbrown", "indexmap", "slab"}),
    ("tracing", {"tracing", "tracing-core", "tracing-subscriber"}),
    ("the send: MySQL driver, diesel, JWT, text", {"mysql_async", "mysql_common", "diesel", "diesel-async",
                                                  "diesel_async", "unicode-normalization", "tinyvec", "sha2",
                                                  "hmac", "jsonwebtoken", "serde_json", "serde", "base64",
                                                  "uuid", "caseless", "deadpool", "twox-hash", "lru"}),
]

KNOWN = {crate for _, crates in COMPONENTS for crate in crates}

LINE = re.compile(r"^\s*([\d,]+)\s+(?:\([^)]*\)\s+)?(.*?):(.*)$")


def crate_of(path: str, function: str) -> str:
    """The crate an instruction's cost belongs to: the crate of the source file it was compiled from, or, for
    code inlined from core, alloc and std, the first crate the function's own name mentions."""
    m = re.search(r"registry/src/[^/]+/([A-Za-z0-9_\-]+?)-\d+\.\d+\.\d+[^/]*/", path)
    if m:
        return m.group(1)
    m = re.search(r"/(?:crates|bins)/([A-Za-z0-9_\-]+)/", path)
    if m:
        return m.group(1)
    if "jemalloc" in path or "_rjem_" in function:
        return "jemalloc"
    if path.startswith("/rustc/") or "/library/" in path:
        for name in re.findall(r"(?:^|[<\s(&*,])([a-z_][a-z0-9_]*)::", function):
            if name not in ("core", "alloc", "std", "_", "__rustc"):
                return name.replace("_", "-") if name.replace("_", "-") in KNOWN else name
        return "std"
    # glibc (memcpy, malloc, syscall wrappers), built without our line tables.
    return "libc"


def components(dump: str) -> dict:
    out = subprocess.run(["callgrind_annotate", "--auto=no", "--threshold=100", "--inclusive=no", dump],
                         check=True, capture_output=True, text=True).stdout
    totals = defaultdict(int)
    started = False
    for line in out.splitlines():
        if not started:
            # The per-function table follows its header line.
            started = "file:function" in line
            continue
        m = LINE.match(line)
        if not m:
            continue
        count = int(m.group(1).replace(",", ""))
        path, function = m.group(2), m.group(3)
        if path.strip() == "PROGRAM TOTALS":
            continue
        crate = crate_of(path, function)
        name = next((c for c, crates in COMPONENTS if crate in crates), "other")
        totals[name] += count
    return totals


def main(argv):
    if len(argv) < 3 or len(argv) % 2 == 0:
        sys.exit(__doc__)
    columns = []
    for dump, deliveries in zip(argv[1::2], argv[2::2]):
        columns.append((dump, {k: v / float(deliveries) for k, v in components(dump).items()}))
    names = [c for c, _ in COMPONENTS] + ["other"]
    print("| component | " + " | ".join(d.rsplit("/", 1)[-1] for d, _ in columns) + " |")
    print("| --- |" + " ---: |" * len(columns))
    for name in names:
        print(f"| {name} | " + " | ".join(f"{col.get(name, 0):,.0f}" for _, col in columns) + " |")
    print("| **total per delivery** | " + " | ".join(f"{sum(col.values()):,.0f}" for _, col in columns) + " |")


if __name__ == "__main__":
    main(sys.argv)
