"""The state side of thalia-watch: which directories are runs, and the state file that keeps
what was already sent (alarms, lifecycle, cooldowns, queued messages) across restarts.

- :func:`find_runs` — the run directories under the watched paths (searched at every poll)
- :func:`default_state_file` — ``$XDG_STATE_HOME/thalia/watch-<hash>.json`` (``~/.local/state``
  without it), never a checkpoint directory
- :func:`load_state` / :func:`save_state` — read (an unreadable or malformed file is said on
  stderr and ignored) and write (atomically, through a temporary file) the state
"""

from __future__ import annotations

import hashlib
import json
import os
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

from dashboard.analysis.alarms import AlarmLog
from dashboard.commands.notify import Channel, Message
from dashboard.reading.remote_fs import is_remote
from dashboard.run_state import RunState

__all__ = [
    "STATE_VERSION",
    "default_state_file",
    "find_runs",
    "latest_step",
    "load_state",
    "save_state",
]

STATE_VERSION = 1


def find_runs(paths: Sequence[str | os.PathLike[str]], *, depth: int = 3) -> list[Path | str]:
    """The run directories: each path that holds logs or metadata, else those below it; a URL
    (``s3://bucket/run``) is kept as it is, as one run."""
    found: list[Path | str] = []
    for given in paths:
        if is_remote(given):
            found.append(str(given))
            continue
        top = Path(given)
        if not top.is_dir() or _is_run(top):
            found.append(top)  # a run, or one that does not exist yet (waited for)
            continue
        level = [top]
        for _ in range(depth):
            nxt: list[Path] = []
            for d in level:
                try:
                    subs = sorted(e for e in d.iterdir() if e.is_dir() and not e.is_symlink())
                except OSError:
                    continue
                for sub in subs:
                    (found if _is_run(sub) else nxt).append(sub)
            level = nxt
    return list(dict.fromkeys(found))


def latest_step(state: RunState) -> int | None:
    """The run's highest step: of its metric lines or its latest metadata."""
    m = state.metrics_history
    steps = [int(m["step"].max())] if len(m) else []
    meta_step = (state.metadata or {}).get("step")
    steps += [meta_step] if isinstance(meta_step, int) and not isinstance(meta_step, bool) else []
    return max(steps, default=None)


def _is_run(d: Path) -> bool:
    try:
        return any(
            n.startswith("training_log") or (n.startswith("metadata_") and n.endswith(".json"))
            for n in os.listdir(d)
        )
    except OSError:
        return False


def default_state_file(paths: Sequence[str], urls: Sequence[str]) -> Path:
    base = Path(os.environ.get("XDG_STATE_HOME") or Path.home() / ".local" / "state")
    key = hashlib.sha256(json.dumps([sorted(map(str, paths)), sorted(urls)]).encode())
    return base / "thalia" / f"watch-{key.hexdigest()[:12]}.json"


def load_state(
    state_file: Path, channels: Sequence[Channel], err: Callable[[str], None]
) -> tuple[dict[str, dict[str, Any]], float | None]:
    """(runs, last digest time) saved in ``state_file``; the queued messages go back onto their
    channels. A missing file is a fresh start; an unreadable or malformed one is said through
    ``err`` and gives a fresh start too."""
    runs: dict[str, dict[str, Any]] = {}
    try:
        data = json.loads(state_file.read_text(encoding="utf-8"))
    except FileNotFoundError:
        return runs, None
    except (OSError, ValueError) as exc:
        err(
            f"thalia-watch: ignoring unreadable state file {state_file} ({exc}); "
            "alarms active now will be sent again"
        )
        return runs, None
    try:
        for run, entry in data.get("runs", {}).items():
            runs[run] = {
                "alarms": AlarmLog.from_json(entry.get("alarms", {})),
                "lifecycle": str(entry.get("lifecycle", "")),
                "resolved_at": dict(entry.get("resolved_at", {})),
                "muted": list(entry.get("muted", [])),
            }
        for ch in channels:
            for m in data.get("queues", {}).get(ch.id, []):
                ch.queue.append(Message(**m))
        return runs, data.get("last_digest")
    except (TypeError, ValueError, AttributeError) as exc:
        err(f"thalia-watch: state file {state_file} is malformed ({exc}); starting afresh")
        return {}, None


def save_state(
    state_file: Path,
    runs: dict[str, dict[str, Any]],
    channels: Sequence[Channel],
    last_digest: float | None,
) -> None:
    """Write the state atomically (a temporary file, then a rename)."""
    data = {
        "version": STATE_VERSION,
        "runs": {
            run: {
                "alarms": e["alarms"].to_json(),
                "lifecycle": e["lifecycle"],
                "resolved_at": e["resolved_at"],
                "muted": e["muted"],
            }
            for run, e in runs.items()
        },
        "queues": {ch.id: [vars(m) for m in ch.queue] for ch in channels},
        "last_digest": last_digest,
    }
    state_file.parent.mkdir(parents=True, exist_ok=True)
    tmp = state_file.with_name(f".{state_file.name}.{os.getpid()}.tmp")
    tmp.write_text(json.dumps(data, indent=1), encoding="utf-8")
    os.replace(tmp, state_file)
