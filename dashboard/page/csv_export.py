"""The run page's CSV downloads, bounded by the server's memory.

A Streamlit download holds its whole payload in the server's memory (the CSV string, then the
media file), so a frame is offered as a download only while its CSV stays under
:data:`MAX_PAGE_CSV_BYTES`. A longer history (a 10M-event run is a few GB of CSV) is not built:
the page says how large it would be and gives the ``thalia-export`` command, which writes the
CSV to disk as it goes. The size is estimated from the first and last rows' CSV, so the check
reads a few thousand rows whatever the history.
"""

from __future__ import annotations

import shlex
import threading

import pandas as pd

__all__ = [
    "EXPORT_WHAT",
    "MAX_PAGE_CSV_BYTES",
    "SAMPLE_ROWS",
    "csv_size_estimate",
    "export_command",
    "kept_csv_size",
]

#: the largest CSV the page builds in memory for a download
MAX_PAGE_CSV_BYTES = 256 << 20
#: rows whose CSV is measured to estimate a longer frame's
SAMPLE_ROWS = 2_000
#: frame -> ``thalia-export --what`` value
EXPORT_WHAT = {
    "metrics_history": "metrics",
    "growth_events": "growth",
    "consolidation_events": "consolidation",
}


def csv_size_estimate(frame: pd.DataFrame) -> int:
    """The bytes of ``frame.to_csv(index=False)``: exact up to :data:`SAMPLE_ROWS` rows, else
    the header plus the mean row of the first and last ``SAMPLE_ROWS / 2`` rows times the rows."""
    n = len(frame)
    if n <= SAMPLE_ROWS:
        return len(frame.to_csv(index=False).encode())
    header, per_row = _measure(frame)
    return header + int(per_row * n)


def _measure(frame: pd.DataFrame) -> tuple[int, float]:
    """(header bytes, mean bytes per row) of a frame longer than :data:`SAMPLE_ROWS`."""
    half = SAMPLE_ROWS // 2
    header = len(frame.iloc[:0].to_csv(index=False).encode())
    sample = sum(
        len(part.to_csv(index=False, header=False).encode())
        for part in (frame.iloc[:half], frame.iloc[-half:])
    )
    return header, sample / SAMPLE_ROWS


_LOCK = threading.Lock()
_KEPT: dict[tuple[str, str], tuple[tuple[str, ...], int, tuple[int, float]]] = {}


def kept_csv_size(directory: str, name: str, frame: pd.DataFrame) -> int:
    """:func:`csv_size_estimate` of the frame ``name`` of the run in ``directory``, its rows
    measured again only when its columns changed or its rows doubled (or fell) since the last
    measure: a live page asks on every refresh, and a measure formats 2,000 rows."""
    n = len(frame)
    if n <= SAMPLE_ROWS:
        return csv_size_estimate(frame)
    columns = tuple(map(str, frame.columns))
    with _LOCK:
        held = _KEPT.get((directory, name))
    if held is None or held[0] != columns or not held[1] <= n < 2 * held[1]:
        held = (columns, n, _measure(frame))
        with _LOCK:
            while len(_KEPT) >= 64:
                _KEPT.pop(next(iter(_KEPT)))
            _KEPT[(directory, name)] = held
    header, per_row = held[2]
    return header + int(per_row * n)


def export_command(directory: str, frame: str) -> str:
    """The shell command that writes ``frame`` of the run in ``directory`` to a CSV file."""
    what = EXPORT_WHAT[frame]
    return f"thalia-export {shlex.quote(directory)} --what {what} -o {what}_export.csv"
