"""The alert history section draws a bounded number of elements however many alarms a run had:
one text block (scrolling inside a box past a dozen lines), newest first."""

from __future__ import annotations

from streamlit.testing.v1 import AppTest


def _page(episodes: int) -> None:
    import streamlit as st

    from dashboard.analysis.alarms import AlarmLog, PastAlarm
    from dashboard.page import alert_history

    log = AlarmLog()
    log.history = [
        PastAlarm(
            f"rule_{i}", "warning", f"message <b>{i}</b>", i * 10, 1.7e9 + i, i * 10 + 5, 1.8e9
        )
        for i in range(episodes)
    ]
    log.history[-1] = PastAlarm("nonfinite_loss", "critical", "Loss became NaN", 99, 1.7e9)
    alert_history.section(log)
    st.caption("end")


def _run(episodes: int) -> AppTest:
    at = AppTest.from_function(_page, kwargs={"episodes": episodes}, default_timeout=30).run()
    assert not at.exception, [e.value for e in at.exception]
    return at


def test_five_hundred_alarms_are_one_text_element_newest_first() -> None:
    at = _run(500)
    (block,) = [t.value for t in at.text]
    lines = block.splitlines()
    assert len(lines) == 500
    assert lines[0].startswith("[critical] nonfinite_loss: started at step 99, ")
    assert lines[0].endswith("; active. Loss became NaN")
    assert lines[1].startswith("[warning] rule_498: started at step 4,980, ")
    assert "resolved at step 4,985" in lines[1] and lines[1].endswith("message <b>498</b>")


def test_a_short_history_is_one_text_element_too() -> None:
    at = _run(3)
    assert [len(t.value.splitlines()) for t in at.text] == [3]
