"""Reader side: watch a checkpoint directory and turn it into pandas frames for the page.

Nothing here needs torch; only ``dashboard.app`` imports streamlit.
"""
