"""How a run ends: the ``run_end`` record, and the exit hooks that write it.

A :class:`~thalia_logging.CurriculumLogger` writes exactly one ``run_end`` line
(``schemas/run_end.schema.json``) when it stops:

========================================  ===========================================
how the run stopped                       ``status``
========================================  ===========================================
``close()``, or a ``with`` block's end    ``"finished"``
a ``with`` block left by an exception     ``"failed"`` with ``error_type`` and ``message``
interpreter exit with the logger open     ``"finished"``, or ``"failed"`` after an uncaught
                                          exception (``sys.last_value``)
SIGTERM / SIGINT                          ``"killed"`` (with ``message`` naming the signal)
SIGKILL, power loss, OOM killer           nothing: the reader calls the run crashed
========================================  ===========================================

One module-level registry holds the open loggers (weakly): one ``atexit`` hook, registered
when the first logger opens (so it runs before the sinks' own exit flush), ends them all, and
SIGTERM/SIGINT handlers are installed while at least one logger is open, from the main thread
only (Python allows nothing else). The handler ends every open logger, then hands the signal
to the handler that was there before (a trainer's own handler is called; the default one
is restored and the signal raised again, so the process still dies by it; an ignored signal
is left alone and never handled). When the last logger closes, the previous handlers are put
back, unless something else replaced ours since.

A signal can arrive while the main thread holds the sink's lock (inside a flush); the handler
therefore writes from a helper thread and, if that cannot finish within a second, appends the
line to the file directly (whole lines only: the interrupted flush wrote whole lines).
"""

from __future__ import annotations

import atexit
import contextlib
import os
import signal
import sys
import threading
import weakref
from types import FrameType
from typing import Any, Literal, Protocol

from .contract import RUN_END_STATUSES

__all__ = ["END_STATUSES", "EndStatus", "Endable", "register", "run_end_event", "unregister"]

END_STATUSES = RUN_END_STATUSES
EndStatus = Literal["finished", "failed", "killed"]
_SIGNALS = tuple(s for s in (getattr(signal, "SIGTERM", None), signal.SIGINT) if s is not None)
_MESSAGE_MAX = 2000


class Endable(Protocol):
    """What the registry needs of a logger."""

    def end_run(
        self,
        status: EndStatus,
        error_type: str | None = None,
        message: str | None = None,
        *,
        from_signal: bool = False,
    ) -> None: ...


def run_end_event(
    now: float,
    step: int,
    status: EndStatus,
    error_type: str | None = None,
    message: str | None = None,
) -> dict[str, Any]:
    """The line a logger writes when the run stops; ``step`` is the highest step it logged."""
    if status not in END_STATUSES:
        raise ValueError(f"status must be one of {END_STATUSES}, got {status!r}")
    rec: dict[str, Any] = {
        "event_type": "run_end",
        "step": step,
        "wall_time": now,
        "status": status,
    }
    if error_type is not None:
        rec["error_type"] = error_type
    if message is not None:
        text = message if len(message) <= _MESSAGE_MAX else message[: _MESSAGE_MAX - 3] + "..."
        # a lone surrogate would make the line unwritable: the message is the one thing to keep
        rec["message"] = text.encode("utf-8", "replace").decode("utf-8")
    return rec


_open: weakref.WeakSet[Any] = weakref.WeakSet()
_lock = threading.RLock()
_atexit_registered = False
_previous: dict[int, Any] = {}  # signal number -> the handler before ours


def register(logger: Endable, *, signals: bool = True) -> None:
    """``logger`` is open: end it at exit and on SIGTERM/SIGINT (``signals``, main thread only)."""
    global _atexit_registered
    with _lock:
        _open.add(logger)
        if not _atexit_registered:
            atexit.register(_at_exit)
            _atexit_registered = True
        if signals and not _previous and threading.current_thread() is threading.main_thread():
            for sig in _SIGNALS:
                try:
                    before = signal.getsignal(sig)
                    if before is signal.SIG_IGN:  # the process chose to ignore it: so do we
                        continue
                    signal.signal(sig, _on_signal)
                except (ValueError, OSError):  # not the main interpreter, or not allowed
                    continue
                _previous[sig] = before


def unregister(logger: Endable) -> None:
    """``logger`` closed; the last one puts the previous signal handlers back."""
    with _lock:
        _open.discard(logger)
        if len(_open) or not _previous:
            return
        if threading.current_thread() is not threading.main_thread():
            return  # cannot touch handlers here; ours stays and chains (harmless, no logger)
        for sig, before in list(_previous.items()):
            try:
                if signal.getsignal(sig) is _on_signal:
                    signal.signal(sig, before if before is not None else signal.SIG_DFL)
            except (ValueError, OSError):
                pass
        _previous.clear()


def _at_exit() -> None:
    exc = getattr(sys, "last_value", None)
    for logger in list(_open):
        try:
            if exc is not None:
                logger.end_run("failed", type(exc).__name__, str(exc))
            else:
                logger.end_run("finished")
        except Exception:
            pass


def _on_signal(signum: int, frame: FrameType | None) -> None:
    name = signal.Signals(signum).name
    for logger in list(_open):
        _end_from_signal(logger, f"stopped by {name}")
    before = _previous.get(signum, signal.SIG_DFL)
    if callable(before):
        before(signum, frame)
        return
    if before is signal.SIG_IGN:
        return
    # SIG_DFL (or None: set from C): die by the signal as the process would have
    signal.signal(signum, signal.SIG_DFL)
    os.kill(os.getpid(), signum)


def _end_from_signal(logger: Endable, message: str) -> None:
    done = threading.Event()

    def work() -> None:
        try:
            logger.end_run("killed", None, message)
        except Exception:
            pass
        finally:
            done.set()

    helper = threading.Thread(target=work, name="thalia-run-end", daemon=True)
    helper.start()
    if not done.wait(1.0):  # the main thread holds the sink's lock: write the line ourselves
        with contextlib.suppress(Exception):
            logger.end_run("killed", None, message, from_signal=True)
