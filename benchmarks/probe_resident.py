"""Which spilled columns each part of the run page reads on a live tick (a probe, not a timing).

Run: ``.venv/bin/python benchmarks/probe_resident.py RUN_DIR NEXT_STEP`` on a run made by
``bench_page.make_directory`` (lines are appended to RUN_DIR: give it a copy).

With the spill window at 0 rows, every page of a spilled column is given back before each part
of ``run_page.live`` runs (the parts are wrapped); the columns with more than 30 % of their pages
mapped afterwards (``/proc/self/pagemap``, bit 63) are what that part read. Mapped pages include
the kernel's fault-around (16 pages around each read), so scattered reads of a short column show
as whole-column reads: use a run of a few million rows. Needs read access to pagemap (root).
"""

from __future__ import annotations

import functools
import gc
import mmap
import os
import struct
import sys
from pathlib import Path
from typing import Any

os.environ["THALIA_DASHBOARD_SPILL_RECENT_ROWS"] = "0"
os.environ["THALIA_DASHBOARD_SPILL_MIN_BYTES"] = "65536"
ROOT = Path(__file__).resolve().parent.parent
sys.path[:0] = [str(ROOT), str(ROOT / "benchmarks")]

from bench_page import PAGE_SECTIONS, append_lines  # noqa: E402
from streamlit.testing.v1 import AppTest  # noqa: E402

from dashboard.page import (  # noqa: E402
    alert_history,
    run_page,
    sections,
    system_section,
    trainval_panels,
)
from dashboard.reading.watcher import RunWatcher  # noqa: E402

PARTS = {
    run_page: ("rank_frame", "run_facts", "summary_section", "run_lifecycle", "_rank"),
    sections: ("health_warnings", *PAGE_SECTIONS),
    system_section: ("system", "config"),
    trainval_panels: ("train_val_panels",),
    alert_history: ("update", "section"),
}
ARMED = [False]


def mapped_share(values: Any) -> float:
    """The share of ``values``' pages mapped in this process."""
    addr = values.__array_interface__["data"][0]
    first, last = addr // mmap.PAGESIZE, (addr + values.nbytes - 1) // mmap.PAGESIZE
    with open("/proc/self/pagemap", "rb") as fh:
        fh.seek(first * 8)
        data = fh.read((last - first + 1) * 8)
    flags = struct.unpack(f"{len(data) // 8}Q", data)
    return sum(v >> 63 for v in flags) / len(flags)


def stores() -> dict[str, Any]:
    watchers = [o for o in gc.get_objects() if isinstance(o, RunWatcher)]
    return watchers[0]._reader._stores if watchers else {}


def touched() -> list[str]:
    out = []
    for kind, store in stores().items():
        table = store._table
        for col, buf in table._bufs.arrays.items():
            if col in table._bufs.spilled and table.n and mapped_share(buf[: table.n]) > 0.3:
                out.append(f"{kind}.{col}")
    return out


def wrap(module: Any, name: str) -> None:
    inner = getattr(module, name)

    @functools.wraps(inner)
    def probed(*args: Any, **kwargs: Any) -> Any:
        for store in stores().values():
            store.release()
        result = inner(*args, **kwargs)
        read = touched()
        if read and ARMED[0]:
            print(f"  {module.__name__.rsplit('.', 1)[-1]}.{name}: {', '.join(read)}")
        return result

    setattr(module, name, probed)


def census() -> None:
    """After a whole tick: the resident MiB of every spill file still mapped, by owner."""
    from dashboard.reading.spill import Buffers

    owners: dict[int, str] = {}
    for obj in gc.get_objects():
        for attr, value in getattr(obj, "__dict__", {}).items() if hasattr(obj, "__dict__") else ():
            if isinstance(value, Buffers):
                owners[id(value)] = f"{type(obj).__name__}.{attr}"
    rows = []
    for obj in gc.get_objects():
        if isinstance(obj, Buffers):
            for col, buf in obj.arrays.items():
                if col in obj.spilled and buf.size:
                    mib = mapped_share(buf) * buf.nbytes / 2**20
                    if mib >= 1:
                        rows.append((mib, owners.get(id(obj), "?"), col, buf.nbytes / 2**20))
    for mib, owner, col, size in sorted(rows, reverse=True)[:25]:
        print(f"  {mib:8.1f} MiB resident of {size:8.1f}  {owner}.{col}")
    print(f"  total {sum(r[0] for r in rows):.1f} MiB resident in spill mappings")


def main() -> None:
    run, step = Path(sys.argv[1]), int(sys.argv[2])
    for module, names in PARTS.items():
        for name in names:
            wrap(module, name)
    os.environ["THALIA_CHECKPOINT_DIR"] = str(run)
    app = AppTest.from_file(str(ROOT / "dashboard" / "app.py"), default_timeout=900).run()
    for tick in range(2):  # the first tick settles (pyramids built); the second is measured
        step = append_lines(run, step, 1000, tick)
        ARMED[0] = tick == 1
        print(f"tick {tick}" + (": columns each part read" if ARMED[0] else ""))
        app.run()
        assert not app.exception, app.exception
        if ARMED[0]:
            print("after the tick: spill pages still resident")
            census()


if __name__ == "__main__":
    main()
