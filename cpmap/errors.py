"""Errors that cpmap reports to the user as one line (CLI exit code 2 for bad input)."""

from __future__ import annotations

from pathlib import Path


class CpmapError(Exception):
    """Base class of errors cpmap reports without a traceback."""


class InputError(CpmapError):
    """Bad input: names the file, the field and the problem, e.g. ``hw.yaml: memories.rf.size: must be > 0``."""

    def __init__(self, path: str | Path | None, field: str | None, problem: str) -> None:
        self.path = str(path) if path is not None else None
        self.field = field
        self.problem = problem
        where = ": ".join(x for x in (self.path, field) if x)
        super().__init__(f"{where}: {problem}" if where else problem)

    def __reduce__(self):
        # errors raised in worker processes travel back pickled; the default rebuilds from the message alone
        return (type(self), (self.path, self.field, self.problem))


class EngineRefusal(CpmapError):
    """An engine declines one candidate (space or tables too large, a cost term it does not encode).

    Never a proof: the driver reports the candidate as ``skipped`` and keeps the layer's certificate open.
    """
