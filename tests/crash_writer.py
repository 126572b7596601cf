"""Child process for the crash test: writes, commits, and prints each acknowledged record id."""

import asyncio
import hashlib
import sys
from pathlib import Path

from katya_tui.core.store import Store


def sha256(text: str) -> str:
    return hashlib.sha256(text.encode()).hexdigest()


async def main(data_dir: str, start: int) -> None:
    # A tiny compaction threshold makes compactions (and crashes during them) frequent.
    store = Store(Path(data_dir), compact_min_bytes=20_000)
    store.segments.max_size = 256 * 1024  # segments begin often: kills land in their writes too
    table = store.table("records")
    captures = store.table("captures")
    i = start
    while True:
        ids = list(range(i, i + 5))
        for n in ids:
            table.insert({"n": n, "pad": "x" * 200})
            body = str(n) * 2000  # a body in a segment, referred to by the capture
            captures.insert(
                {"id": f"cap_{n}", "body": body, "body_encoding": "utf8", "body_sha256": sha256(body), "n": n}
            )
        if i % 3 == 0:
            table.update({"touched": True}, doc_ids=[1])
        await store.commit()
        sys.stdout.write("".join(f"{n}\n" for n in ids))
        sys.stdout.flush()
        i += 5
        if i % 200 == 0:  # an explicit compaction, announced so the parent can kill inside it
            sys.stdout.write("C\n")
            sys.stdout.flush()
            await store.compact()


if __name__ == "__main__":
    asyncio.run(main(sys.argv[1], int(sys.argv[2])))
