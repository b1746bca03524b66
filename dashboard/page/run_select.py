"""The Run page of a root of runs: pick a run (``?run=NAME``, or the sidebar), then today's run
page for it (:func:`dashboard.page.run_page.render`).

Only runs the discovery found under the root can be chosen: a ``run`` parameter naming anything
else (another path, ``../x``, an absolute path) is refused with a visible message and nothing is
read.
"""

from __future__ import annotations

import streamlit as st

from dashboard.page import deep_links, root_app, run_page
from dashboard.page.text import md_text
from dashboard.reading.runs import shown

__all__ = ["render"]


def render() -> None:
    """The Run page (a page script of :mod:`dashboard.page.root_app` calls it)."""
    root, polling = root_app.root_args()
    reader = root_app.overview_reader(root)
    if not reader.discovery.runs:
        reader.refresh()
    names = reader.discovery.names()
    asked = st.query_params.get("run")
    if asked is not None and asked not in names and "root_run" not in st.session_state:
        root_app.run_directory(root, asked)  # says why it is refused
        names = reader.discovery.names()
        if asked not in names:
            st.stop()
    if not names:
        st.info(md_text(f"No runs under {root} yet."))
        return
    deep_links.seed("root_run", "run", names, names[0])
    with st.sidebar:
        name = st.selectbox("Run", names, key="root_run")
    deep_links.publish("run", name)
    directory = root_app.run_directory(root, name)
    if directory is None:
        st.stop()
    if shown(directory) != directory:  # the run page would fail to encode its path
        st.error(
            md_text(
                f"The folder of {name} has a name that is not valid UTF-8 text, which the run "
                "page cannot show: rename the folder (its runs overview row is still listed)."
            ),
            icon=":material/block:",
        )
        st.stop()
    run_page.render(directory, polling)
