"""A real S3-protocol server on 127.0.0.1 for the remote-directory tests (moto's
``ThreadedMotoServer``), with the standard AWS environment pointing at it.

Skipped with a reason when moto or s3fs is not installed (``pip install -e '.[dev]'``).
"""

from __future__ import annotations

import json
import socket
import urllib.request
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

import pytest

#: keep failures fast: one attempt, short timeouts (a stopped server answers nothing)
FAST_FAIL: dict[str, Any] = {
    "config_kwargs": {"connect_timeout": 1, "read_timeout": 2, "retries": {"max_attempts": 1}},
}


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@dataclass
class S3:
    """A running server: its endpoint and an s3fs client to upload with (independent of the
    reader's own file system)."""

    endpoint: str
    server: Any
    client: Any

    def put(self, key: str, data: bytes) -> None:
        self.client.pipe_file(key, data)

    def stop(self) -> None:
        self.server.stop()


@contextmanager
def s3_server(monkeypatch: pytest.MonkeyPatch, bucket: str = "runs") -> Iterator[S3]:
    """Start moto on a free port, point ``AWS_*`` at it, create ``bucket``; stop afterwards."""
    moto_server = pytest.importorskip("moto.server", reason="needs moto[server] (the dev extra)")
    s3fs = pytest.importorskip("s3fs", reason="needs s3fs (the s3 extra)")
    port = free_port()
    server = moto_server.ThreadedMotoServer(ip_address="127.0.0.1", port=port, verbose=False)
    server.start()
    endpoint = f"http://127.0.0.1:{port}"
    for key, value in {
        "AWS_ACCESS_KEY_ID": "testing",
        "AWS_SECRET_ACCESS_KEY": "testing",
        "AWS_DEFAULT_REGION": "us-east-1",
        "AWS_ENDPOINT_URL": endpoint,
    }.items():
        monkeypatch.setenv(key, value)
    monkeypatch.delenv("AWS_PROFILE", raising=False)
    try:
        # moto keeps its buckets per process: start every server empty
        urllib.request.urlopen(urllib.request.Request(endpoint + "/moto-api/reset", method="POST"))
        client = s3fs.S3FileSystem(skip_instance_cache=True)
        client.mkdir(bucket)
        yield S3(endpoint, server, client)
    finally:
        server.stop()


def jsonl(records: list[dict[str, Any]]) -> bytes:
    """Lines as an independent writer (plain json, not our logger) writes them."""
    return b"".join(json.dumps(r).encode() + b"\n" for r in records)


def metric_lines(start: int, stop: int, *, wall0: float = 1000.0) -> bytes:
    return jsonl(
        [
            {"event_type": "metric", "step": s, "wall_time": wall0 + s, "loss": 1.0 / (s + 1)}
            for s in range(start, stop)
        ]
    )
