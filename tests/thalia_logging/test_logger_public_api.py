"""The public names of thalia_logging are pinned, and importing it stays light."""

from __future__ import annotations

import subprocess
import sys
import textwrap

from logger_helpers import REPO

import thalia_logging


def test_public_names_are_pinned() -> None:
    assert sorted(thalia_logging.__all__) == [
        "CurriculumLogger",
        "LOGGER_NAME",
        "LogTypeError",
        "LogValueError",
        "LogWriteError",
        "LoggerClosedError",
        "SCHEMA_VERSION",
    ]
    for name in thalia_logging.__all__:
        assert getattr(thalia_logging, name) is not None


def test_exceptions_are_builtin_kinds() -> None:
    assert issubclass(thalia_logging.LogTypeError, TypeError)
    assert issubclass(thalia_logging.LogValueError, ValueError)
    assert issubclass(thalia_logging.LoggerClosedError, RuntimeError)
    assert issubclass(thalia_logging.LogWriteError, OSError)
    assert thalia_logging.LOGGER_NAME == "thalia.curriculum"
    assert thalia_logging.SCHEMA_VERSION == 2


def test_logger_signature_matches_design() -> None:
    import inspect

    sig = inspect.signature(thalia_logging.CurriculumLogger)
    assert list(sig.parameters)[:4] == ["log_dir", "console_log", "file_log", "json_log"]
    assert sig.parameters["log_dir"].default == "checkpoints/curriculum"
    metrics = inspect.signature(thalia_logging.CurriculumLogger.log_metrics)
    assert list(metrics.parameters)[1:9] == [
        "step",
        "firing_rate",
        "capacity",
        "performance",
        "loss",
        "neuron_counts",
        "capacity_by_region",
        "more",
    ]
    growth = inspect.signature(thalia_logging.CurriculumLogger.log_growth)
    assert list(growth.parameters)[1:] == ["step", "region", "neurons_added", "new_total", "reason"]


def _run(code: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-c", textwrap.dedent(code)],
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=120,
    )


def test_import_does_not_pull_dashboard_libraries_or_torch() -> None:
    result = _run("""
        import sys
        import thalia_logging
        from thalia_logging import CurriculumLogger
        bad = [m for m in ("streamlit", "altair", "watchdog", "torch") if m in sys.modules]
        print(bad)
    """)
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "[]"


def test_works_when_torch_is_not_installed(tmp_path) -> None:
    result = _run(f"""
        import sys
        sys.modules["torch"] = None  # makes "import torch" fail, as without torch installed
        from thalia_logging import CurriculumLogger
        with CurriculumLogger({str(tmp_path)!r}, console_log=False) as lg:
            lg.log_metrics(1, loss=0.5, lr=1e-3, neuron_counts={{"a": 1}})
            lg.write_metadata(1, current_stage=0)
        print("ok")
    """)
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "ok"
    assert (
        len((tmp_path / "training_log.jsonl").read_bytes().splitlines()) == 3
    )  # run_start, metric, run_end
