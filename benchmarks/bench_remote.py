"""Benchmark reading a growing remote run: bytes transferred and time per refresh.

Run: ``.venv/bin/python benchmarks/bench_remote.py [--lines 200000] [--new 1000] [--rounds 5]``
(``--lines 1000000`` for the 1M-line history of the issue). Needs ``moto[server]`` and ``s3fs``
(the dev extra): an S3-protocol server (moto) is started on 127.0.0.1 for the run.

Prints, for a history of ``--lines`` lines and ``--new`` new lines per round:
- the first load through ``s3://`` (bytes fetched, time);
- one log object re-uploaded longer each round (what a sync job does): the bytes the refresh
  fetched by range reads and its time (median), against re-downloading the whole object
  (``cat_file``) and parsing it from scratch (``load_training_state``) — what a reader without
  offsets would pay;
- segment mode (the history in closed segments, one new segment per round): the same figures;
- an idle refresh (nothing new): bytes and time.

Bytes are the wire figure. Times include moto's own cost, which copies the whole object for
every range request (so a range read of a 200 MB object takes ~0.2 s there, not on S3); the
"waiting on the server" figure says how much of a refresh that was.
"""

from __future__ import annotations

import argparse
import json
import os
import socket
import statistics
import sys
import time
import urllib.request
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from dashboard.reading.remote_fs import FsspecFileSystem, filesystem_for
from dashboard.reading.watcher import RunWatcher, load_training_state
from thalia_logging.contract import segment_name


def lines(start: int, count: int) -> bytes:
    t0 = 1.7e9
    return b"".join(
        json.dumps(
            {
                "event_type": "metric",
                "step": i,
                "wall_time": t0 + i * 0.01,
                "loss": 1.0 / (1 + i),
                "firing_rate": 0.1,
                "capacity": 0.5,
                "performance": 0.8,
                "neuron_counts": {"cortex": 1024, "hippocampus": 512},
            }
        ).encode()
        + b"\n"
        for i in range(start, start + count)
    )


def start_server() -> tuple[object, str]:
    from moto.server import ThreadedMotoServer

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=port, verbose=False)
    server.start()
    endpoint = f"http://127.0.0.1:{port}"
    os.environ.update(
        AWS_ACCESS_KEY_ID="bench",
        AWS_SECRET_ACCESS_KEY="bench",
        AWS_DEFAULT_REGION="us-east-1",
        AWS_ENDPOINT_URL=endpoint,
    )
    urllib.request.urlopen(urllib.request.Request(endpoint + "/moto-api/reset", method="POST"))
    return server, endpoint


def watcher_for(url: str) -> tuple[RunWatcher, FsspecFileSystem]:
    fs, location = filesystem_for(url)
    assert isinstance(fs, FsspecFileSystem)
    return RunWatcher(location, fs=fs, poll_interval_s=0), fs


def timed(fn: object) -> tuple[float, object]:
    t = time.perf_counter()
    out = fn()  # type: ignore[operator]
    return time.perf_counter() - t, out


def mb(n: float) -> str:
    return f"{n / 1e6:,.2f} MB"


def bench_one_object(client: object, args: argparse.Namespace) -> None:
    key, url = "bench/one/training_log.jsonl", "s3://bench/one"
    history = lines(0, args.lines)
    client.pipe_file(key, history)  # type: ignore[attr-defined]
    watcher, fs = watcher_for(url)
    secs, state = timed(watcher.refresh)
    print(f"history: {args.lines:,} lines, {mb(len(history))} in one object")
    print(f"  first load: {mb(fs.bytes_fetched)} fetched in {secs:.2f} s "
          f"({len(state.metrics_history):,} rows)")  # type: ignore[attr-defined]  # fmt: skip
    refresh_s, refresh_b, full_s, full_b, reparse_s = [], [], [], [], []
    requests, waited = [], []
    fetch = fs.fetch

    def timed_fetch(path: str, begin: int, end: int) -> bytes:
        t = time.perf_counter()
        try:
            return fetch(path, begin, end)
        finally:
            waited[-1] += time.perf_counter() - t

    fs.fetch = timed_fetch  # type: ignore[method-assign]
    start = args.lines
    for _ in range(args.rounds):
        history += lines(start, args.new)
        start += args.new
        client.pipe_file(key, history)  # type: ignore[attr-defined]  # re-uploaded, longer
        before, n_before = fs.bytes_fetched, fs.requests
        waited.append(0.0)
        secs, state = timed(watcher.refresh)
        refresh_s.append(secs)
        refresh_b.append(fs.bytes_fetched - before)
        requests.append(fs.requests - n_before)
        secs, data = timed(lambda: fs.fs.cat_file(key))
        full_s.append(secs)
        full_b.append(len(data))  # type: ignore[arg-type]
        reparse_s.append(timed(lambda: load_training_state(url))[0])
    assert len(state.metrics_history) == start  # type: ignore[attr-defined]
    print(f"  refresh with {args.new:,} new lines (median of {args.rounds}): "
          f"{mb(statistics.median(refresh_b))} fetched in {statistics.median(requests):.0f} range "
          f"requests, {statistics.median(refresh_s) * 1000:.0f} ms "
          f"({statistics.median(waited) * 1000:.0f} ms waiting on the server)")  # fmt: skip
    print(f"  re-download the object: {mb(statistics.median(full_b))}, "
          f"{statistics.median(full_s) * 1000:.0f} ms; re-download + parse (load_training_state): "
          f"{statistics.median(reparse_s):.2f} s")  # fmt: skip
    print(f"  bytes ratio re-download / refresh: "
          f"{statistics.median(full_b) / max(1, statistics.median(refresh_b)):,.0f}x")  # fmt: skip
    before = fs.bytes_fetched
    secs, _ = timed(watcher.refresh)
    print(f"  idle refresh: {fs.bytes_fetched - before} bytes fetched, {secs * 1000:.1f} ms")


def bench_segments(client: object, args: argparse.Namespace) -> None:
    url, per = "s3://bench/seg", max(args.new, args.lines // 50)
    number = 0
    for start in range(0, args.lines, per):
        client.pipe_file(  # type: ignore[attr-defined]
            f"bench/seg/{segment_name(0, number)}", lines(start, min(per, args.lines - start))
        )
        number += 1
    watcher, fs = watcher_for(url)
    secs, _ = timed(watcher.refresh)
    print(f"segment mode: {number} closed segments of {per:,} lines")
    print(f"  first load: {mb(fs.bytes_fetched)} fetched in {secs:.2f} s")
    refresh_s, refresh_b = [], []
    start = args.lines
    for _ in range(args.rounds):
        client.pipe_file(f"bench/seg/{segment_name(0, number)}", lines(start, args.new))  # type: ignore[attr-defined]
        number += 1
        start += args.new
        before = fs.bytes_fetched
        secs, state = timed(watcher.refresh)
        refresh_s.append(secs)
        refresh_b.append(fs.bytes_fetched - before)
    assert len(state.metrics_history) == start  # type: ignore[attr-defined]
    print(f"  refresh with one new segment of {args.new:,} lines (median): "
          f"{mb(statistics.median(refresh_b))} fetched, {statistics.median(refresh_s) * 1000:.0f} ms")  # fmt: skip


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--lines", type=int, default=200_000, help="history lines (1000000 for 1M)")
    p.add_argument("--new", type=int, default=1000, help="new lines per refresh")
    p.add_argument("--rounds", type=int, default=5)
    args = p.parse_args()
    try:
        import s3fs
    except ImportError:
        print("needs s3fs and moto[server]: pip install -e '.[dev]'", file=sys.stderr)
        return 2
    server, _ = start_server()
    try:
        client = s3fs.S3FileSystem(skip_instance_cache=True)
        client.mkdir("bench")
        bench_one_object(client, args)
        bench_segments(client, args)
    finally:
        server.stop()  # type: ignore[attr-defined]
    return 0


if __name__ == "__main__":
    sys.exit(main())
