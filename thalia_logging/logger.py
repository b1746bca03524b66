"""CurriculumLogger: what a Thalia trainer calls to write its checkpoint directory.

The logger owns the wiring and the metric hot path: values are checked by :mod:`.values`,
event records built by :mod:`.events`, lines buffered and appended by :mod:`.sink`, metadata
written by :mod:`.metadata`, one-liners sent by :mod:`.console`; :mod:`.ranks` decides what
this process writes and :mod:`.outputs` opens it.
"""

from __future__ import annotations

import logging
import math
import os
import socket
import sys
import time
import uuid
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import IO, Any

import orjson

from . import events, lifecycle
from .console import format_consolidation, format_growth, format_metrics, format_stage
from .contract import metadata_name
from .metadata import (
    build_metadata,
    dumps_metadata,
    metadata_path,
    remove_stale_temp_files,
    write_atomic,
)
from .outputs import LEGACY_LOG_NAME, open_outputs
from .ranks import detect_rank, plan_for_rank
from .segment_sink import open_segment_outputs
from .segments import Store, is_url
from .sink import MAX_PENDING_BYTES, LogWriteError
from .system_metrics import DEFAULT_INTERVAL_S, SystemSampler, interval_from_option
from .torch_support import gpu_memory_fields
from .values import INT64_MAX as _INT64_MAX
from .values import LogTypeError, check_name, check_step, json_safe

__all__ = ["LEGACY_LOG_NAME", "CurriculumLogger", "LoggerClosedError"]

_dumps = orjson.dumps
_NEWLINE = orjson.OPT_APPEND_NEWLINE
_metric_record = events.metric_record
_modules = sys.modules
_log = logging.getLogger(__name__)


class LoggerClosedError(RuntimeError):
    """A log call reached a CurriculumLogger after ``close()``."""


class CurriculumLogger:
    """Writes a Thalia checkpoint directory: ``training_log.jsonl``, metadata, ``console.log``.

    Assumes one logger per directory per process (several processes only as distributed ranks).
    Guarantees:

    - every JSON line is one whole object with ``event_type``, ``step`` and ``wall_time`` that
      validates against ``schemas/``; non-finite numbers are the strings ``"NaN"``,
      ``"Infinity"``, ``"-Infinity"``;
    - bad arguments raise ``LogTypeError`` / ``LogValueError`` (``TypeError`` / ``ValueError``)
      saying what is wrong and how to fix it, and nothing is written for that call;
    - the log is appended to, never truncated; on open a ``run_start`` line records
      ``resumed_from_step``: the argument if given, else the highest step near the end of the
      existing log (its tail only), else ``None``;
    - lines are buffered and flushed every ``flush_every`` lines or ``flush_interval_s`` seconds,
      on :meth:`flush`, :meth:`close` and at interpreter exit (``flush_every_line=True``:
      each line before the call returns); several threads may log at once;
    - ``write_metadata`` replaces ``metadata_{step}.json`` atomically; temporary files a crash
      left behind (``.metadata_*.tmp``, only that pattern) are removed when a logger opens;
    - a full disk or another write error never stops training nor mixes two lines: it is said
      once through :mod:`logging`, unwritten lines are kept in memory up to
      ``max_pending_bytes`` (32 MiB by default) and retried at each flush (see :mod:`.sink`);
      ``strict=True`` raises :class:`~thalia_logging.sink.LogWriteError` instead;
    - under ``torch.distributed`` (or ``RANK``/``LOCAL_RANK``) only rank 0 writes, unless
      ``per_rank=True`` (rank N > 0 then writes ``training_log.rank{N}.jsonl``).

    With ``capture_gpu_memory=True`` (the default) metric lines get ``gpu_mem_bytes`` and
    ``gpu_mem_total_bytes`` while this process uses CUDA (``torch_support.gpu_memory_fields``),
    unless the caller passed ``gpu_mem_bytes``; without torch loaded the check is one dict
    lookup, with torch but no CUDA one more read of ``torch.cuda._initialized`` (the flag
    ``torch.cuda.is_initialized()`` tests; without it, the full call decides), and the logger
    never imports torch. Memory is read at most once per sampling interval (``system_metrics``
    seconds, else 10 s, by ``clock``), onto the first metric line due. A callable instead of
    True is called the same way in place of ``gpu_memory_fields`` (a seam for tests).

    ``system_metrics=True`` (or seconds between samples, or a ``SystemSampler``) samples CPU,
    memory, disk and GPU figures on a background thread and merges each sample into the next
    metric line (see :mod:`.system_metrics` for the fields); ``close()`` stops the thread.

    Segment mode (``segment_every_s=`` / ``segment_max_bytes=``, and always for an fsspec URL
    such as ``"s3://bucket/run"``, opened with ``storage_options``): lines go to immutable
    numbered segments written whole, one object each (see :mod:`.segments`); ``flush()`` closes
    the open segment. A remote run's metadata is one put per file; ``console.log`` stays local-only.

    Seams (keyword-only): ``clock`` gives ``wall_time`` (Unix seconds), ``rank`` overrides
    detection, ``console_stream`` is the fallback console, ``background_flush`` runs the daemon
    flusher thread, ``console_every`` spaces metric one-liners in steps, ``fsync_metadata``.
    """

    def __init__(
        self,
        log_dir: str | Path = "checkpoints/curriculum",
        console_log: bool = True,
        file_log: bool = True,
        json_log: bool = True,
        *,
        flush_every: int = 100,
        flush_interval_s: float = 1.0,
        flush_every_line: bool = False,
        per_rank: bool = False,
        run_id: str | None = None,
        config: Mapping[str, Any] | None = None,
        resumed_from_step: int | None = None,
        clock: Callable[[], float] = time.time,
        rank: int | None = None,
        console_every: int = 100,
        console_stream: IO[str] | None = None,
        background_flush: bool = True,
        fsync_metadata: bool = True,
        capture_gpu_memory: bool | Callable[[], Mapping[str, int]] = True,
        strict: bool = False,
        max_pending_bytes: int = MAX_PENDING_BYTES,
        system_metrics: bool | float | SystemSampler = False,
        handle_signals: bool = True,
        segment_every_s: float | None = None,
        segment_max_bytes: int | None = None,
        storage_options: Mapping[str, Any] | None = None,
    ) -> None:
        if config is not None and not isinstance(config, Mapping):
            raise LogTypeError(f"config must be a dict, got {type(config).__name__}")
        if run_id is not None:
            run_id = check_name("run_id", run_id)
        self.log_dir = Path(log_dir)
        self.log_url = str(log_dir) if is_url(log_dir) else None  # then log_dir is not a path
        self._store: Store | None = None
        self._closed = True  # until everything below has been opened
        self._clock = clock
        self._fsync_metadata = fsync_metadata
        self._strict = bool(strict)
        gpu = gpu_memory_fields if capture_gpu_memory is True else capture_gpu_memory
        self._gpu_fields = gpu or None
        sampler = system_metrics if isinstance(system_metrics, SystemSampler) else None
        every = sampler.interval_s if sampler else interval_from_option(system_metrics)
        self._gpu_every = every or DEFAULT_INTERVAL_S
        self._gpu_due = -math.inf
        if sampler is None and every is not None:
            sampler = SystemSampler(every, start=False)  # psutil missing: refused before opening
        self._system: SystemSampler | None = None
        self._system_seen: object = None
        self.plan = plan_for_rank(detect_rank() if rank is None else rank, per_rank=per_rank)
        self.rank = self.plan.rank
        self._rank_field = self.plan.rank_field
        self.run_id = run_id or f"{time.strftime('%Y%m%d-%H%M%S')}-{uuid.uuid4().hex[:8]}"
        self.config: dict[str, Any] = json_safe("config", dict(config or {}))
        self._stage: int | None = None
        self._stage_name = ""
        common: dict[str, Any] = dict(
            console_log=console_log, file_log=file_log, json_log=json_log,
            resumed_from_step=resumed_from_step, background_flush=background_flush,
            console_every=console_every, console_stream=console_stream, strict=strict,
            max_pending_bytes=max_pending_bytes,
        )  # fmt: skip
        if self.log_url or segment_every_s is not None or segment_max_bytes is not None:
            out, store = open_segment_outputs(
                self.log_url or self.log_dir, self.plan, segment_every_s=segment_every_s,
                segment_max_bytes=segment_max_bytes, storage_options=storage_options,
                fsync=fsync_metadata, **common,
            )  # fmt: skip
            self._store = store if self.log_url else None
        else:
            out = open_outputs(
                self.log_dir, self.plan, flush_every=flush_every,
                flush_interval_s=flush_interval_s, flush_every_line=flush_every_line, **common,
            )  # fmt: skip
        self.log_path, self.resumed_from_step = out.log_path, out.resumed_from_step
        self._sink, self._console = out.sink, out.console
        self._write = self._sink.write
        self._append_line = self._sink.append_line  # the sink's documented hot path
        if self.plan.writes_metadata and self.log_dir.is_dir():
            remove_stale_temp_files(self.log_dir)
        self.started_at = float(clock())
        self._console_on = self._console.active
        self._last_step = 0 if resumed_from_step is None else self.resumed_from_step or 0
        self._ended = False
        self._closed = False
        try:
            self._write_run_start()
        except BaseException:  # strict and the disk is full: leave no thread or fd behind
            if sampler is not None:
                sampler.close()
            self.close()
            raise
        if sampler is not None:
            if self.plan.log_name is None:  # this rank writes no lines: nothing to sample for
                sampler.close()
            else:
                self._system = sampler
                sampler.start()
        if self.log_path is not None:
            lifecycle.register(self, signals=handle_signals)

    # -- lines ---------------------------------------------------------------------------

    def _line(self, record: dict[str, Any], now: float) -> None:
        if self._rank_field is not None:
            record["rank"] = self._rank_field
        try:
            line = _dumps(record, option=_NEWLINE)
        except orjson.JSONEncodeError:  # a lone surrogate, an int beyond 64 bits
            raise events.explain_record(record) from None
        self._write(line, now)

    def _check_open(self) -> None:
        if self._closed:
            raise LoggerClosedError(
                "this CurriculumLogger is closed; log before close() or open a new logger"
            )

    def _write_run_start(self) -> None:
        now = self._clock()
        resumed = self.resumed_from_step
        rec = events.run_start_event(now, self.run_id, resumed, self.config)
        rec["host"], rec["pid"] = socket.gethostname(), os.getpid()
        self._line(rec, now)
        self._sink.flush()
        if self._console_on:
            where = "fresh run" if resumed is None else f"resumed from step {resumed}"
            self._console.emit(
                f"run {self.run_id} started ({where}) in {self.log_url or self.log_dir}"
            )

    def log_metrics(
        self,
        step: int,
        firing_rate: Any = None,
        capacity: Any = None,
        performance: Any = None,
        loss: Any = None,
        neuron_counts: Mapping[str, Any] | None = None,
        capacity_by_region: Mapping[str, Any] | None = None,
        **more: Any,
    ) -> None:
        """One metric line; ``None`` fields are left out, any extra numeric keyword is kept."""
        if self._closed:
            self._check_open()
        now = self._clock()
        rec = _metric_record(
            now, step, firing_rate, capacity, performance, loss, neuron_counts, capacity_by_region
        )
        self._last_step = step  # run_end's step (a bad step raised above)
        if more:
            events.metric_extras(rec, more)
        gpu = self._gpu_fields
        if (
            gpu is not None
            and now >= self._gpu_due
            and "torch" in _modules
            and ("gpu_mem_bytes" not in more)
            and (
                gpu is not gpu_memory_fields  # a caller's hook is always asked; ours only when
                or getattr(_modules.get("torch.cuda"), "_initialized", True)  # CUDA is initialised
            )
        ):
            self._gpu_due = now + self._gpu_every
            rec.update(gpu())
        system = self._system
        if system is not None and system.latest is not self._system_seen:
            self._merge_system(rec, system)
        if self._rank_field is not None:
            rec["rank"] = self._rank_field
        try:
            line = _dumps(rec, option=_NEWLINE)
        except orjson.JSONEncodeError:  # a non-str dict key, or an int beyond 64 bits
            raise events.explain_unwritable(rec, neuron_counts, capacity_by_region) from None
        self._append_line(line, now)
        if self._console_on and self._console.wants_metrics(rec["step"]):
            self._console.emit(format_metrics(rec["step"], rec))

    def _merge_system(self, rec: dict[str, Any], system: SystemSampler) -> None:
        sample = system.latest  # SystemSampler's documented fast path: a new dict per sample
        self._system_seen = sample
        for key, value in (sample or {}).items():
            rec.setdefault(key, value)

    def log_growth(
        self, step: int, region: str, neurons_added: int, new_total: int, reason: str = ""
    ) -> None:
        """A region grew: ``neurons_added`` neurons, now ``new_total`` in all."""
        self._check_open()
        rec = events.growth_event(self._clock(), step, region, neurons_added, new_total, reason)
        self._line(rec, rec["wall_time"])
        if self._console_on:
            self._console.emit(
                format_growth(
                    rec["step"],
                    rec["region"],
                    rec["neurons_added"],
                    rec["new_total"],
                    rec["reason"],
                )
            )

    def log_consolidation(
        self, step: int, sleep_stage: str, patterns_replayed: int, duration_steps: int
    ) -> None:
        """A sleep-replay phase: ``sleep_stage`` is ``"NREM"`` or ``"REM"`` (any case)."""
        self._check_open()
        rec = events.consolidation_event(
            self._clock(), step, sleep_stage, patterns_replayed, duration_steps
        )
        self._line(rec, rec["wall_time"])
        if self._console_on:
            self._console.emit(
                format_consolidation(
                    rec["step"], rec["sleep_stage"], rec["patterns_replayed"], rec["duration_steps"]
                )
            )

    def log_stage(self, step: int, stage: int, name: str = "") -> None:
        """The run entered curriculum stage ``stage`` (named ``name``)."""
        self._check_open()
        rec = events.stage_event(self._clock(), step, stage, name)
        self._line(rec, rec["wall_time"])
        self._stage, self._stage_name = rec["stage"], rec["name"]
        if self._console_on:
            self._console.emit(format_stage(rec["step"], rec["stage"], rec["name"]))

    # -- metadata ------------------------------------------------------------------------

    def write_metadata(
        self,
        step: int,
        current_stage: int | None = None,
        current_week: int | None = None,
        total_weeks: int | None = None,
        metrics: Mapping[str, Any] | None = None,
        milestones: Mapping[str, bool] | None = None,
        warnings: list[Any] | None = None,
        *,
        stage_name: str | None = None,
        total_stages: int | None = None,
        total_steps: int | None = None,
        **extra: Any,
    ) -> Path | str | None:
        """Write ``metadata_{step}.json`` atomically; returns its path, or its URL for a remote
        run (``None`` on ranks > 0).

        ``current_stage`` defaults to the last :meth:`log_stage` (else 0), ``stage_name`` to
        that stage's name. The logger adds ``run_id``, ``started_at``, ``updated_at`` and
        ``schema_version``. The JSON log is flushed first, so it is as fresh as the metadata.
        If the file cannot be written (disk full), returns ``None`` after a ``logging``
        warning, or raises :class:`~thalia_logging.sink.LogWriteError` when ``strict=True``.
        """
        self._check_open()
        step = check_step(step)
        if current_stage is None:
            current_stage = 0 if self._stage is None else self._stage
        if stage_name is None and self._stage_name and current_stage == self._stage:
            stage_name = self._stage_name
        record = build_metadata(
            step,
            current_stage,
            current_week=current_week,
            total_weeks=total_weeks,
            metrics=metrics,
            milestones=milestones,
            warnings=warnings,
            stage_name=stage_name,
            total_stages=total_stages,
            total_steps=total_steps,
            run_id=self.run_id,
            started_at=self.started_at,
            updated_at=float(self._clock()),
            extra=extra,
        )
        if not self.plan.writes_metadata:
            return None
        try:
            data = dumps_metadata(record)
        except orjson.JSONEncodeError:  # a lone surrogate in a name or message
            raise events.explain_record(record) from None
        self._sink.flush()
        target: Path | str = metadata_path(self.log_dir, step)
        try:
            path: Path | str
            if self._store is not None:  # a remote run: one put through fsspec
                path = target = self._store.put(metadata_name(step), data)
            else:
                path = write_atomic(target, data, fsync=self._fsync_metadata)
        except OSError as exc:
            if self._strict:
                raise LogWriteError(
                    exc.errno or 0,
                    f"could not write {target}: {exc.strerror or exc}. Free space on that "
                    "disk, or open the logger with strict=False to keep training",
                ) from exc
            _log.warning(
                "thalia_logging: could not write %s (%s); the previous metadata stays, "
                "training goes on (strict=False)",
                target,
                exc,
            )
            return None
        if self._console_on:
            name = os.path.basename(path)
            self._console.emit(f"step {step} | checkpoint metadata written to {name}")
        return path

    # -- lifecycle -----------------------------------------------------------------------

    @property
    def closed(self) -> bool:
        return self._closed

    @property
    def write_error(self) -> OSError | None:
        """The JSON log's last write error while writing fails (disk full...), else ``None``."""
        return self._sink.write_error

    @property
    def pending_lines(self) -> int:
        """Lines buffered or kept for a retry after a write error, not yet in the file."""
        return self._sink.pending

    @property
    def lost_lines(self) -> int:
        """Lines dropped for good after write errors (beyond ``max_pending_bytes``, or at close)."""
        return self._sink.lost_lines

    def flush(self) -> None:
        """Hand every buffered line to the OS now."""
        self._sink.flush()
        if self._console.file_handler is not None:
            self._console.file_handler.flush()

    def end_run(
        self,
        status: lifecycle.EndStatus,
        error_type: str | None = None,
        message: str | None = None,
        *,
        from_signal: bool = False,
    ) -> None:
        """Write the ``run_end`` line now (once per logger; later calls do nothing).

        :meth:`close`, the ``with`` block, the exit hook and the signal handler call it (see
        :mod:`.lifecycle`); a trainer may call it first to record its own ending, e.g.
        ``end_run("failed", "OutOfMemoryError", "...")``, and then close. ``from_signal``: the
        sink may be locked by the interrupted thread; the line is appended to the file directly.
        """
        if self._closed or (self._ended and not from_signal) or self.log_path is None:
            return
        self._ended = True
        last = self._last_step
        step = last if type(last) is int and 0 <= last <= _INT64_MAX else 0
        now = self._clock()
        rec = lifecycle.run_end_event(now, step, status, error_type, message)
        if from_signal:
            if self._rank_field is not None:
                rec["rank"] = self._rank_field
            self._sink.write_now(_dumps(rec, option=_NEWLINE))
            return
        self._line(rec, now)
        self._sink.flush()
        if self._console_on:
            detail = f" ({error_type}: {message})" if error_type else ""
            self._console.emit(f"run {self.run_id} {status} at step {step}{detail}")

    def close(self) -> None:
        """Write ``run_end`` (``"finished"`` unless already written), flush and close every
        file; calling it again does nothing."""
        if self._closed:
            return
        try:
            self.end_run("finished")
        except Exception as exc:
            _log.warning("thalia_logging: could not write run_end (%s)", exc)
        lifecycle.unregister(self)
        self._closed = True
        try:
            if self._system is not None:
                self._system.close()
            self._sink.close()
        finally:
            self._console.close()

    def __enter__(self) -> CurriculumLogger:
        return self

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: object
    ) -> None:
        if exc_type is not None and not self._ended:
            try:
                self.end_run("failed", exc_type.__name__, str(exc))
            except Exception as err:
                _log.warning("thalia_logging: could not write run_end (%s)", err)
        self.close()

    def __repr__(self) -> str:
        state = "closed" if self._closed else "open"
        return f"CurriculumLogger({self.log_url or str(self.log_dir)!r}, rank={self.rank}, {state})"
