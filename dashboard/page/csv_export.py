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

import pandas as pd

__all__ = [
    "EXPORT_WHAT",
    "MAX_PAGE_CSV_BYTES",
    "SAMPLE_ROWS",
    "csv_size_estimate",
    "export_command",
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
    half = SAMPLE_ROWS // 2
    header = len(frame.iloc[:0].to_csv(index=False).encode())
    sample = sum(
        len(part.to_csv(index=False, header=False).encode())
        for part in (frame.iloc[:half], frame.iloc[-half:])
    )
    return header + int(sample / SAMPLE_ROWS * n)


def export_command(directory: str, frame: str) -> str:
    """The shell command that writes ``frame`` of the run in ``directory`` to a CSV file."""
    what = EXPORT_WHAT[frame]
    return f"thalia-export {shlex.quote(directory)} --what {what} -o {what}_export.csv"
