"""The Compare page script (see :mod:`dashboard.page.root_app`)."""

from dashboard.page import compare_page

compare_page.render()
