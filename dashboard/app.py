"""The Thalia curriculum training monitor: a read-only Streamlit page over one checkpoint directory.

Run it with ``thalia-dashboard DIR`` or ``streamlit run dashboard/app.py -- --checkpoint-dir DIR``
(``--poll`` forces polling instead of filesystem events). Without arguments the directory comes
from ``THALIA_CHECKPOINT_DIR`` (and polling from ``THALIA_POLL=1``), else
``checkpoints/curriculum``. With ``--root ROOT`` (or ``THALIA_ROOT``) it serves every run under
ROOT instead: Runs, Compare and Run pages (:mod:`dashboard.page.root_app`).

The directory is fixed at launch: the sidebar shows it, no visitor can point the server at
another one. Requests from other hosts or origins (DNS rebinding) are refused by
:mod:`dashboard.page.guard`, installed here for the ``streamlit run`` route (``thalia-dashboard``
installs it before its servers start).

This file only wires things together: the guard, the page config and the run page
(:mod:`dashboard.page.run_page`: the sidebar, one shared watcher per directory, the live
fragment). The page never writes into the checkpoint directory.
"""

from __future__ import annotations

import sys
from pathlib import Path

if __package__ in (None, ""):  # `streamlit run dashboard/app.py` runs this file as a script
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import streamlit as st

from dashboard.page import guard, root_app, run_page


def main() -> None:
    guard.install()  # a no-op after the first run
    st.set_page_config(page_title="Thalia training monitor", layout="wide")
    if run_page.refuse_foreign_session():
        st.stop()
    root, polling = root_app.parse_root(sys.argv[1:])
    if root is not None:  # many runs in one server: the Runs / Compare / Run pages
        root_app.render(str(Path(root).expanduser().resolve()), polling)
        return
    directory, polling = run_page.parse_cli(sys.argv[1:])
    run_page.render(run_page.resolve_directory(directory), polling)


main()
