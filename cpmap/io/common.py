"""Shared helpers of the file loaders: YAML reading and typed field access with one-line errors."""

from __future__ import annotations

import math
from pathlib import Path
from typing import Any

import yaml

from ..errors import InputError

_MISSING = object()


def read_yaml(path: str | Path, root: str = "") -> Any:
    """Read a YAML file; a missing file, a syntax error or a key given twice becomes an :class:`InputError`.

    ``root`` names the top-level list in field paths (``layers`` gives ``layers[3].name``).
    """
    p = Path(path)
    if not p.is_file():
        raise InputError(p, None, "file not found")
    try:
        with p.open() as fh:
            loader = yaml.SafeLoader(fh)
            try:
                node = loader.get_single_node()
                if node is None:
                    return None
                _reject_duplicate_keys(node, root, p)
                return loader.construct_document(node)
            finally:
                loader.dispose()
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f" at line {mark.line + 1}, column {mark.column + 1}" if mark is not None else ""
        problem = getattr(exc, "problem", None) or str(exc).splitlines()[0]
        raise InputError(p, None, f"malformed YAML{where}: {problem}") from None
    except (OSError, UnicodeDecodeError) as exc:
        raise InputError(p, None, f"cannot read file: {exc}") from None
    except RecursionError:  # a document nested thousands of levels deep
        raise InputError(p, None, "malformed YAML: nested too deeply") from None


def _reject_duplicate_keys(node: yaml.Node, where: str, path: Path) -> None:
    """PyYAML keeps the last of two equal keys without a word; a repeated key is almost always a mistake."""
    stack = [(node, where)]
    while stack:
        n, w = stack.pop()
        if isinstance(n, yaml.MappingNode):
            seen: dict[tuple[str, str], int] = {}
            for key, value in n.value:
                if isinstance(key, yaml.ScalarNode):
                    name = f"{w}.{key.value}" if w else str(key.value)
                    if (key.tag, key.value) in seen:
                        first = seen[(key.tag, key.value)]
                        raise InputError(
                            path, name, f"key given twice (lines {first} and {key.start_mark.line + 1}); remove one"
                        )
                    seen[(key.tag, key.value)] = key.start_mark.line + 1
                else:
                    name = w
                stack.append((value, name))
        elif isinstance(n, yaml.SequenceNode):
            stack.extend((item, f"{w}[{i}]") for i, item in enumerate(n.value))


def field(
    data: Any,
    key: str,
    kind: type | tuple[type, ...],
    path: str | Path,
    where: str,
    default: Any = _MISSING,
    minimum: float | None = None,
) -> Any:
    """Return ``data[key]`` checked against ``kind`` (and ``>= minimum``); raise :class:`InputError` naming
    ``where.key``. A number must be finite: ``.nan`` and ``.inf`` mean nothing in these files."""
    name = f"{where}.{key}" if where else key
    if not isinstance(data, dict):
        raise InputError(path, where or None, f"expected a mapping, got {type(data).__name__}")
    if key not in data or data[key] is None:
        if default is _MISSING:
            raise InputError(path, name, "missing required field")
        return default
    value = data[key]
    kinds = kind if isinstance(kind, tuple) else (kind,)
    if isinstance(value, bool) and bool not in kinds:
        raise InputError(path, name, f"expected {_kind_name(kinds)}, got a boolean")
    if float in kinds and isinstance(value, int) and not isinstance(value, bool):
        try:
            value = float(value)
        except OverflowError:
            raise InputError(path, name, f"must be a finite number, got an integer of {len(str(value))} digits") from None
    if not isinstance(value, kinds):
        raise InputError(path, name, f"expected {_kind_name(kinds)}, got {type(value).__name__} {value!r}")
    if isinstance(value, float) and not math.isfinite(value):
        raise InputError(path, name, f"must be a finite number, got {value}")
    if minimum is not None and isinstance(value, (int, float)) and not isinstance(value, bool) and value < minimum:
        raise InputError(path, name, f"must be >= {minimum:g}, got {value:g}")
    return value


def _kind_name(kinds: tuple[type, ...]) -> str:
    names = {int: "an integer", float: "a number", str: "a string", list: "a list", dict: "a mapping", bool: "a boolean"}
    return " or ".join(names.get(k, k.__name__) for k in kinds)
