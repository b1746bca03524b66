"""A long run served for real: the dashboard server's memory and CPU while a page is open and the
run grows.

Run: ``.venv/bin/python benchmarks/bench_served_rss.py --run DIR [--seconds 120]`` on a run made
by ``bench_page.make_directory`` (``bench_refresh.py --keep DIR --events N`` makes one). Lines are
appended to ``DIR``'s log (1,000 a second, steps continuing), so give it a copy you can spare.

Starts ``dashboard/app.py`` on ``DIR`` (the spill directory is the default one, outside ``DIR``),
opens the page in Chromium with auto-refresh at 1 s, waits for the first render, then samples the
server's RSS (``/proc/PID/status``: anonymous, file-backed and shared pages) ten times a second
while a writer appends. Prints the time to the first render, the peak RSS (the process's high-water
mark, first render included), the p10 (between ticks) / median / max RSS and the CPU per
second over the live window.
Target (issue 16): a 30M-line run served under 1 GiB RSS.
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path[:0] = [str(ROOT / "benchmarks"), str(ROOT / "tests")]

from bench_refresh import APP, Writer, open_page, server  # noqa: E402
from server_helpers import CHROMIUM, CHROMIUM_ARGS  # noqa: E402


def status_mib(pid: int) -> dict[str, float]:
    """The VmRSS / VmHWM / RssAnon / RssFile / RssShmem lines of ``/proc/PID/status``, in MiB."""
    out = {}
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        key, _, value = line.partition(":")
        if key in ("VmRSS", "VmHWM", "RssAnon", "RssFile", "RssShmem"):
            out[key] = int(value.split()[0]) / 1024
    return out


def last_step(log: Path) -> int:
    with open(log, "rb") as fh:
        fh.seek(max(0, log.stat().st_size - 65536))
        tail = fh.read().splitlines()
    return int(json.loads(tail[-1])["step"])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--run", type=Path, required=True)
    parser.add_argument("--seconds", type=float, default=120.0, help="live window")
    parser.add_argument("--first-timeout", type=float, default=1800.0)
    args = parser.parse_args()
    if not CHROMIUM.exists():
        print(f"skipped: {CHROMIUM} is missing (make browser installs it)")
        return
    from playwright.sync_api import sync_playwright

    run = args.run.resolve()
    size = (run / "training_log.jsonl").stat().st_size
    print(f"run: {run} ({size / 1e9:.2f} GB of log)")
    with server(APP, ["--checkpoint-dir", str(run)]) as (url, proc), sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
        t0 = time.perf_counter()
        page, _cdp, _counters = open_page(
            browser, url, real=True, first_timeout_s=args.first_timeout
        )
        first = time.perf_counter() - t0
        after_first = status_mib(proc.pid)
        print(f"first render after {first:.0f} s; RSS then {after_first}")
        samples, cpu = [], []
        with Writer(run, last_step(run / "training_log.jsonl") + 1):
            end = time.monotonic() + args.seconds
            c_prev = sum(proc.cpu_times()[:2])
            while time.monotonic() < end:
                for _ in range(10):  # 10 samples a second: between ticks and inside them
                    page.wait_for_timeout(100)
                    samples.append(status_mib(proc.pid) | {"t": time.monotonic() - end})
                c_now = sum(proc.cpu_times()[:2])
                cpu.append(c_now - c_prev)
                c_prev = c_now
        browser.close()
    rss = sorted(s["VmRSS"] for s in samples)
    print(
        f"live {args.seconds:.0f} s: RSS p10 {rss[len(rss) // 10]:,.0f} MiB (between ticks), "
        f"median {statistics.median(rss):,.0f} MiB, max {rss[-1]:,.0f} MiB (anon median "
        f"{statistics.median(s['RssAnon'] for s in samples):,.0f}, file median "
        f"{statistics.median(s['RssFile'] for s in samples):,.0f}, shared-anonymous median "
        f"{statistics.median(s['RssShmem'] for s in samples):,.0f}); peak (VmHWM, first render "
        f"included) {samples[-1]['VmHWM']:,.0f} MiB; server CPU per second median "
        f"{statistics.median(cpu):.3f} s"
    )
    print("highest samples (seconds into the live window: VmRSS / anon / file / shared-anon MiB):")
    for s in sorted(samples, key=lambda s: -s["VmRSS"])[:8]:
        print(
            f"  {s['t'] + args.seconds:5.1f} s: {s['VmRSS']:,.0f} / {s['RssAnon']:,.0f} / "
            f"{s['RssFile']:,.0f} / {s['RssShmem']:,.0f}"
        )


if __name__ == "__main__":
    main()
