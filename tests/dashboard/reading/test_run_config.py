"""``RunState.config``: the newest ``run_start``'s config, safe to show."""

from __future__ import annotations

import json
import math
from pathlib import Path

from dashboard import load_training_state
from dashboard.reading.line_parser import CONFIG_MAX_DEPTH, CONFIG_TOO_DEEP


def _run_start(step: int, config: object, wall: float | None = None) -> bytes:
    line: dict[str, object] = {
        "event_type": "run_start",
        "step": step,
        "schema_version": 1,
        "run_id": f"r{step}",
        "resumed_from_step": None,
        "config": config,
    }
    if wall is not None:
        line["wall_time"] = wall
    return json.dumps(line).encode() + b"\n"


def _write(directory: Path, *lines: bytes) -> None:
    (directory / "training_log.jsonl").write_bytes(b"".join(lines))


def test_no_run_start_means_no_config(tmp_path: Path) -> None:
    _write(tmp_path, b'{"step": 1, "loss": 1.0}\n')
    assert load_training_state(tmp_path).config is None


def test_the_config_of_the_run_start_is_exposed(tmp_path: Path) -> None:
    config = {"lr": 0.1, "model": {"layers": [2, 3], "name": "tiny"}, "decay": "NaN", "on": True}
    _write(tmp_path, _run_start(0, config, 10.0), b'{"step": 1, "loss": 1.0}\n')
    state = load_training_state(tmp_path)
    got = state.config
    assert (
        got is not None and got["lr"] == 0.1 and got["model"] == {"layers": [2, 3], "name": "tiny"}
    )
    assert math.isnan(got["decay"]) and got["on"] is True
    assert "_config" not in state.run_starts.columns  # the config is not a frame column
    assert state.run_starts["run_id"].tolist() == ["r0"]


def test_the_newest_run_start_wins(tmp_path: Path) -> None:
    _write(
        tmp_path,
        _run_start(0, {"lr": 0.1}, 10.0),
        b'{"step": 1, "loss": 1.0}\n',
        _run_start(1, {"lr": 0.2}, 20.0),
    )
    assert load_training_state(tmp_path).config == {"lr": 0.2}


def test_a_deep_or_broken_config_is_made_safe_and_the_line_kept(tmp_path: Path) -> None:
    deep: object = "leaf"
    for _ in range(CONFIG_MAX_DEPTH + 20):
        deep = {"d": deep}
    line = _run_start(0, {"deep": deep, "bad\ud800key": "x\udc00y"}, 1.0)
    _write(tmp_path, line, b'{"step": 1, "loss": 1.0}\n')
    state = load_training_state(tmp_path)
    assert state.bad_line_count == 0 and len(state.run_starts) == 1
    config = state.config
    assert config is not None
    node = config["deep"]
    depth = 1
    while isinstance(node, dict):
        node, depth = node["d"], depth + 1
    assert node == CONFIG_TOO_DEEP and depth <= CONFIG_MAX_DEPTH + 1
    assert config["bad?key"] == "x?y"
    json.dumps(config).encode("utf-8")  # every string is valid UTF-8 now
