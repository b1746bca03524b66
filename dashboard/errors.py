"""Every error the dashboard raises on purpose, under one base.

::

    DashboardError                              catch this for "the dashboard refused something"
    ├── BadRecord (ValueError)                  a log line or metadata file is not a valid record
    ├── UnsafeFile (OSError)                    a path is not a regular file inside the run directory
    ├── RemoteUnavailable (OSError)             a remote directory (s3://, sftp://...) cannot be read now
    ├── InvalidSmoothingWeight (ValueError)     smoothing weight outside [0, MAX_WEIGHT]
    ├── LauncherError (RuntimeError)            the launcher cannot start (no free port, page missing)
    └── ExportError                             the export CLI cannot write what was asked (``code``)

Each keeps the built-in base it had before (so ``except ValueError`` still catches a bad record),
and each message says what was wrong and how to fix it. The classes are defined here and imported
where they are raised; the modules that raise them re-export them for existing imports.
"""

from __future__ import annotations

__all__ = [
    "BadRecord",
    "DashboardError",
    "ExportError",
    "InvalidSmoothingWeight",
    "LauncherError",
    "RemoteUnavailable",
    "UnsafeFile",
]


class DashboardError(Exception):
    """Base of every error the dashboard raises on purpose; the message says how to fix it."""


class BadRecord(DashboardError, ValueError):
    """The line (or metadata file) is not a valid record; ``str(exc)`` says why."""


class UnsafeFile(DashboardError, OSError):
    """The path is not a regular file inside the directory; ``str(exc)`` says what it is."""


class RemoteUnavailable(DashboardError, OSError):
    """A remote directory cannot be read now (bad credentials, server down, backend missing);
    ``str(exc)`` names the URL, the backend's reason and what to check. Reading retries later."""


class InvalidSmoothingWeight(DashboardError, ValueError):
    """The smoothing weight is outside ``[0, MAX_WEIGHT]``."""


class LauncherError(DashboardError, RuntimeError):
    """A permanent problem the user has to fix (no free port, page file missing)."""


class ExportError(DashboardError):
    """Export failed; ``code`` is the exit status, the message says how to fix it."""

    def __init__(self, message: str, code: int = 1) -> None:
        super().__init__(message)
        self.code = code
