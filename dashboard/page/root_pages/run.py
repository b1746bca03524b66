"""The Run page script (see :mod:`dashboard.page.root_app`)."""

from dashboard.page import run_select

run_select.render()
