"""The Runs page script (see :mod:`dashboard.page.root_app`)."""

from dashboard.page import runs_page

runs_page.render()
