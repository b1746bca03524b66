"""The page scripts of a root of runs (``st.navigation`` runs each file; importing one draws its
page, so nothing imports them): see :mod:`dashboard.page.root_app`."""

__all__: list[str] = []
