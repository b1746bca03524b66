from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from dashboard.reading.linebuffer import Block, LineBuffer, Overlong, split_lines


def collect(buf: LineBuffer, chunks: list[bytes]) -> tuple[list[tuple[int, bytes]], list[int]]:
    lines, overlong = [], []
    for chunk in chunks:
        for item in buf.feed(chunk):
            if isinstance(item, Block):
                assert item.data.endswith(b"\n")
                lines.extend(split_lines(item))
            else:
                overlong.append(item.offset)
    return lines, overlong


@pytest.mark.parametrize(
    ("chunks", "expected", "pending"),
    [
        ([b"a\n"], [(0, b"a")], 0),
        ([b"a"], [], 1),
        ([b"a", b"b\n"], [(0, b"ab")], 0),
        ([b"a\nb", b"c\n"], [(0, b"a"), (2, b"bc")], 0),
        ([b"\n\n"], [(0, b""), (1, b"")], 0),
        (
            [b'{"s": "x\xe2\x80\xa8y"}\n'],
            [(0, b'{"s": "x\xe2\x80\xa8y"}')],
            0,
        ),  # U+2028 is not a newline
        ([b"a\r\n"], [(0, b"a\r")], 0),
        ([b""], [], 0),
    ],
)
def test_feed(chunks: list[bytes], expected: list[tuple[int, bytes]], pending: int) -> None:
    buf = LineBuffer()
    assert collect(buf, chunks) == (expected, [])
    assert buf.pending == pending


def test_overlong_line_is_reported_once_and_skipped_without_buffering() -> None:
    buf = LineBuffer(max_line_bytes=10)
    lines, overlong = collect(buf, [b"ok\n" + b"x" * 8, b"x" * 50, b"x" * 50])
    assert (lines, overlong) == ([(0, b"ok")], [3])
    assert buf.pending == 0  # memory does not grow with the long line
    lines, overlong = collect(buf, [b"xx\nfine\n"])
    assert (lines, overlong) == ([(114, b"fine")], [])


def test_overlong_complete_line_inside_a_chunk() -> None:
    buf = LineBuffer(max_line_bytes=4)
    items = buf.feed(b"ab\n0123456789\ncd\n")
    assert items == [Block(0, b"ab\n"), Overlong(3, b"0123456789", 4), Block(14, b"cd\n")]
    assert "longer than 4 bytes" in items[1].reason  # type: ignore[union-attr]


def test_line_of_exactly_the_limit_is_kept() -> None:
    buf = LineBuffer(max_line_bytes=4)
    assert collect(buf, [b"abcd", b"\n"]) == ([(0, b"abcd")], [])


@settings(max_examples=60, deadline=None)
@given(
    lines=st.lists(st.binary(max_size=30).map(lambda b: b.replace(b"\n", b"")), max_size=20),
    cuts=st.lists(st.integers(min_value=0, max_value=1000), max_size=10),
    limit=st.integers(min_value=1, max_value=40),
)
def test_any_chunking_gives_the_same_lines(lines: list[bytes], cuts: list[int], limit: int) -> None:
    stream = b"".join(x + b"\n" for x in lines) + b"tail"
    points = sorted({c % (len(stream) + 1) for c in cuts})
    chunks = [stream[a:b] for a, b in zip([0, *points], [*points, len(stream)], strict=True)]
    whole = collect(LineBuffer(max_line_bytes=limit), [stream])
    assert collect(LineBuffer(max_line_bytes=limit), chunks) == whole
    offset = 0
    expected_lines, expected_long = [], []
    for x in lines:
        (expected_long if len(x) > limit else expected_lines).append((offset, x))
        offset += len(x) + 1
    if len(b"tail") > limit:  # the incomplete last line is already too long
        expected_long.append((offset, b"tail"))
    assert whole == (expected_lines, [o for o, _ in expected_long])
