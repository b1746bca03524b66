"""``sftp://`` against a real SSH server on 127.0.0.1: asyncssh's SFTP server (what sshfs, the
``ssh`` extra, is built on) in a thread, key auth with keys made in a temp dir, chrooted to the
test's directory. Debian's openssh-server is not installed here; this server speaks the same
protocol. Skipped with a reason when asyncssh or sshfs is missing."""

from __future__ import annotations

import asyncio
import json
import socket
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from dashboard import RunWatcher, load_training_state
from dashboard.reading.remote_fs import FsspecFileSystem, filesystem_for

asyncssh = pytest.importorskip("asyncssh", reason="needs asyncssh (the ssh extra: sshfs)")
pytest.importorskip("sshfs", reason="needs sshfs (the ssh extra)")


def _lines(steps: range) -> str:
    return "".join(
        json.dumps({"event_type": "metric", "step": s, "wall_time": 1.0 + s, "loss": 0.5}) + "\n"
        for s in steps
    )


@pytest.fixture
def sftp(tmp_path: Path) -> Iterator[tuple[str, dict[str, Any], Path]]:
    """(URL prefix, storage options, the directory the server serves as /)."""
    root = tmp_path / "served"
    root.mkdir()
    client_key = asyncssh.generate_private_key("ssh-ed25519")
    client_key.write_private_key(str(tmp_path / "id_ed25519"))
    authorized = asyncssh.import_authorized_keys(client_key.export_public_key().decode())
    host_key = asyncssh.generate_private_key("ssh-ed25519")
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    loop = asyncio.new_event_loop()
    started = threading.Event()
    servers: list[Any] = []

    def serve() -> None:
        asyncio.set_event_loop(loop)

        async def start() -> None:
            servers.append(
                await asyncssh.listen(
                    "127.0.0.1", port, server_host_keys=[host_key],
                    authorized_client_keys=authorized,
                    sftp_factory=lambda chan: asyncssh.SFTPServer(chan, chroot=str(root)),
                )
            )  # fmt: skip
            started.set()

        loop.run_until_complete(start())
        loop.run_forever()

    thread = threading.Thread(target=serve, name="test-sftp-server", daemon=True)
    thread.start()
    assert started.wait(30), "the SFTP server did not start"
    options = {"client_keys": [str(tmp_path / "id_ed25519")], "known_hosts": None,
               "username": "trainer"}  # fmt: skip
    try:
        yield f"sftp://127.0.0.1:{port}", options, root
    finally:

        async def stop() -> None:
            servers[0].close()
            await servers[0].wait_closed()

        asyncio.run_coroutine_threadsafe(stop(), loop).result(30)
        loop.call_soon_threadsafe(loop.stop)
        thread.join(30)
        loop.close()


def test_a_run_loads_and_grows_over_sftp(sftp: tuple[str, dict[str, Any], Path]) -> None:
    prefix, options, root = sftp
    (root / "run").mkdir()
    log = root / "run" / "training_log.jsonl"
    log.write_text(_lines(range(0, 50)))
    (root / "run" / "metadata_49.json").write_text(json.dumps({"step": 49, "current_stage": 1}))
    state = load_training_state(f"{prefix}/run", storage_options=options)
    assert state.error is None and state.where == f"{prefix}/run"
    assert len(state.metrics_history) == 50 and state.metadata is not None
    fs, location = filesystem_for(f"{prefix}/run", options)
    assert isinstance(fs, FsspecFileSystem)
    watcher = RunWatcher(location, fs=fs, poll_interval_s=0)
    assert len(watcher.refresh().metrics_history) == 50
    new = _lines(range(50, 60))
    with log.open("a") as f:
        f.write(new)
    before = fs.bytes_fetched
    state = watcher.refresh()
    assert list(state.metrics_history["step"]) == list(range(60))
    assert len(new) <= fs.bytes_fetched - before <= len(new) + 128


def test_a_wrong_key_is_a_clear_error(
    sftp: tuple[str, dict[str, Any], Path], tmp_path: Path
) -> None:
    prefix, options, root = sftp
    (root / "run").mkdir()
    other = asyncssh.generate_private_key("ssh-ed25519")
    other.write_private_key(str(tmp_path / "other"))
    state = load_training_state(
        f"{prefix}/run", storage_options={**options, "client_keys": [str(tmp_path / "other")]}
    )
    assert state.error is not None and f"{prefix}/run" in state.error
    assert "~/.ssh/config" in state.error
