"""Frame snapshots: the committed rows of one frame at one moment, built into a DataFrame once.

A :class:`FrameSnapshot` pins what a store holds at one moment and builds the DataFrame on first
call (cached). The rows are already sorted and merged by then, with abandoned timelines (cuts)
dropped, by the rules below.

The timeline rule (which lines a cut drops is the reader's business, see
:mod:`dashboard.reading.directory`):

* rows land in (step, rank) order whatever order they were read in; ties keep read order;
* event frames keep every row (two regions may grow at one step, a late consolidation is a
  distinct event): a stable sort by step only;
* ``metrics_history`` has one row per (step, rank): lines sharing it merge field by field, in
  read order: the later line's value of a field wins, a field the later line does not carry
  keeps the earlier value. "Does not carry" is a NaN with the default bit pattern (a column the
  line left out, or a JSON ``null``); a NaN the trainer logged is stored as
  :data:`~dashboard.reading.chunks.LOGGED_NAN` (a NaN with a payload, still NaN to every reader
  of the frame) and so wins like any value.

Storage: the rows live once, in the frame's own order, in a
:class:`~dashboard.reading.sorted_table.SortedTable` per store (which applies the rules above as
rows arrive). A snapshot pins a :class:`~dashboard.reading.sorted_table.TableView` of its first
rows; the frame is a view of those buffers, never written again, so every snapshot keeps showing
exactly its own rows (for a long run, views of files in the spill directory, whose old rows are
read back from disk when the frame reads them: :mod:`dashboard.reading.spill`).
"""

from __future__ import annotations

from collections.abc import Mapping

import pandas as pd

from dashboard.reading.build_once import BuildOnce
from dashboard.reading.sorted_table import TableView
from dashboard.run_state import empty_frame

__all__ = ["FrameSnapshot"]


class FrameSnapshot(BuildOnce):
    """A frame as it was when the snapshot was taken; calling it builds (once) the DataFrame.

    ``rows`` = the raw rows committed then (before cuts and merging), ``view`` = the sorted,
    merged rows then."""

    def __init__(
        self,
        name: str,
        view: TableView,
        columns: tuple[str, ...],
        dtypes: Mapping[str, str],
        rows: int,
    ) -> None:
        self.name = name
        self.view = view
        self.columns = columns
        self.dtypes = dict(dtypes)
        self.rows = rows
        super().__init__()

    def _build(self) -> pd.DataFrame:
        if not self.rows:
            return empty_frame(self.name)
        return self.view.frame(self.columns, self.dtypes)
