"""Many runs in one server: the pages over a root of runs (``thalia-dashboard --root ROOT``).

``dashboard/app.py`` calls :func:`render` when the script arguments hold ``--root ROOT`` (or
``THALIA_ROOT`` is set): an ``st.navigation`` with three pages, each a small script under
``dashboard/page/root_pages/``:

- **Runs** (``/``): one row per run, from :class:`~dashboard.reading.overview.OverviewReader`
  (metadata and log tails, never a full history);
- **Compare** (``/compare``): chosen runs overlaid, config diff, summaries, milestones;
- **Run** (``/run?run=NAME``): today's run page (:func:`dashboard.page.run_page.render`) for one
  run under the root.

The root is fixed at launch, like a run page's directory. A run is only ever one the discovery
found under the root (:func:`run_directory`): a name from a URL that is not one of them is
refused with a visible message, so no visitor can make the server read another path. One
:class:`OverviewReader` per root is shared by every session (:func:`overview_reader`); full
:class:`~dashboard.reading.watcher.RunWatcher` s are the run page's cached ones
(:func:`dashboard.page.run_page.get_watcher`, bounded), opened only by the Run and Compare pages.
"""

from __future__ import annotations

import argparse
import os
from collections.abc import Sequence
from pathlib import Path

import streamlit as st

from dashboard.analysis.run_table import RowCache
from dashboard.page.text import md_text
from dashboard.reading.overview import OverviewReader, RunSummary
from dashboard.reading.runs import run_path

__all__ = [
    "PAGES_DIR",
    "overview_reader",
    "parse_root",
    "render",
    "root_args",
    "root_warning",
    "row_cache",
    "run_directory",
    "summaries",
]

PAGES_DIR = Path(__file__).resolve().parent / "root_pages"


def parse_root(
    argv: Sequence[str], env: dict[str, str] | os._Environ[str] = os.environ
) -> tuple[str | None, bool]:
    """(root or None, polling) from the script arguments (after ``--``), then ``THALIA_ROOT``
    (unless ``--checkpoint-dir`` names one run: that wins)."""
    args = list(argv)
    if "--" in args:
        args = args[args.index("--") + 1 :]
    parser = argparse.ArgumentParser(add_help=False)
    parser.add_argument("--root")
    parser.add_argument("--poll", action="store_true")
    parser.add_argument("--checkpoint-dir")
    known, _ = parser.parse_known_args(args)
    root = known.root or (None if known.checkpoint_dir else env.get("THALIA_ROOT")) or None
    polling = bool(known.poll) or env.get("THALIA_POLL", "") == "1"
    return root, polling


def root_args() -> tuple[str, bool]:
    """The resolved root and polling flag of this server (the page scripts call it)."""
    import sys

    root, polling = parse_root(sys.argv[1:])
    if root is None:
        st.error("No root of runs was given (thalia-dashboard --root ROOT).")
        st.stop()
    return str(Path(root).expanduser().resolve()), polling


@st.cache_resource(show_spinner=False, max_entries=4)
def overview_reader(root: str) -> OverviewReader:
    """One overview reader per root for the whole server (thread-safe inside)."""
    return OverviewReader(root)


@st.cache_resource(show_spinner=False, max_entries=4)
def row_cache(root: str) -> RowCache:
    """The overview rows of ``root``, kept between refreshes for the whole server."""
    return RowCache()


def summaries(root: str) -> list[RunSummary]:
    """The runs' summaries now (found again; only changed runs are read)."""
    return overview_reader(root).refresh()


def root_warning(root: str) -> bool:
    """Say when the root cannot be listed now (deleted, a network mount gone, not yet made);
    whether it said so. What was read before stays on the pages (the reader keeps it)."""
    error = overview_reader(root).discovery.root_error
    if error is None:
        return False
    st.warning(
        md_text(f"{error}. Waiting for it; what was read before stays shown, not updated."),
        icon=":material/folder_off:",
    )
    return True


def run_directory(root: str, name: str) -> str | None:
    """The directory of run ``name`` under ``root``, or None after saying it is not one."""
    reader = overview_reader(root)
    path = run_path(reader.discovery, name)
    if path is None:
        reader.refresh()
        path = run_path(reader.discovery, name)
    if path is None:
        st.error(
            md_text(
                f"No run called {name!r} under this server's root: only the runs listed on the "
                "Runs page can be shown."
            ),
            icon=":material/block:",
        )
    return path


def render(root: str, polling: bool) -> None:
    """The navigation over ``root`` (already resolved); the caller set the page config."""
    del polling  # the page scripts read it from the arguments again
    pages = [
        st.Page(PAGES_DIR / "runs.py", title="Runs", icon=":material/table:", default=True),
        st.Page(PAGES_DIR / "compare.py", title="Compare", icon=":material/compare_arrows:",
                url_path="compare"),
        st.Page(PAGES_DIR / "run.py", title="Run", icon=":material/monitoring:", url_path="run"),
    ]  # fmt: skip
    st.navigation(pages).run()
