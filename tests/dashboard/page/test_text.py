"""The one text path: any value to bounded plain text, and to markdown that renders as its text."""

from __future__ import annotations

import math
import re

import pytest
from hypothesis import given
from hypothesis import strategies as st

from dashboard.page.text import MAX_CHARS, WORD_JOINER, md_text, plain

CORPUS = [
    "**bold**",
    "__bold__",
    "*em*",
    "_em_",
    "~~strike~~",
    "[link](http://127.0.0.1:9/x)",
    "![img](http://127.0.0.1:9/img.png)",
    "<img src=x onerror=alert(1)>",
    '<a href="http://127.0.0.1:9/a">a</a>',
    "http://127.0.0.1:9/auto",
    "HTTPS://EXAMPLE.COM",
    "www.example.com",
    "WWW.Example.com",
    "mail@example.com",
    "mailto:a@b.c",
    ":material/home:",
    ":red[red]",
    ":rainbow-background[x]",
    ":rocket:",
    ":+1:",
    "$x^2$",
    "$$\\int$$",
    "`code`",
    "```\ncode\n```",
    "# heading",
    "## h2",
    "- item",
    "* item",
    "+ item",
    "1. first",
    "1) first",
    "> quote",
    "***",
    "---",
    "| a | b |",
    "&lt;b&gt;",
    "&#60;b&#62;",
    "[ref]: http://x",
    "<http://127.0.0.1:9/angle>",
    "a\\*b",
    "line one\nline two\r\n# heading",
    "x\u2028# y",
    "[^note]",
    "- [ ] task",
]

_ESCAPED = re.compile(r"\\(.)")
#: ASCII punctuation that may stay unescaped: ". - +" only before a digit, "/ , % ;" always.
_UNESCAPED_ACTIVE = re.compile(r"""(?<!\\)(?:[`*_{}\[\]()#!|<>~$:&="'^?@]|[.+\-](?!\d))""")


def _shown(markdown: str) -> str:
    """What markdown made of only escapes and plain characters shows (word joiners are invisible)."""
    return _ESCAPED.sub(r"\1", markdown).replace(WORD_JOINER, "")


def _check(text: str) -> None:
    out = md_text(text)
    assert "\n" not in out and "\r" not in out
    one_line = re.sub(r"[\r\n\u2028\u2029\x0b\x0c\x85]+", " ", text).replace(WORD_JOINER, "")
    assert _shown(out) == one_line
    body = out.replace("\\\\", "")
    assert _UNESCAPED_ACTIVE.search(body) is None, out
    shown_chars = out.replace("\\", "")
    # what the escapes cannot stop (literal autolinks, emoji/icon codes) is broken by word joiners
    assert "://" not in shown_chars and re.search(r"(?i)www\.", shown_chars) is None
    assert re.search(r":[\w+-]", shown_chars) is None and re.search(r"@[\w-]", shown_chars) is None


@pytest.mark.parametrize("text", CORPUS)
def test_md_text_corpus_renders_as_text(text: str) -> None:
    _check(text)


@given(st.text(max_size=200))
def test_md_text_any_text(text: str) -> None:
    _check(
        text.replace("\x00", "").translate(
            {c: None for c in range(0x0E, 0x20)}
            | {c: None for c in range(0x01, 0x09)}
            | {0x7F: None}
        )
    )


@pytest.mark.parametrize(
    "number",
    [
        "4,900",
        "12.0%",
        "-0.01",
        "+0.05 pp",
        "1.51",
        "2/4",
        "—",
        "4 min 10 s",
        "0.00 pp",
        "1,234,567",
        "-1.5e-05",
        "100.0",
    ],
)
def test_our_numbers_read_back_unchanged(number: str) -> None:
    assert md_text(number) == number


@pytest.mark.parametrize(
    ("value", "shown"),
    [
        (None, "—"),
        (True, "true"),
        (False, "false"),
        (3, "3"),
        (12345, "12,345"),
        (0.25, "0.25"),
        (math.nan, "NaN"),
        (-math.inf, "-Infinity"),
        (10**40, "1.000e+40"),
        (-(10**40), "-1.000e+40"),
        ({"a": [1, True, None]}, '{"a": [1, true, null]}'),
        ([1, "x"], '[1, "x"]'),
        ("as is", "as is"),
        ("bell\x07", "bell\ufffd"),
    ],
)
def test_plain_any_type(value: object, shown: str) -> None:
    assert plain(value) == shown


def test_plain_and_md_text_are_bounded() -> None:
    huge = "x" * (MAX_CHARS * 5)
    assert len(plain(huge)) == MAX_CHARS and plain(huge).endswith("…")
    assert len(_shown(md_text(huge))) == MAX_CHARS
    assert len(plain({"k": huge})) == MAX_CHARS
    assert plain("abc", limit=2) == "a…"
