"""No single value, line or file can stop reading (issue 8): each becomes one bad line and the
rest of the read goes on. Lines are written with plain ``json`` / raw bytes (independent
writers); inputs that could crash the process run in a subprocess."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest
from reader_helpers import line, metric

from dashboard import load_training_state
from dashboard.reading.arrow_fastpath import nesting_safe, parse_block
from dashboard.reading.directory import DirectoryReader
from dashboard.reading.line_parser import BadRecord, parse_line
from dashboard.reading.metadata import parse_metadata

BIG = 2**63
DEEP_1000 = b"[" * 1000 + b"]" * 1000

# (id, raw line without newline, words the reason must hold)
HOSTILE_LINES = [
    ("step-2^63", b'{"step": %d, "loss": 1.0}' % BIG, "2**63-1"),
    ("step-2^64", b'{"step": %d, "loss": 1.0}' % 2**64, "'step'"),
    ("rank-2^63", b'{"step": 5, "rank": %d, "loss": 1.0}' % BIG, "'rank'"),
    ("neurons-2^63", b'{"step": 5, "neuron_counts": {"cortex": %d}}' % BIG, "neuron_counts.cortex"),
    (
        "growth-count-2^63",
        b'{"event_type": "growth", "step": 5, "region": "c", "neurons_added": %d, "new_total": 1}'
        % BIG,
        "neurons_added",
    ),
    (
        "consolidation-count-2^64",
        b'{"event_type": "consolidation", "step": 5, "sleep_stage": "REM", "patterns_replayed": 1,'
        b' "duration_steps": %d}' % 2**64,
        "duration_steps",
    ),
    (
        "resumed-2^63",
        b'{"event_type": "run_start", "step": 5, "schema_version": 1, "run_id": "r",'
        b' "resumed_from_step": %d, "config": {}}' % BIG,
        "resumed_from_step",
    ),
    ("deep-1000-metric", b'{"step": 5, "m": ' + DEEP_1000 + b"}", "'m'"),
    (
        "deep-1000-nested",
        b'{"step": 5, "neuron_counts": {"c": ' + DEEP_1000 + b"}}",
        "neuron_counts.c",
    ),
    (
        "deep-1000-config",
        b'{"event_type": "run_start", "step": 5, "schema_version": 1, "run_id": "r",'
        b' "resumed_from_step": null, "config": ' + DEEP_1000 + b"}",
        "'config'",
    ),
    ("deep-30000", b'{"step": 5, "m": ' + b"[" * 30000 + b"]" * 30000 + b"}", "JSON"),
    ("reserved-_nonfinite", b'{"step": 5, "_nonfinite": 1.0}', "reserved"),
    ("reserved-_seq", b'{"step": 5, "_seq": 1.0, "loss": 0.5}', "reserved"),
    ("reserved-_src", b'{"step": 5, "_src": 3}', "reserved"),
    ("reserved-_other", b'{"step": 5, "_x": 3}', "reserved"),
    ("surrogate-metric-name", b'{"step": 5, "a\\ud800": 1.0}', "surrogate"),
    ("surrogate-region", b'{"step": 5, "capacity_by_region": {"\\udc00": 0.5}}', "surrogate"),
    (
        "surrogate-growth-region",
        b'{"event_type": "growth", "step": 5, "region": "\\ud800", "neurons_added": 1, "new_total": 2}',
        "surrogate",
    ),
    (
        "surrogate-reason",
        b'{"event_type": "growth", "step": 5, "region": "c", "neurons_added": 1, "new_total": 2,'
        b' "reason": "x\\udfff"}',
        "surrogate",
    ),
    (
        "surrogate-stage-name",
        b'{"event_type": "stage", "step": 5, "stage": 1, "name": "\\ud83d"}',
        "surrogate",
    ),
]


@pytest.mark.parametrize(
    ("raw", "words"), [(r, w) for _, r, w in HOSTILE_LINES], ids=[i for i, _, _ in HOSTILE_LINES]
)
def test_hostile_line_is_one_bad_line_and_the_read_goes_on(
    tmp_path: Path, raw: bytes, words: str
) -> None:
    with pytest.raises(BadRecord, match=None) as info:
        parse_line(raw)
    assert words in str(info.value), str(info.value)
    before = b"".join(metric(s) for s in range(3))
    after = b"".join(metric(s) for s in range(3, 6))
    (tmp_path / "training_log.jsonl").write_bytes(before + raw + b"\n" + after)
    state = load_training_state(tmp_path)
    assert state.metrics_history["step"].tolist() == list(range(6))
    assert state.bad_line_count == 1
    (bad,) = state.bad_lines
    assert bad.file == "training_log.jsonl" and bad.offset == len(before)
    assert words in bad.reason
    state.metrics_history.to_csv(tmp_path / "export.csv")  # the frame can be exported


def test_integer_too_big_for_a_double_is_logged_infinity() -> None:
    kind, fields = parse_line(b'{"step": 1, "m": 1' + b"0" * 400 + b', "n": -1' + b"0" * 400 + b"}")
    assert kind == "metrics_history"
    assert fields["m"] == float("inf") and fields["n"] == float("-inf")
    assert set(fields["_nonfinite"]) == {"m", "n"}


def test_largest_int64_step_is_accepted(tmp_path: Path) -> None:
    (tmp_path / "training_log.jsonl").write_bytes(line({"step": BIG - 1, "loss": 0.5}))
    state = load_training_state(tmp_path)
    assert state.metrics_history["step"].tolist() == [BIG - 1] and state.bad_line_count == 0


def test_any_exception_in_a_record_is_a_bad_line(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import dashboard.reading.directory as reader_mod

    real = reader_mod.parse_line

    def flaky(raw: bytes):  # type: ignore[no-untyped-def]
        if b'"step": 1,' in raw:
            raise RuntimeError("boom")
        return real(raw)

    monkeypatch.setattr(reader_mod, "parse_line", flaky)
    (tmp_path / "training_log.jsonl").write_bytes(b"".join(metric(s) for s in range(3)))
    reader = DirectoryReader(tmp_path, block_parser=None)
    reader.update()
    state = reader.state(1)
    assert state.metrics_history["step"].tolist() == [0, 2]
    (bad,) = state.bad_lines
    assert "RuntimeError: boom" in bad.reason


def test_block_parser_exception_falls_back_to_lines(tmp_path: Path) -> None:
    def broken(data: bytes) -> None:
        raise MemoryError("pyarrow gave up")

    (tmp_path / "training_log.jsonl").write_bytes(b"".join(metric(s) for s in range(5)))
    reader = DirectoryReader(tmp_path, block_parser=broken, min_block_bytes=0)
    reader.update()
    assert reader.state(1).metrics_history["step"].tolist() == list(range(5))


@pytest.mark.parametrize(
    "hostile",
    [
        b'{"step": 7, "_seq": 1.0}',
        b'{"step": 7, "loss": 1.0, "_src": 2}',
        b'{"step": 7, "a\\ud800": 1.0}',
        b'{"step": %d, "loss": 1.0}' % BIG,
        b'{"step": 7, "neuron_counts": {"c": %d}}' % BIG,
    ],
    ids=["_seq", "_src", "surrogate", "step-2^63", "neurons-2^63"],
)
def test_fast_path_refuses_what_the_line_parser_refuses(tmp_path: Path, hostile: bytes) -> None:
    lines = [metric(s) for s in range(7)] + [hostile + b"\n"] + [metric(s) for s in range(8, 3000)]
    assert parse_block(b"".join(lines)) is None
    (tmp_path / "training_log.jsonl").write_bytes(b"".join(lines))
    state = load_training_state(tmp_path)
    assert state.bad_line_count == 1
    assert len(state.metrics_history) == 2999


@pytest.mark.parametrize(
    ("data", "safe"),
    [
        (b"".join(metric(s) for s in range(100)), True),
        (b'{"step": 1, "m": ' + b"[" * 2000 + b"]" * 2000 + b"}\n", True),  # short: depth <= 2,048
        (b'{"step": 1, "m": ' + b"[" * 5000 + b"]" * 5000 + b"}\n", False),
        (b'{"step": 1, "m": ' + b"[ " * 3000 + b"]" * 3000 + b"}\n", False),  # spaces between
        (b'{"step": 1, "s": "' + b"x" * 10000 + b'", "n": {"a": 1}}\n', True),  # long, shallow
        (b"".join(metric(s) for s in range(50)) + b"{" * 70 + b" " * 5000 + b"\n", False),
    ],
    ids=["clean", "short-deep", "deep", "deep-spaced", "long-shallow", "many-brackets"],
)
def test_nesting_safe(data: bytes, safe: bool) -> None:
    assert nesting_safe(data) is safe


_CHILD = textwrap.dedent(
    """
    import sys
    from dashboard import load_training_state
    state = load_training_state(sys.argv[1])
    print(len(state.metrics_history), state.bad_line_count, state.bad_lines[0].offset if state.bad_lines else -1)
    """
)


@pytest.mark.timeout(120)
@pytest.mark.parametrize("depth", [20_000, 100_000])
@pytest.mark.parametrize("big_block", [True, False], ids=["in-big-block", "alone"])
def test_deep_nesting_never_reaches_pyarrow(tmp_path: Path, depth: int, big_block: bool) -> None:
    """In a subprocess: pyarrow segfaults on these if it ever sees them."""
    deep = b'{"step": 500, "m": ' + b"[" * depth + b"]" * depth + b"}\n"
    before = b"".join(metric(s) for s in range(500)) if big_block else b""
    after = b"".join(metric(s) for s in range(501, 3000)) if big_block else b""
    assert len(before + deep + after) >= 256 << 10 or not big_block
    (tmp_path / "training_log.jsonl").write_bytes(before + deep + after)
    env = {**os.environ, "PYTHONPATH": str(Path(__file__).resolve().parents[3])}
    proc = subprocess.run(
        [sys.executable, "-c", _CHILD, str(tmp_path)],
        capture_output=True,
        text=True,
        env=env,
        timeout=100,
    )
    assert proc.returncode == 0, proc.stderr[-2000:]
    rows, bad, offset = map(int, proc.stdout.split())
    assert bad == 1 and offset == len(before)
    assert rows == (2999 if big_block else 0)


# -- metadata values ------------------------------------------------------------------------------
BASE_META = {"step": 10, "current_stage": 0}


@pytest.mark.parametrize(
    ("extra", "words"),
    [
        ({"total_steps": "Infinity"}, "total_steps"),
        ({"total_steps": 1.5}, "total_steps"),
        ({"total_steps": True}, "total_steps"),
        ({"total_stages": -1}, "total_stages"),
        ({"stage_name": 3}, "stage_name"),
        ({"run_id": ["x"]}, "run_id"),
        ({"started_at": "NaN"}, "started_at"),
        ({"updated_at": {"a": 1}}, "updated_at"),
    ],
    ids=lambda v: json.dumps(v) if isinstance(v, dict) else str(v),
)
def test_wrong_typed_optional_metadata_field_is_ignored_and_said(
    tmp_path: Path, extra: dict[str, object], words: str
) -> None:
    """The field is left out (nothing downstream can trip on it) and named as a bad entry; the
    rest of the file (a newer step, milestones) is kept."""
    notes: list[str] = []
    parsed = parse_metadata(json.dumps({**BASE_META, **extra}).encode(), notes)
    assert parsed == BASE_META and len(notes) == 1 and words in notes[0]
    good = {**BASE_META, "total_steps": 100}
    (tmp_path / "metadata_1.json").write_text(json.dumps(good))
    reader = DirectoryReader(tmp_path)
    reader.update()
    newer = {**BASE_META, "step": 20, "milestones": {"m": True}}
    (tmp_path / "metadata_1.json").write_text(json.dumps({**newer, **extra}))
    reader.update()
    state = reader.state(1)
    assert state.metadata == newer
    assert state.bad_line_count == 1 and words in state.bad_lines[0].reason


def test_wrong_required_metadata_field_is_a_bad_file_and_keeps_the_previous(
    tmp_path: Path,
) -> None:
    good = {**BASE_META, "total_steps": 100}
    (tmp_path / "metadata_1.json").write_text(json.dumps(good))
    with pytest.raises(BadRecord, match="step"):
        parse_metadata(json.dumps({**BASE_META, "step": BIG}).encode())
    reader = DirectoryReader(tmp_path)
    reader.update()
    (tmp_path / "metadata_1.json").write_text(json.dumps({**BASE_META, "step": BIG}))
    reader.update()
    state = reader.state(1)
    assert state.metadata == good
    assert state.bad_line_count == 1 and "'step'" in state.bad_lines[0].reason


def test_metadata_surrogates_are_replaced_and_deep_nesting_refused() -> None:
    data = b'{"step": 1, "current_stage": 0, "warnings": ["a\\ud800"], "milestones": {"\\udc00x": true}}'
    meta = parse_metadata(data)
    assert meta["warnings"] == ["a?"] and meta["milestones"] == {"?x": True}
    json.dumps(meta).encode("utf-8")
    with pytest.raises(BadRecord, match="deeper"):
        parse_metadata(b'{"step": 1, "current_stage": 0, "x": ' + b"[" * 500 + b"]" * 500 + b"}")
