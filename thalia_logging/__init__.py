"""Trainer side: CurriculumLogger writes the on-disk contract (no streamlit, altair or watchdog)."""
