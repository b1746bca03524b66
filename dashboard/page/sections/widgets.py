"""The shared look of the page's sections: a metric card, the caption of an empty section,
and the helpers of their tables (row count, integer columns, run text as plain strings)."""

from __future__ import annotations

from typing import Any

import pandas as pd
import streamlit as st

from dashboard.page.text import md_text, plain
from dashboard.page.views import DeltaArrow, DeltaColor

__all__ = ["INT_COLUMN", "TABLE_ROWS", "card", "plain_columns", "waiting"]

TABLE_ROWS = 20
_CARD_CHARS = 14  # a longer card value may be cut at 1280 px: it goes into the tooltip too
#: step and count columns of the tables: thousands separators, like the header's "50,000"
INT_COLUMN = st.column_config.NumberColumn(format="localized")


def card(
    target: Any,
    label: str,
    value: object,
    delta: object = None,
    delta_color: DeltaColor = "normal",
    delta_arrow: DeltaArrow = "auto",
) -> None:
    """A metric card: ``st.metric`` renders markdown in label, value and delta, so all three go
    through the safe path (our own numbers come out unchanged). A value too long for a card
    (run text) is also in the card's tooltip, whole."""
    shown = md_text(value)
    target.metric(
        md_text(label),
        shown,
        None if delta is None else md_text(delta),
        delta_color=delta_color,
        delta_arrow=delta_arrow,
        help=shown if len(str(value)) > _CARD_CHARS else None,
    )


def waiting(what: str) -> None:
    """The one look of an empty section: what it waits for, in a caption."""
    st.caption(md_text(what))


def plain_columns(table: pd.DataFrame, *columns: str) -> pd.DataFrame:
    """``table`` with the run-text ``columns`` as bounded plain strings (any type logged)."""
    return table.assign(**{c: [plain(v) for v in table[c].tolist()] for c in columns})
