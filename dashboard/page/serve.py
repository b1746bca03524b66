"""``python -m dashboard.page.serve run dashboard/app.py [streamlit options] -- ARGS``: Streamlit's own
command line with the same-origin guard (:mod:`dashboard.page.guard`) installed before the server
starts, so even the first request is checked. ``thalia-dashboard`` starts its children this way.
"""

from __future__ import annotations

from dashboard.page import guard

__all__ = ["main"]


def main() -> None:
    guard.install()
    from streamlit.web.cli import main as streamlit_main

    streamlit_main(prog_name="streamlit")


if __name__ == "__main__":
    main()
