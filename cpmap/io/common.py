"""Shared helpers of the file loaders: YAML reading and typed field access with one-line errors."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import yaml

from ..errors import InputError

_MISSING = object()


def read_yaml(path: str | Path) -> Any:
    """Read a YAML file; a missing file or a syntax error becomes an :class:`InputError`."""
    p = Path(path)
    if not p.is_file():
        raise InputError(p, None, "file not found")
    try:
        with p.open() as fh:
            return yaml.safe_load(fh)
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f" at line {mark.line + 1}, column {mark.column + 1}" if mark is not None else ""
        problem = getattr(exc, "problem", None) or str(exc).splitlines()[0]
        raise InputError(p, None, f"malformed YAML{where}: {problem}") from None
    except (OSError, UnicodeDecodeError) as exc:
        raise InputError(p, None, f"cannot read file: {exc}") from None


def field(
    data: Any, key: str, kind: type | tuple[type, ...], path: str | Path, where: str, default: Any = _MISSING
) -> Any:
    """Return ``data[key]`` checked against ``kind``; raise :class:`InputError` naming ``where.key``."""
    name = f"{where}.{key}" if where else key
    if not isinstance(data, dict):
        raise InputError(path, where or None, f"expected a mapping, got {type(data).__name__}")
    if key not in data or data[key] is None:
        if default is _MISSING:
            raise InputError(path, name, "missing required field")
        return default
    value = data[key]
    kinds = kind if isinstance(kind, tuple) else (kind,)
    if float in kinds and isinstance(value, int) and not isinstance(value, bool):
        return float(value)
    if isinstance(value, bool) and bool not in kinds:
        raise InputError(path, name, f"expected {_kind_name(kinds)}, got a boolean")
    if not isinstance(value, kinds):
        raise InputError(path, name, f"expected {_kind_name(kinds)}, got {type(value).__name__} {value!r}")
    return value


def _kind_name(kinds: tuple[type, ...]) -> str:
    names = {int: "an integer", float: "a number", str: "a string", list: "a list", dict: "a mapping", bool: "a boolean"}
    return " or ".join(names.get(k, k.__name__) for k in kinds)
