"""thalia-dashboard: pure helpers table-driven, then one real server start/stop."""

from __future__ import annotations

import io
import os
import signal
import socket
import subprocess
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import psutil
import pytest
from server_helpers import wait_for_health

from dashboard.commands import launcher
from dashboard.commands.launcher import (
    Dashboard,
    LauncherError,
    build_command,
    display_url,
    format_table,
    parse_args,
    pick_ports,
    port_is_free,
    supervise,
    wide_open_note,
)

REPO = Path(__file__).resolve().parents[3]


# --- argument parsing -------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("argv", "dirs", "port", "host", "poll"),
    [
        (["run_a"], ("run_a",), 8501, "127.0.0.1", False),
        (["a", "b", "--port", "9000"], ("a", "b"), 9000, "127.0.0.1", False),
        (["a", "--host", "0.0.0.0", "--poll"], ("a",), 8501, "0.0.0.0", True),
        (["--poll", "a", "b", "c"], ("a", "b", "c"), 8501, "127.0.0.1", True),
    ],
)
def test_parse_args(argv: list[str], dirs: tuple[str, ...], port: int, host: str, poll: bool):
    args = parse_args(argv)
    assert args.dirs == tuple(Path(d) for d in dirs)
    assert (args.port, args.host, args.poll) == (port, host, poll)


@pytest.mark.parametrize(
    "argv",
    [
        [], ["a", "--port", "0"], ["a", "--port", "70000"], ["a", "--port", "x"],
        ["a", "--host", ""], ["a", "--host", "  "], ["a", "--host", "[]"],
        ["a", "--host", "http://127.0.0.1"], ["a", "--host", "127.0.0.1:8501"],
        ["a", "--host", "my host"], ["a", "--host", "a/b"],
    ],
)  # fmt: skip
def test_parse_args_rejects(argv: list[str], capsys: pytest.CaptureFixture[str]):
    with pytest.raises(SystemExit) as exc:
        parse_args(argv)
    assert exc.value.code == 2
    assert "thalia-dashboard" in capsys.readouterr().err


def test_parse_args_explains_an_empty_host(capsys: pytest.CaptureFixture[str]):
    with pytest.raises(SystemExit):
        parse_args(["a", "--host", ""])
    err = capsys.readouterr().err
    assert "--host must name an address to bind, got an empty string" in err
    assert err.count("\n") <= 3  # usage + one error line, no port scan


@pytest.mark.parametrize(
    ("value", "host"), [("[::1]", "::1"), (" localhost ", "localhost"), ("::", "::"),
                        ("box.lan", "box.lan")],
)  # fmt: skip
def test_parse_args_accepts_and_normalises_hosts(value: str, host: str):
    assert parse_args(["a", "--host", value]).host == host


def test_main_says_when_the_host_cannot_be_resolved(tmp_path: Path):
    err = io.StringIO()
    code = main_quiet([str(tmp_path), "--host", "no-such-host.invalid"], stderr=err)
    assert code == 2
    lines = err.getvalue().splitlines()
    assert len(lines) == 2 and "cannot bind --host 'no-such-host.invalid': unknown host" in lines[1]


def test_main_says_when_the_host_is_not_an_address_of_this_machine(tmp_path: Path):
    err = io.StringIO()
    code = main_quiet([str(tmp_path), "--host", "192.0.2.1"], stderr=err)  # TEST-NET-1
    assert code == 2
    lines = err.getvalue().splitlines()
    assert len(lines) == 2, lines  # the caution, then one error line: no port-by-port scan
    assert "cannot bind --host '192.0.2.1'" in lines[1] and "address of this machine" in lines[1]


def test_bind_problem():
    assert launcher.bind_problem("127.0.0.1") is None
    assert launcher.bind_problem("localhost") is None
    assert "unknown host" in str(launcher.bind_problem("no-such-host.invalid"))


# --- command building -------------------------------------------------------------------------


def test_build_command_is_headless_private_and_passes_the_directory():
    cmd = build_command(
        Path("/runs/a"), 8502, "127.0.0.1", python="/py", app_path=Path("/x/app.py")
    )
    assert cmd == [
        "/py", "-m", "dashboard.page.serve", "run", "/x/app.py",
        "--server.port", "8502",
        "--server.address", "127.0.0.1",
        "--server.headless", "true",
        "--browser.gatherUsageStats", "false",
        "--server.fileWatcherType", "none",
        "--client.toolbarMode", "viewer",
        "--server.enableXsrfProtection", "true",
        "--server.enableCORS", "true",
        "--server.allowedHosts", "127.0.0.1",
        "--server.allowedHosts", "::1",
        "--server.allowedHosts", "localhost",
        "--", "--checkpoint-dir", "/runs/a",
    ]  # fmt: skip


def test_build_command_allows_the_host_value_and_extra_names_only():
    cmd = build_command(Path("d"), 1, "192.168.1.5", allowed_hosts=["Box.lan", ""])
    hosts = [cmd[i + 1] for i, arg in enumerate(cmd) if arg == "--server.allowedHosts"]
    assert hosts == ["127.0.0.1", "192.168.1.5", "::1", "box.lan", "localhost"]


def test_build_command_poll_goes_after_the_separator():
    cmd = build_command(Path("d"), 1, "h", poll=True)
    assert cmd[-3:] == ["--checkpoint-dir", "d", "--poll"]
    assert cmd.index("--") < cmd.index("--poll")
    assert cmd[0] == sys.executable
    assert cmd[4] == str(launcher.APP_PATH)


# --- port picking -----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("busy", "count", "start", "expected", "skipped"),
    [
        (set(), 1, 8501, [8501], []),
        (set(), 3, 8501, [8501, 8502, 8503], []),
        ({8501}, 1, 8501, [8502], [8501]),
        ({8502, 8503}, 2, 8501, [8501, 8504], [8502, 8503]),
        ({8500}, 2, 8501, [8501, 8502], []),
    ],
)
def test_pick_ports_counts_up_and_skips_busy_ports(
    busy: set[int], count: int, start: int, expected: list[int], skipped: list[int]
):
    warnings: list[str] = []
    ports = pick_ports(count, start, is_free=lambda p, _h: p not in busy, warn=warnings.append)
    assert ports == expected
    assert len(warnings) == (1 if skipped else 0)  # one summary line, not one per port
    for port in skipped:
        assert str(port) in warnings[0] and "already in use" in warnings[0]
    if skipped:
        assert warnings[0].endswith(f"using {', '.join(map(str, expected))}")


def test_pick_ports_summarises_skipped_ports_as_ranges():
    warnings: list[str] = []
    busy = {8501, 8502, 8503, 8505}
    assert pick_ports(1, 8501, is_free=lambda p, _h: p not in busy, warn=warnings.append) == [8504]
    assert warnings == [
        "thalia-dashboard: ports 8501-8503 are already in use on 127.0.0.1; using 8504"
    ]
    warnings.clear()
    pick_ports(2, 8501, is_free=lambda p, _h: p not in busy, warn=warnings.append)
    assert warnings[0].startswith("thalia-dashboard: ports 8501-8503, 8505 are already")


def test_pick_ports_gives_up_after_a_bounded_number_of_tries():
    tried: list[int] = []
    warnings: list[str] = []

    def never_free(port: int, _host: str) -> bool:
        tried.append(port)
        return False

    with pytest.raises(LauncherError, match=r"no free port between 1000 and 1099 .*--port"):
        pick_ports(1, 1000, is_free=never_free, warn=warnings.append)
    assert len(tried) == launcher.MAX_PORT_TRIES == 100
    assert warnings == ["thalia-dashboard: ports 1000-1099 are already in use on 127.0.0.1"]
    tried.clear()
    with pytest.raises(LauncherError):  # three dashboards get two more tries, not 56,000
        pick_ports(3, 1000, is_free=lambda p, h: p == 1000 or never_free(p, h))
    assert len(tried) == 101


def test_pick_ports_says_what_to_do_when_the_range_runs_out():
    with pytest.raises(LauncherError, match="--port"):
        pick_ports(3, 65534, is_free=lambda p, _h: True, max_port=65535)


@contextmanager
def _listening(port: int = 0) -> Iterator[int]:
    sock = socket.socket()
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind(("127.0.0.1", port))
    sock.listen()
    try:
        yield sock.getsockname()[1]
    finally:
        sock.close()


def test_port_is_free_by_really_binding():
    with _listening() as port:
        assert not port_is_free(port, "127.0.0.1")
    assert port_is_free(port, "127.0.0.1")
    assert not port_is_free(port, "no-such-host.invalid")


# --- display ----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("host", "url"),
    [
        ("127.0.0.1", "http://127.0.0.1:8501"),
        ("localhost", "http://localhost:8501"),
        ("::1", "http://[::1]:8501"),
        ("0.0.0.0", f"http://{socket.gethostname()}:8501"),
    ],
)
def test_display_url(host: str, url: str):
    assert display_url(host, 8501) == url


@pytest.mark.parametrize(
    ("host", "cautions"),
    [("127.0.0.1", False), ("localhost", False), ("::1", False), ("127.0.1.1", False),
     ("0.0.0.0", True), ("192.168.1.5", True), ("::", True)],
)  # fmt: skip
def test_wide_open_note_only_off_loopback(host: str, cautions: bool):
    note = wide_open_note(host)
    assert (note is not None) == cautions
    if note:
        assert host in note and "127.0.0.1" in note


def test_format_table_aligns_directory_and_url():
    table = format_table(
        [
            Dashboard(Path("runs/a"), 8501, "http://127.0.0.1:8501"),
            Dashboard(Path("checkpoints/long_name"), 8502, "http://127.0.0.1:8502"),
        ]
    )
    lines = table.splitlines()
    assert lines[0].split() == ["directory", "URL"]
    assert lines[2].split() == ["runs/a", "http://127.0.0.1:8501"]
    assert lines[3].split() == ["checkpoints/long_name", "http://127.0.0.1:8502"]
    assert len({line.index("http") for line in lines[2:]}) == 1


# --- supervision and main without servers -----------------------------------------------------


class _FakeProc:
    def __init__(self, codes: list[int | None]):
        self._codes = codes

    def poll(self) -> int | None:
        return self._codes.pop(0) if len(self._codes) > 1 else self._codes[0]


def test_supervise_reports_each_death_and_fails_when_all_died():
    dashboards = [Dashboard(Path(n), 1, f"http://h:{n}") for n in ("a", "b")]
    procs = [_FakeProc([None, 3]), _FakeProc([None, None, None, -15])]
    err = io.StringIO()
    naps: list[float] = []
    assert supervise(dashboards, procs, stderr=err, sleep=naps.append) == 1  # type: ignore[arg-type]
    text = err.getvalue()
    assert "dashboard for a (http://h:a) exited with code 3; 1 still running" in text
    assert "dashboard for b (http://h:b) exited with code -15; 0 still running" in text
    assert "all dashboards have exited" in text
    assert naps  # it waited between polls instead of spinning


def test_main_without_the_page_file_says_how_to_fix_it(tmp_path: Path):
    err = io.StringIO()
    code = main_quiet(["x"], app_path=tmp_path / "app.py", stderr=err)
    assert code == 2
    assert "pip install" in err.getvalue()


def test_main_rejects_a_file_given_as_directory(tmp_path: Path):
    log = tmp_path / "training_log.jsonl"
    log.write_text("{}\n")
    err = io.StringIO()
    code = main_quiet([str(tmp_path), str(log)], app_path=launcher.APP_PATH, stderr=err)
    assert code == 2  # before any server starts
    text = err.getvalue()
    assert f"{log} is a file, not a directory" in text and "does not exist yet" not in text


def main_quiet(argv: list[str], **kwargs: object) -> int:
    return launcher.main(argv, stdout=io.StringIO(), **kwargs)  # type: ignore[arg-type]


# --- one real server --------------------------------------------------------------------------


def _free_port_pair() -> int:
    """A port P with P and P + 1 both free right now."""
    for _ in range(50):
        with _listening() as port:
            pass
        if port < 65535 and port_is_free(port) and port_is_free(port + 1):
            return port
    raise AssertionError("no two consecutive free ports found")


@pytest.mark.slow
def test_real_server_skips_a_busy_port_answers_health_and_stops_cleanly(tmp_path: Path):
    start = _free_port_pair()
    missing = tmp_path / "not-yet"
    env = {**os.environ, "PYTHONUNBUFFERED": "1"}
    with _listening(start):  # the first port is taken: the launcher must move on
        proc = subprocess.Popen(
            [sys.executable, "-m", "dashboard.commands.launcher", str(missing), "--port", str(start)],
            cwd=REPO, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
        )  # fmt: skip
        try:
            url = f"http://127.0.0.1:{start + 1}/_stcore/health"
            assert wait_for_health(url, proc) == 200
            children = psutil.Process(proc.pid).children(recursive=True)
            assert children, "the launcher should run Streamlit as a child"
        finally:
            proc.send_signal(signal.SIGTERM)
            out, err = proc.communicate(timeout=30)
    assert proc.returncode == 0, err
    _gone, alive = psutil.wait_procs(children, timeout=10)
    assert not alive, f"leaked processes: {alive}"
    assert f"port {start} is already in use" in err
    assert "does not exist yet" in err
    assert f"http://127.0.0.1:{start + 1}" in out
    assert str(missing) in out
