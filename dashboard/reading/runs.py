"""The runs under one root directory: which folders are runs, found again on every refresh.

A *run* is a directory holding a log file (``training_log.jsonl``, ``training_log.json`` or a
per-rank ``training_log.rank{N}.jsonl``) or a ``metadata_*.json`` file. :func:`discover_runs`
walks ``root`` breadth-first through :class:`~dashboard.reading.fs.FileSystem` (one ``listdir``
per folder, one ``lstat`` per entry that may be a folder), down to ``max_depth`` folders below
it. It assumes nothing about names beyond the contract's; it guarantees:

* a run's own sub-folders are not searched (checkpoint folders inside a run are not runs);
* hidden folders (``.git``, ``.cache``) are skipped;
* a symlinked folder is followed only when its target lies inside ``root``, and no folder is
  visited twice (a symlink loop ends);
* at most ``max_dirs`` folders are listed and ``max_runs`` runs returned; :attr:`Discovery.capped`
  says so when a limit cut the walk short;
* a folder that cannot be listed (permissions, gone meanwhile) is skipped and said in
  :attr:`Discovery.errors`; when that folder is ``root`` itself, :attr:`Discovery.root_error`
  says why (the caller decides whether the runs it knew are gone);
* a folder left unsearched because it lies ``max_depth`` levels down, and a symlinked folder not
  followed because it leads outside ``root`` (or nowhere), are said in :attr:`Discovery.errors`
  too, so a run that is not listed is never a mystery.

Run names are the paths relative to ``root`` with ``/`` (``"."`` when ``root`` itself is a run),
as valid text (:func:`shown`: bytes that are not UTF-8 become U+FFFD; the path stays exact);
:func:`run_path` turns a name back into a path only when it is one of the runs found, so a name
from a URL can never reach outside ``root``.
"""

from __future__ import annotations

import os
import stat as stat_mod
from dataclasses import dataclass

from dashboard.reading.fs import LOCAL_FS, FileSystem
from thalia_logging.contract import is_metadata_name, log_file_rank

__all__ = [
    "MAX_DEPTH",
    "MAX_DIRS",
    "MAX_RUNS",
    "Discovery",
    "RunEntry",
    "discover_runs",
    "holds_run_files",
    "run_path",
    "shown",
]

MAX_DEPTH = 4
MAX_DIRS = 5_000
MAX_RUNS = 1_000


@dataclass(frozen=True)
class RunEntry:
    """One run: ``name`` relative to the root (``/``-separated) and its absolute ``path``."""

    name: str
    path: str


@dataclass(frozen=True)
class Discovery:
    """What one walk found: the runs sorted by name, folders it could not list (or skipped), whether
    a limit (``max_dirs`` / ``max_runs``) stopped it early, and why ``root`` could not be listed."""

    root: str
    runs: tuple[RunEntry, ...]
    errors: tuple[str, ...] = ()
    capped: bool = False
    root_error: str | None = None

    def names(self) -> list[str]:
        return [run.name for run in self.runs]


def holds_run_files(names: list[str]) -> bool:
    """Whether a folder listing holds a log file or a metadata file (the folder is a run)."""
    return any(log_file_rank(n) is not None or is_metadata_name(n) for n in names)


def _inside(path: str, root: str) -> bool:
    return path == root or path.startswith(root.rstrip(os.sep) + os.sep)


def _subdirs(
    fs: FileSystem, folder: str, names: list[str], root: str, skipped: list[str], prefix: str
) -> list[tuple[str, str]]:
    """(name, real path) of the sub-folders worth walking: real folders, then symlinks to folders
    inside ``root`` (so a folder seen both ways keeps its real name); a symlinked folder that is
    not followed is said in ``skipped``."""
    out, links = [], []
    for name in sorted(names):
        if name.startswith("."):
            continue
        path = os.path.join(folder, name)
        try:
            mode = fs.lstat(path).st_mode
            if stat_mod.S_ISLNK(mode):
                real = _link_target(fs, path, f"{prefix}{name}", skipped)
                if real is not None and stat_mod.S_ISDIR(fs.stat(real).st_mode):
                    if _inside(real, root):
                        links.append((name, real))
                    else:
                        skipped.append(f"{prefix}{name}: a symlink to a folder outside the root "
                                       f"({real}): not followed")  # fmt: skip
            elif stat_mod.S_ISDIR(mode):
                out.append((name, fs.realpath(path)))
        except OSError:  # gone meanwhile, no access: not a run we can show
            continue
    return out + links


def _link_target(fs: FileSystem, path: str, label: str, skipped: list[str]) -> str | None:
    try:
        return fs.realpath(path, strict=True)
    except OSError as exc:  # dangling, or a loop
        skipped.append(
            f"{label}: a symlink that leads nowhere ({exc.strerror or exc}): not followed"
        )
        return None


def discover_runs(
    root: str,
    *,
    fs: FileSystem = LOCAL_FS,
    max_depth: int = MAX_DEPTH,
    max_dirs: int = MAX_DIRS,
    max_runs: int = MAX_RUNS,
) -> Discovery:
    """The runs under ``root`` (see the module docstring for the rules)."""
    real_root = fs.realpath(root)
    queue: list[tuple[str, str, int]] = [(".", real_root, 0)]  # (name, real path, depth)
    seen = {real_root}
    runs: list[RunEntry] = []
    errors: list[str] = []
    root_error = None
    listed = 0
    capped = False
    while queue:
        name, folder, depth = queue.pop(0)
        if listed >= max_dirs or len(runs) >= max_runs:
            capped = True
            break
        listed += 1
        try:
            names = fs.listdir(folder)
        except OSError as exc:
            if name == ".":
                root_error = f"cannot list the root {root}: {exc.strerror or exc}"
            else:
                errors.append(f"cannot list {name}: {exc.strerror or exc}")
            continue
        if holds_run_files(names):
            runs.append(RunEntry(shown(name), folder if name == "." else os.path.join(root, name)))
            continue
        prefix = "" if name == "." else f"{name}/"
        children = _subdirs(fs, folder, names, real_root, errors, prefix)
        if depth >= max_depth:
            if children:
                errors.append(f"{name}: {max_depth} levels down, not searched deeper (the limit)")
            continue
        for child, real in children:
            if real not in seen:
                seen.add(real)
                queue.append((f"{prefix}{child}", real, depth + 1))
    runs.sort(key=lambda r: r.name)
    said = tuple(shown(e) for e in errors)
    return Discovery(real_root, tuple(runs), said, capped, root_error and shown(root_error))


def shown(name: str) -> str:
    """A file name as valid text: bytes that are not UTF-8 (``os.listdir`` gives them as lone
    surrogates, which no page, URL or table can encode) become U+FFFD. The run's path keeps the
    real name."""
    if name.isascii():
        return name
    try:
        raw = name.encode("utf-8", "surrogateescape")
    except UnicodeEncodeError:
        raw = name.encode("utf-8", "replace")
    return raw.decode("utf-8", "replace")


def run_path(discovery: Discovery, name: str) -> str | None:
    """The path of the run called ``name``, or None when no run of this root has that name."""
    for run in discovery.runs:
        if run.name == name:
            return run.path
    return None
