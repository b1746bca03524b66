"""One error tree: every error the dashboard raises on purpose is a DashboardError and keeps its
built-in base, and each is defined in dashboard.errors (imported where it is raised)."""

from __future__ import annotations

import errno
import inspect

import pytest

from dashboard import errors
from dashboard.analysis import smoothing
from dashboard.commands import export, launcher
from dashboard.reading import line_parser, remote_fs, safefile

BASES = {
    "BadRecord": ValueError,
    "UnsafeFile": OSError,
    "RemoteUnavailable": OSError,
    "InvalidSmoothingWeight": ValueError,
    "LauncherError": RuntimeError,
    "ExportError": Exception,
}


def test_the_tree() -> None:
    classes = {
        n for n, v in vars(errors).items() if inspect.isclass(v) and v.__module__ == errors.__name__
    }
    assert classes == {"DashboardError", *BASES} == set(errors.__all__)
    for name, base in BASES.items():
        cls = getattr(errors, name)
        assert issubclass(cls, errors.DashboardError) and issubclass(cls, base)
        assert name in (errors.__doc__ or ""), f"{name} missing from the tree in the docstring"


@pytest.mark.parametrize(
    ("module", "name"),
    [
        (line_parser, "BadRecord"),
        (safefile, "UnsafeFile"),
        (remote_fs, "RemoteUnavailable"),
        (smoothing, "InvalidSmoothingWeight"),
        (launcher, "LauncherError"),
        (export, "ExportError"),
    ],
)
def test_raised_where_defined_once(module: object, name: str) -> None:
    assert getattr(module, name) is getattr(errors, name)


def test_built_in_behaviour_kept() -> None:
    exc = errors.UnsafeFile(errno.EINVAL, "x is a FIFO (named pipe): not read")
    assert exc.errno == errno.EINVAL and exc.strerror == "x is a FIFO (named pipe): not read"
    assert errors.ExportError("no rows", 2).code == 2
    with pytest.raises(ValueError, match="bad"):
        raise errors.BadRecord("bad")
