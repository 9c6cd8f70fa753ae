"""Random mutations of YAML input files, for fuzzing the loaders (tests/test_reliability.py).

A mutation either edits the parsed document (a value replaced by a wrong one, a key or list item dropped or
repeated) and dumps it again, or edits the text (a line dropped or repeated, which also repeats keys, a
character inserted). Every choice is drawn from a ``random.Random``-like ``draw(choices)`` callable, so hypothesis
can drive and shrink it.
"""

from __future__ import annotations

import copy
from collections.abc import Callable, Sequence
from typing import Any

import yaml

#: values put in place of a field: wrong types, non-finite and negative numbers, huge and empty things
WRONG_VALUES: tuple[Any, ...] = (
    None, True, False, 0, 1, -1, 2, 3, 7, 1024, -1024, 10**30, 0.5, -0.5, 1e300, float("nan"), float("inf"),
    float("-inf"), "", "x", "D1", "D9", "K", "I1", "I2", "O", "W", "I", "K, 4", "K, 0", "Q, 2", "rw_port_1",
    "read", "I1, tl", "O, fh", [], [1], ["x"], [[1, 2]], {}, {"a": 1}, {"D1": ["K, 2"]},
)

Draw = Callable[[Sequence[Any]], Any]


def _paths(node: Any, prefix: tuple = ()) -> list[tuple]:
    """Every path (tuple of keys / indices) to a value inside ``node``, the root excluded."""
    out: list[tuple] = []
    if isinstance(node, dict):
        for k, v in node.items():
            out.append(prefix + (k,))
            out.extend(_paths(v, prefix + (k,)))
    elif isinstance(node, list):
        for i, v in enumerate(node):
            out.append(prefix + (i,))
            out.extend(_paths(v, prefix + (i,)))
    return out


def _parent(doc: Any, path: tuple) -> Any:
    for key in path[:-1]:
        doc = doc[key]
    return doc


def mutate_document(doc: Any, draw: Draw) -> Any:
    """One structural mutation of a parsed YAML document (a copy)."""
    doc = copy.deepcopy(doc)
    paths = _paths(doc)
    if not paths:
        return draw(WRONG_VALUES)
    path = draw(paths)
    parent, key = _parent(doc, path), path[-1]
    action = draw(("replace", "replace", "replace", "drop", "repeat", "scale"))
    if action == "replace":
        parent[key] = draw(WRONG_VALUES)
    elif action == "drop":
        del parent[key]
    elif action == "repeat" and isinstance(parent, list):
        parent.insert(key, copy.deepcopy(parent[key]))
    elif action == "repeat":  # a mapping cannot hold a key twice: repeat the value under a sibling key instead
        siblings = [k for k in parent if k != key]
        if siblings:
            parent[draw(siblings)] = copy.deepcopy(parent[key])
    elif isinstance(parent[key], (int, float)) and not isinstance(parent[key], bool):
        parent[key] = parent[key] * draw((-1, 0, 2, 1000, 10**12)) + draw((0, 1))
    else:
        parent[key] = draw(WRONG_VALUES)
    return doc


def mutate_text(text: str, draw: Draw) -> str:
    """One textual mutation: a line dropped, repeated (a repeated key) or cut, or a character inserted."""
    lines = text.splitlines(keepends=True)
    if not lines:
        return draw(("x", "- 1", "{", ": :"))
    i = draw(range(len(lines)))
    action = draw(("drop", "repeat", "cut", "insert"))
    if action == "drop":
        del lines[i]
    elif action == "repeat":
        lines.insert(i, lines[i])
    elif action == "cut":
        lines[i] = lines[i][: draw(range(len(lines[i]) + 1))] + "\n"
    else:
        pos = draw(range(len(lines[i]) + 1))
        lines[i] = lines[i][:pos] + draw(("[", "]", "{", ":", "-", " ", "'", "#", "\t", "*", "&a", "\x00", "é")) + lines[i][pos:]
    return "".join(lines)


def mutate(text: str, draw: Draw) -> str:
    """A structural (three in four) or textual mutation of a YAML file's text."""
    if draw((True, True, True, False)):
        return yaml.safe_dump(mutate_document(yaml.safe_load(text), draw), sort_keys=False)
    return mutate_text(text, draw)
