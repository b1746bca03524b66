"""Tests of the reader side, in folders mirroring ``dashboard/``'s layers; the shared helpers
(``page_helpers``, ``reader_helpers``) live here and are importable from every folder."""

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
