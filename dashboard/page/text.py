"""The one path by which text from a run reaches the page: it stays text.

Everything a run writes (region names, reasons, warnings, metric and milestone names, stage
names, metadata values of any type, log lines, file names, excerpts of bad lines) is shown

- by a plain-text widget (``st.text``, ``st.code``, ``st.dataframe`` cells) after :func:`plain`,
  which turns any value into a bounded string; or
- where a Streamlit call renders markdown (``st.metric`` label/value/delta, alerts, tab and
  expander labels, captions, ``help=`` tooltips, progress texts) after :func:`md_text`, which
  makes a string that Streamlit's markdown renders as exactly its characters.

:func:`md_text` assumes Streamlit's markdown stack (CommonMark + GFM + maths + its own ``:icon:``,
``:emoji:`` and ``:colour[...]`` directives; raw HTML is not rendered, and is escaped anyway). It
guarantees that no emphasis, heading, list, table, code, link, image, autolink (``http://``,
``www.``, e-mail), icon, emoji, colour directive, maths or HTML element comes out of the text:

- every markdown-active ASCII punctuation character is backslash-escaped (CommonMark: any ASCII
  punctuation may be), except ``. - +`` before a digit (``-0.01``, ``1.5`` cannot start a
  construct) and ``/ , % ;`` which never do, so plain numbers read back unchanged;
- escapes do not stop the constructs recognised in already-parsed text (GFM literal autolinks,
  emoji and icon shortcodes), so a WORD JOINER (U+2060, invisible, zero width) is put after every
  ``:`` and ``@`` and inside ``www.``: ``http:⁠//x``, ``:⁠rocket:``, ``a@⁠b.c`` match no pattern;
- line breaks become spaces (labels and alerts are one line).
"""

from __future__ import annotations

import json
import math
import re
from typing import Any

from thalia_logging.contract import non_finite_text

__all__ = ["MAX_CHARS", "WORD_JOINER", "escape_markdown", "md_text", "path_key", "plain"]

MAX_CHARS = 2_000
WORD_JOINER = "\u2060"
#: ASCII punctuation that markdown (CommonMark, GFM, maths, Streamlit directives) can act on.
_ACTIVE = re.compile(r"""([\\`*_{}\[\]()#!|<>~$:&="'^?@])|([.+\-])(?!\d)""")
_JOIN_AFTER = re.compile(r"([:@])")
_WWW = re.compile(r"(?i)(w)(w)(w)(?=\.)")
_LINE_BREAKS = re.compile(r"[\r\n\u2028\u2029\x0b\x0c\x85]+")
_CONTROL = re.compile(r"[\x00-\x08\x0e-\x1f\x7f]")


def plain(value: Any, *, limit: int = MAX_CHARS) -> str:
    """Any value as a bounded string for a plain-text widget: strings as they are, numbers as
    numbers (non-finite ones as ``NaN``/``Infinity``), booleans as ``true``/``false``, ``None``
    as ``—``, dicts and lists as compact JSON; cut at ``limit`` characters with ``…``."""
    if value is None:
        text = "—"
    elif isinstance(value, str):
        text = value
    elif isinstance(value, bool):
        text = "true" if value else "false"
    elif isinstance(value, float) and not math.isfinite(value):
        text = non_finite_text(value)
    elif isinstance(value, int | float):
        text = _number(value)
    else:
        try:
            text = json.dumps(value, ensure_ascii=False, default=str, allow_nan=True)
        except (TypeError, ValueError, RecursionError):
            text = repr(value)
    text = _CONTROL.sub("\ufffd", _no_surrogates(text))
    return text if len(text) <= limit else text[: limit - 1] + "…"


def path_key(path: str) -> str:
    """A cache key for a path that Streamlit can hash: its bytes in hex (a file name that is not
    UTF-8 arrives with lone surrogates, which no UTF-8 encoder accepts)."""
    return path.encode("utf-8", "surrogateescape").hex()


def _no_surrogates(text: str) -> str:
    """``text`` with lone surrogates (a path's undecodable bytes, ``\\ud800`` from JSON) as
    U+FFFD: Streamlit's messages are UTF-8, which cannot carry them."""
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        return text.encode("utf-16", "surrogatepass").decode("utf-16", "replace")
    return text


def _number(value: int | float) -> str:
    if isinstance(value, int) and abs(value) >= 10**21:
        digits = str(abs(value))  # a huge integer: short, not a 1,000-digit card
        return f"{'-' if value < 0 else ''}{digits[0]}.{digits[1:4]}e+{len(digits) - 1}"
    return f"{value:,}" if isinstance(value, int) else f"{value:.6g}"


def md_text(value: Any, *, limit: int = MAX_CHARS) -> str:
    """``value`` (any type, via :func:`plain`) as markdown that renders as exactly its text, on
    one line. Use it for every run-derived string given to a Streamlit call that renders
    markdown; our own fixed texts need it only when they embed run text."""
    text = _LINE_BREAKS.sub(" ", plain(value, limit=limit))
    text = _WWW.sub(r"\1\2\3" + WORD_JOINER, text)
    text = _JOIN_AFTER.sub(r"\1" + WORD_JOINER, text)
    return _ACTIVE.sub(lambda m: "\\" + (m.group(1) or m.group(2)), text)


def escape_markdown(text: object) -> str:
    """Run text (any type) as markdown that Streamlit shows as exactly that text, on one line:
    :func:`dashboard.page.text.md_text` (no emphasis, link, autolink, image, icon, emoji, colour,
    maths or HTML can come out of it). Kept under this name for the sections that use it."""
    return md_text(text)
