"""What one auto-refresh of the run page costs end to end, against a floor page, in one run.

Run: ``.venv/bin/python benchmarks/bench_refresh.py [--events 1000000] [--keep DIR] [--rounds 3]``

Two real Streamlit servers run side by side, each started the way ``thalia-dashboard`` starts its
children (``python -m dashboard.page.serve run SCRIPT``):

- the **page**: ``dashboard/app.py`` on a run of ``--events`` events (written once by
  ``bench_page.make_directory``, reused from ``--keep``), auto-refresh set to 1 s in the browser;
- the **floor**: ``benchmarks/floor_page.py``, which sends, every second, the same visible
  payload (title, cards, the charts the page drew, the tables) from chart objects captured from
  the page once, already down-sampled: nothing read, nothing computed; served with the page's
  own ``[runner]`` / ``[global]`` Streamlit settings (:func:`page_cost_flags`).

Headless Chromium (Playwright, ``/usr/bin/chromium``) opens one of them at a time; rounds
alternate page, floor (and with ``--baseline`` an older checkout's page, "before"), page, floor... and in each a window with nothing new (**idle**) and a
window during which 1,000 lines are appended to the run every second (**live**; the floor then
changes one value of each chart per run, so no payload repeats). Per window it records:

- server CPU seconds (user + system of the server process) per refresh;
- bytes the browser received on the WebSocket per refresh (refreshes = ``script_finished``
  messages, counted from the decoded ``ForwardMsg`` frames);
- Chromium main-thread time per refresh (CDP ``Performance.getMetrics`` ``TaskDuration``).

It prints the medians over rounds and the page/floor ratios, and the bytes per refresh by element
kind (``el:vega_lite_chart``, ``el:dataframe``, ``ref_hash`` for an element the browser had
cached...), to see what a page sends beyond the floor. Targets (issue 16): server CPU
<= 1.3x the floor, bytes per live refresh <= 1.2x, main-thread time <= 1.3x.
"""

from __future__ import annotations

import argparse
import contextlib
import os
import pickle
import shutil
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path[:0] = [str(ROOT), str(ROOT / "benchmarks"), str(ROOT / "tests")]

import psutil  # noqa: E402
from bench_loader import make_lines  # noqa: E402
from bench_page import make_directory  # noqa: E402
from server_helpers import CHROMIUM, CHROMIUM_ARGS, free_port, wait_for_health  # noqa: E402

FLOOR = ROOT / "benchmarks" / "floor_page.py"
PAGE_CONFIG = ROOT / "dashboard" / ".streamlit" / "config.toml"
APP = ROOT / "dashboard" / "app.py"
LINES_PER_S = 1000


def capture_floor(run: Path, out: Path) -> None:
    """Run the page once (AppTest) and pickle what it showed: cards, charts, tables.

    The charts are recorded where the page builds them (the builders of
    :mod:`dashboard.page.charts`, looked up on the module at call time), so the floor holds the
    same Altair objects whatever way the page then sends them."""
    from streamlit.testing.v1 import AppTest

    from dashboard.page import charts as builders

    charts: list[object] = []

    def recording(build: Any) -> Any:
        def wrapper(*args: object, **kwargs: object) -> object:
            chart = build(*args, **kwargs)
            if chart is not None:
                charts.append(chart)
            return chart

        return wrapper

    for name in (
        "metric_chart",
        "neuron_count_chart",
        "capacity_by_region_chart",
        "consolidation_chart",
        "gpu_memory_chart",
    ):
        setattr(builders, name, recording(getattr(builders, name)))
    os.environ["THALIA_CHECKPOINT_DIR"] = str(run)
    at = AppTest.from_file(str(APP), default_timeout=900)
    at.run(timeout=900)
    if at.exception:
        raise SystemExit(f"the page raised: {[e.value for e in at.exception]}")
    cards = [(m.label, str(m.value)) for m in at.metric]
    tables = [d.value for d in at.dataframe]
    for chart in charts:  # page_chart's instance to_dict (no validation): floor_page sets it again
        vars(chart).pop("to_dict", None)
    with open(out, "wb") as fh:
        pickle.dump({"cards": cards, "charts": charts, "tables": tables}, fh)
    print(f"floor payload: {len(cards)} cards, {len(charts)} charts, {len(tables)} tables")


def page_cost_flags(config: Path = PAGE_CONFIG) -> list[str]:
    """The run page's own ``[runner]`` and ``[global]`` settings as command-line flags, for the
    floor server: Streamlit reads a ``.streamlit/config.toml`` next to the script, so the floor
    (in ``benchmarks/``) would otherwise run with Streamlit's defaults (a full GC after every run,
    the default message-cache threshold) and pay costs the page does not."""
    import tomllib

    settings = tomllib.loads(config.read_text(encoding="utf-8"))
    flags = []
    for section in ("runner", "global"):
        for name, value in settings.get(section, {}).items():
            shown = str(value).lower() if isinstance(value, bool) else str(value)
            flags += [f"--{section}.{name}", shown]
    return flags


@contextlib.contextmanager
def server(
    script: Path, args: list[str], root: Path = ROOT, flags: Sequence[str] = ()
) -> Iterator[tuple[str, psutil.Process]]:
    """A Streamlit server for ``script`` running the code under ``root``, with extra Streamlit
    ``flags``."""
    port = free_port()
    cmd = [sys.executable, "-m", "dashboard.page.serve", "run", str(script),
           "--server.port", str(port), "--server.address", "127.0.0.1",
           "--server.headless", "true", "--browser.gatherUsageStats", "false",
           "--server.fileWatcherType", "none", "--client.toolbarMode", "viewer",
           *flags, "--", *args]  # fmt: skip
    path = os.environ.get("PYTHONPATH")  # kept after the root (a profiling hook, say)
    env = {**os.environ, "PYTHONPATH": str(root) + (os.pathsep + path if path else "")}
    proc = subprocess.Popen(
        cmd, cwd=root, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE
    )
    try:
        wait_for_health(f"http://127.0.0.1:{port}/_stcore/health", proc)  # type: ignore[arg-type]
        yield f"http://127.0.0.1:{port}/", psutil.Process(proc.pid)
    finally:
        proc.terminate()
        proc.wait(timeout=30)


class Writer:
    """Appends ``LINES_PER_S`` lines a second to the run's log while running (steps continue)."""

    def __init__(self, run: Path, next_step: int) -> None:
        self.log, self.step = run / "training_log.jsonl", next_step
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    def _loop(self) -> None:
        t = time.monotonic()
        while not self._stop.is_set():
            lines = make_lines(self.step, LINES_PER_S, self.step)
            with open(self.log, "a", encoding="utf-8") as fh:
                fh.write("\n".join(lines) + "\n")
            self.step += LINES_PER_S
            t += 1.0
            self._stop.wait(max(0.0, t - time.monotonic()))

    def __enter__(self) -> Writer:
        self._stop.clear()
        self._thread = threading.Thread(target=self._loop, daemon=True)
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        assert self._thread is not None
        self._thread.join()


@dataclass
class Counters:
    """What the browser saw on the WebSocket (filled by Playwright's event callbacks)."""

    received: int = 0
    finished: int = 0
    kinds: dict[str, int] = field(default_factory=dict)
    #: bytes received per element kind (``element_kind``), for the per-element breakdown
    element_bytes: dict[str, int] = field(default_factory=dict)
    #: the server process, whose CPU time is read at each ``script_finished``
    proc: psutil.Process | None = None
    #: at each ``script_finished``: (bytes received, server CPU s, bytes by element kind)
    marks: list[tuple[int, float, dict[str, int]]] = field(default_factory=list)

    def on_frame(self, payload: bytes | str) -> None:
        from streamlit.proto.ForwardMsg_pb2 import ForwardMsg

        data = payload.encode() if isinstance(payload, str) else payload
        self.received += len(data)
        try:
            msg = ForwardMsg.FromString(data)
        except Exception:  # a frame that is no ForwardMsg counts as bytes only
            return
        kind = msg.WhichOneof("type") or "?"
        self.kinds[kind] = self.kinds.get(kind, 0) + 1
        what = element_kind(msg)
        self.element_bytes[what] = self.element_bytes.get(what, 0) + len(data)
        if kind == "script_finished":
            self.finished += 1
            cpu = _cpu(self.proc) if self.proc is not None else float("nan")
            self.marks.append((self.received, cpu, dict(self.element_bytes)))


def element_kind(msg: Any) -> str:
    """What a ForwardMsg carries: ``el:<element type>``, ``block:<block type>``, ``ref_hash``
    (an element the browser had cached), or the message type."""
    kind = msg.WhichOneof("type") or "?"
    if kind != "delta":
        return str(kind)
    delta = msg.delta
    sub = delta.WhichOneof("type") or "?"
    if sub == "new_element":
        return "el:" + (delta.new_element.WhichOneof("type") or "?")
    if sub == "add_block":
        return "block:" + (delta.add_block.WhichOneof("type") or "?")
    return "delta:" + sub


def _task_duration(cdp: object) -> float:
    metrics = cdp.send("Performance.getMetrics")["metrics"]  # type: ignore[attr-defined]
    return float(next(m["value"] for m in metrics if m["name"] == "TaskDuration"))


def _cpu(proc: psutil.Process) -> float:
    times = proc.cpu_times()
    return float(times.user + times.system)


Row = tuple[float, float, float, int, dict[str, float]]


def measure(
    page: object, cdp: object, counters: Counters, proc: psutil.Process, window: float
) -> Row:
    """(server CPU s, bytes, main-thread s) per refresh, refreshes, and bytes per refresh by
    element kind, over ``window`` seconds.

    Bytes and server CPU are counted from the first to the last ``script_finished`` inside the
    window (whole refreshes only: with a few refreshes a window, a refresh cut by the window's
    edges skewed the per-refresh figures by a third either way); main-thread time, read over
    CDP, from edge to edge."""
    counters.proc = proc
    c0, b0, f0, t0 = _cpu(proc), counters.received, counters.finished, _task_duration(cdp)
    e0, m0 = dict(counters.element_bytes), len(counters.marks)
    page.wait_for_timeout(window * 1000)  # type: ignore[attr-defined]
    c1, b1, f1, t1 = _cpu(proc), counters.received, counters.finished, _task_duration(cdp)
    e1, marks = dict(counters.element_bytes), counters.marks[m0:]
    n = max(f1 - f0, 1)
    main_s = (t1 - t0) / n
    if len(marks) >= 2:  # whole refreshes between the first and the last finish
        (b0, c0, e0), (b1, c1, e1) = marks[0], marks[-1]
        n = len(marks) - 1
    by_kind = {k: (v - e0.get(k, 0)) / n for k, v in e1.items()}
    return (c1 - c0) / n, (b1 - b0) / n, main_s, f1 - f0, by_kind


def open_page(browser: object, url: str, *, real: bool, first_timeout_s: float):
    page = browser.new_page(viewport={"width": 1400, "height": 1000})  # type: ignore[attr-defined]
    counters = Counters()
    page.on("websocket", lambda ws: ws.on("framereceived", counters.on_frame))
    cdp = page.context.new_cdp_session(page)
    cdp.send("Performance.enable")
    page.goto(url)
    page.get_by_text("Thalia curriculum training monitor").first.wait_for(
        timeout=first_timeout_s * 1000
    )
    if real:
        page.get_by_text("Training step").first.wait_for(timeout=first_timeout_s * 1000)
        slider = page.locator('[data-testid="stSidebar"] input[type="range"]').first
        slider.focus()
        slider.press("Home")  # "Refresh every (s)" to its minimum, 1 s
        page.wait_for_function(
            '() => document.querySelector(\'[data-testid="stSidebar"] input[type="range"]\')'
            ".value === '1'"
        )
    page.wait_for_timeout(3000)  # settle: the rerun after the slider, the first fragment runs
    return page, cdp, counters


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--events", type=int, default=1_000_000)
    parser.add_argument("--keep", help="directory holding the generated run (reused if present)")
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--window", type=float, default=10.0, help="seconds per measured window")
    parser.add_argument(
        "--baseline",
        help="a checkout of older code (e.g. `git archive REV | tar -x -C DIR`): its page is "
        "measured too, as 'before', in the same interleaved run",
    )
    parser.add_argument(
        "--variant",
        action="append",
        default=[],
        metavar="NAME=FLAGS",
        help="also measure this code's page served with extra Streamlit flags, e.g. "
        "'nogc=--runner.postScriptGC false'",
    )
    parser.add_argument("--capture", nargs=2, metavar=("RUN", "OUT"), help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.capture:
        capture_floor(Path(args.capture[0]), Path(args.capture[1]))
        return
    if not CHROMIUM.exists():
        print(f"skipped: {CHROMIUM} is missing (make browser installs it)")
        return
    tmp = Path(tempfile.mkdtemp(prefix="thalia-bench-refresh-"))
    source = Path(args.keep).resolve() if args.keep else tmp / "source"
    run = tmp / "run"
    try:
        make_directory(source, args.events)
        if args.keep:  # only read (each page gets its own copy): no copy of a big kept run
            run = source
        else:
            shutil.copytree(source, run)
        payload, flag = tmp / "floor.pickle", tmp / "live.flag"
        subprocess.run(
            [sys.executable, __file__, "--capture", str(run), str(payload)], check=True, cwd=ROOT
        )
        results = run_rounds(args, run, payload, flag)
        report(args.events, results)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


def run_rounds(args: argparse.Namespace, run: Path, payload: Path, flag: Path):
    """Alternate the pages, round after round: an idle then a live window each."""
    from playwright.sync_api import sync_playwright

    results: dict[tuple[str, str], list[Row]] = {}
    runs: dict[str, Path] = {}
    writers: dict[str, Writer] = {}  # one per run: its steps continue from window to window

    def own_run(name: str) -> list[str]:
        """A copy of the run for one page: lines appended while another page is measured
        must not reach this one as a backlog in its idle window."""
        runs[name] = payload.parent / f"run-{name}"
        shutil.copytree(run, runs[name])
        return ["--checkpoint-dir", str(runs[name])]

    with contextlib.ExitStack() as stack:
        pages = [("page", *stack.enter_context(server(APP, own_run("page"))))]
        floor = server(FLOOR, [str(payload), str(flag)], flags=page_cost_flags())
        pages.append(("floor", *stack.enter_context(floor)))
        if args.baseline:
            base = Path(args.baseline).resolve()
            app = base / "dashboard" / "app.py"
            pages.append(("before", *stack.enter_context(server(app, own_run("before"), base))))
        for variant in args.variant:
            name, _, flags = variant.partition("=")
            served = server(APP, own_run(name), flags=flags.split())
            pages.append((name, *stack.enter_context(served)))
        pw = stack.enter_context(sync_playwright())
        browser = pw.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
        stack.callback(browser.close)
        for _ in range(args.rounds):
            for name, url, proc in pages:
                page, cdp, counters = open_page(
                    browser, url, real=name != "floor", first_timeout_s=900
                )
                results.setdefault((name, "idle"), []).append(
                    measure(page, cdp, counters, proc, args.window)
                )
                if name == "floor":
                    live: contextlib.AbstractContextManager[object] = _flag(flag)
                else:
                    live = writers.setdefault(name, Writer(runs[name], args.events + 10_000_000))
                with live:
                    page.wait_for_timeout(2000)
                    results.setdefault((name, "live"), []).append(
                        measure(page, cdp, counters, proc, args.window)
                    )
                page.close()
                print(f"  {name}: {counters.kinds}", flush=True)
        for name, _url, proc in pages:
            print(f"  {name} server RSS at the end: {proc.memory_info().rss / 2**20:,.0f} MiB")
    return results


@contextlib.contextmanager
def _flag(path: Path) -> Iterator[None]:
    path.touch()
    try:
        yield
    finally:
        path.unlink()


def report(events: int, results: dict[tuple[str, str], list[Row]]) -> None:
    print(f"\nevents: {events:,}; medians over rounds (per refresh)")
    print(f"{'':12}{'server CPU s':>14}{'bytes':>12}{'Chromium main s':>17}{'refreshes':>11}")
    med: dict[tuple[str, str], tuple[float, ...]] = {}
    for key, rows in sorted(results.items()):
        med[key] = tuple(statistics.median(r[i] for r in rows) for i in range(4))
        cpu, sent, main_s, n = med[key]
        print(f"{key[0] + ' ' + key[1]:12}{cpu:14.3f}{sent:12,.0f}{main_s:17.3f}{n:11.0f}")
        each = ", ".join(f"{r[0]:.3f} s / {r[1]:,.0f} B / {r[2]:.3f} s / {r[3]}" for r in rows)
        print(f"{'':12}  rounds: {each}")
    breakdown(results)
    for name in sorted({key[0] for key in med} - {"floor"}):
        for mode in ("idle", "live"):
            if (name, mode) not in med:
                continue
            p, f = med[(name, mode)], med[("floor", mode)]
            ratios = [p[i] / f[i] if f[i] else float("nan") for i in range(3)]
            print(
                f"{name}/floor {mode}: server CPU {ratios[0]:.2f}x, bytes {ratios[1]:.2f}x, "
                f"Chromium main thread {ratios[2]:.2f}x"
            )


def breakdown(results: dict[tuple[str, str], list[Row]], top: int = 12) -> None:
    """Bytes per refresh by element kind (medians over rounds), the largest first."""
    print("\nbytes per refresh by element kind (medians over rounds)")
    for key, rows in sorted(results.items()):
        kinds = {k for r in rows for k in r[4]}
        med = {k: statistics.median(r[4].get(k, 0.0) for r in rows) for k in kinds}
        shown = sorted(med.items(), key=lambda kv: -kv[1])[:top]
        print(f"{key[0] + ' ' + key[1]:12}" + ", ".join(f"{k} {v:,.0f}" for k, v in shown if v))


if __name__ == "__main__":
    main()
