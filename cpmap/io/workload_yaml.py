"""Loader of ZigZag 3.x workload YAML files (a list of layers), accepted unchanged.

Each layer has ``id``, ``operator_type``, ``equation``, ``loop_dims``, ``loop_sizes`` and ``operand_precision``
(required), and optionally ``name``, ``dimension_relations``, ``operand_source``, ``pr_loop_dims``,
``pr_loop_sizes`` and ``padding``, with ZigZag's defaults (no relations, no sources, no pr sizes, no padding).
Every file ZigZag's validator accepts loads here; problems ZigZag would only hit later as a crash (an equation
index that is no loop dim, a source id that does not exist, ...) are reported up front as one-line
:class:`~cpmap.errors.InputError` naming the file and the field, e.g. ``wl.yaml: layers[3].loop_sizes: ...``.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any


from ..errors import InputError
from .common import read_yaml
from ..workload import Layer, Relation, parse_equation, parse_relation

_REQUIRED = ("id", "operator_type", "equation", "loop_dims", "loop_sizes", "operand_precision")
_OPTIONAL = ("name", "dimension_relations", "operand_source", "pr_loop_dims", "pr_loop_sizes", "padding")


def load_workload_yaml(path: str | Path) -> list[Layer]:
    """Parse a ZigZag workload YAML file into :class:`Layer` objects, in file order.

    The layer name is ``name`` when given, else the ``id`` as a string. Raises :class:`InputError` for a
    missing file, a YAML syntax error or any invalid field.
    """
    data = read_yaml(path, root="layers")
    if not isinstance(data, list):
        raise InputError(path, None, f"expected a list of layers, got {_type_name(data)}")
    if not data:
        raise InputError(path, None, "the workload has no layers")
    layers = [_layer(entry, f"layers[{i}]", path) for i, entry in enumerate(data)]
    _check_ids_and_sources(layers, path)
    return layers


# ----- file reading ------------------------------------------------------------------------------------------
# ----- typed field access ------------------------------------------------------------------------------------
def _type_name(value: Any) -> str:
    if value is None:
        return "nothing"
    names = {bool: "a boolean", int: "an integer", float: "a number", str: "a string", list: "a list", dict: "a mapping"}
    return names.get(type(value), type(value).__name__)


def _is_int(value: Any) -> bool:
    # YAML booleans are Python ints; a 'true' where a size is expected is a mistake, not 1.
    return isinstance(value, int) and not isinstance(value, bool)


def _int(value: Any, path: str | Path, where: str, minimum: int | None = None) -> int:
    if not _is_int(value):
        raise InputError(path, where, f"expected an integer, got {_type_name(value)} {value!r}")
    if minimum is not None and value < minimum:
        rule = "positive" if minimum == 1 else f">= {minimum}"
        raise InputError(path, where, f"must be {rule}, got {value}")
    return value


def _str(value: Any, path: str | Path, where: str) -> str:
    if not isinstance(value, str):
        raise InputError(path, where, f"expected a string, got {_type_name(value)} {value!r}")
    return value


def _list(value: Any, path: str | Path, where: str) -> list[Any]:
    if not isinstance(value, list):
        raise InputError(path, where, f"expected a list, got {_type_name(value)} {value!r}")
    return value


def _dict(value: Any, path: str | Path, where: str) -> dict[Any, Any]:
    if not isinstance(value, dict):
        raise InputError(path, where, f"expected a mapping, got {_type_name(value)} {value!r}")
    return value


# ----- one layer ---------------------------------------------------------------------------------------------
def _layer(d: Any, w: str, path: str | Path) -> Layer:
    d = _dict(d, path, w)
    for key in d:
        if key not in _REQUIRED and key not in _OPTIONAL:
            # ZigZag's validator rejects unknown keys too; most often this is a typo of a real field.
            raise InputError(path, f"{w}.{key}", f"unknown field (expected {', '.join(_REQUIRED + _OPTIONAL)})")
    for key in _REQUIRED:
        if d.get(key) is None:
            raise InputError(path, f"{w}.{key}", "missing required field")

    layer_id = _int(d["id"], path, f"{w}.id", minimum=0)
    name = d.get("name")
    name = str(layer_id) if name is None else _str(name, path, f"{w}.name")
    operator_type = _str(d["operator_type"], path, f"{w}.operator_type")

    equation = _str(d["equation"], path, f"{w}.equation")
    try:
        indices = parse_equation(equation)
    except ValueError as exc:
        raise InputError(path, f"{w}.equation", str(exc)) from None
    if len(indices) < 2:
        raise InputError(path, f"{w}.equation", f"equation {equation!r} has no input operand")
    if len(indices) > 3:
        inputs = ", ".join(tuple(indices)[1:])
        raise InputError(
            path, f"{w}.equation", f"equation {equation!r} has {len(indices) - 1} input operands ({inputs}): at most two are supported (memory operands I1 and I2)"
        )

    loop_sizes = _loop_sizes(d, w, path)
    relations = _relations(d, w, path, loop_sizes)
    derived = {r.derived for r in relations}
    for op, idx in indices.items():
        for i in idx:
            if i not in loop_sizes and i not in derived:
                raise InputError(
                    path, f"{w}.equation", f"index {i.lower()!r} of {op} is neither in loop_dims nor defined by dimension_relations"
                )

    precision = _precision(d, w, path, tuple(indices))
    source = _operand_source(d, w, path, tuple(indices)[1:])
    pr_sizes, padding = _pr_and_padding(d, w, path, derived)
    return Layer(
        name=name,
        equation=equation.strip(),
        loop_sizes=loop_sizes,
        precision=precision,
        relations=relations,
        pr_sizes=pr_sizes,
        padding=padding,
        operator_type=operator_type,
        layer_id=layer_id,
        operand_source=source,
    )


def _loop_sizes(d: dict[str, Any], w: str, path: str | Path) -> dict[str, int]:
    dims = _list(d["loop_dims"], path, f"{w}.loop_dims")
    sizes = _list(d["loop_sizes"], path, f"{w}.loop_sizes")
    if len(dims) != len(sizes):
        raise InputError(path, f"{w}.loop_sizes", f"{len(sizes)} sizes for {len(dims)} loop_dims")
    out: dict[str, int] = {}
    for i, (dim, size) in enumerate(zip(dims, sizes)):
        name = _str(dim, path, f"{w}.loop_dims[{i}]").strip().upper()  # ZigZag upper-cases dim names
        if not name.isidentifier():
            raise InputError(path, f"{w}.loop_dims[{i}]", f"invalid dimension name {dim!r}")
        if name in out:
            raise InputError(path, f"{w}.loop_dims[{i}]", f"duplicate loop dimension {name}")
        out[name] = _int(size, path, f"{w}.loop_sizes[{i}]", minimum=1)
    if not out:
        raise InputError(path, f"{w}.loop_dims", "no loop dimension")
    return out


def _relations(d: dict[str, Any], w: str, path: str | Path, loop_sizes: dict[str, int]) -> tuple[Relation, ...]:
    raw = d.get("dimension_relations")
    if raw is None:
        return ()
    out: list[Relation] = []
    for j, text in enumerate(_list(raw, path, f"{w}.dimension_relations")):
        where = f"{w}.dimension_relations[{j}]"
        try:
            rel = parse_relation(_str(text, path, where))
        except ValueError as exc:
            raise InputError(path, where, str(exc)) from None
        if rel.stride < 1 or rel.dilation < 1:
            raise InputError(path, where, f"coefficients must be positive in {text!r}")
        for dim in (rel.first, rel.second):
            if dim not in loop_sizes:
                raise InputError(path, where, f"{dim} in {text!r} is not one of loop_dims {list(loop_sizes)}")
        if rel.derived in loop_sizes:
            raise InputError(path, where, f"derived dimension {rel.derived} must not also be a loop dimension")
        if any(r.derived == rel.derived for r in out):
            raise InputError(path, where, f"dimension {rel.derived} is defined twice")
        out.append(rel)
    return tuple(out)


def _precision(d: dict[str, Any], w: str, path: str | Path, operands: tuple[str, ...]) -> dict[str, int]:
    where = f"{w}.operand_precision"
    raw = _dict(d["operand_precision"], path, where)
    out: dict[str, int] = {}
    # Input precisions may be 0 (e.g. the dummy weights of a pooling layer); output precisions may not.
    for key, minimum in [(op, 0) for op in operands[1:]] + [("O", 1), ("O_final", 1)]:
        if raw.get(key) is None:
            raise InputError(path, f"{where}.{key}", f"missing precision for operand {key}")
        out[key] = _int(raw[key], path, f"{where}.{key}", minimum=minimum)
    for key in raw:
        if key not in out:
            raise InputError(path, f"{where}.{key}", f"{key!r} is not an operand of the equation {list(operands)} nor O_final")
    return out


def _operand_source(d: dict[str, Any], w: str, path: str | Path, inputs: tuple[str, ...]) -> dict[str, int]:
    where = f"{w}.operand_source"
    raw = d.get("operand_source")
    if raw is None:
        return {}
    out: dict[str, int] = {}
    for key, value in _dict(raw, path, where).items():
        if key not in inputs:
            raise InputError(path, f"{where}.{key}", f"{key!r} is not an input operand of the equation {list(inputs)}")
        out[key] = _int(value, path, f"{where}.{key}", minimum=0)
    return out


def _pr_and_padding(
    d: dict[str, Any], w: str, path: str | Path, derived: set[str]
) -> tuple[dict[str, int], dict[str, tuple[int, int]]]:
    raw_dims, raw_sizes, raw_pad = d.get("pr_loop_dims"), d.get("pr_loop_sizes"), d.get("padding")
    if raw_dims is None:
        for key, val in (("pr_loop_sizes", raw_sizes), ("padding", raw_pad)):
            if val is not None:
                raise InputError(path, f"{w}.{key}", "given without pr_loop_dims")
        return {}, {}
    dims: list[str] = []
    for i, dim in enumerate(_list(raw_dims, path, f"{w}.pr_loop_dims")):
        name = _str(dim, path, f"{w}.pr_loop_dims[{i}]").strip().upper()
        if name not in derived:
            raise InputError(path, f"{w}.pr_loop_dims[{i}]", f"{name} is not defined by dimension_relations")
        if name in dims:
            raise InputError(path, f"{w}.pr_loop_dims[{i}]", f"duplicate dimension {name}")
        dims.append(name)

    pr_sizes: dict[str, int] = {}
    if raw_sizes is not None:
        sizes = _list(raw_sizes, path, f"{w}.pr_loop_sizes")
        if len(sizes) != len(dims):
            raise InputError(path, f"{w}.pr_loop_sizes", f"{len(sizes)} sizes for {len(dims)} pr_loop_dims")
        pr_sizes = {dim: _int(s, path, f"{w}.pr_loop_sizes[{i}]", minimum=1) for i, (dim, s) in enumerate(zip(dims, sizes))}

    padding: dict[str, tuple[int, int]] = {}
    if raw_pad is not None:
        pads = _list(raw_pad, path, f"{w}.padding")
        if len(pads) != len(dims):
            raise InputError(path, f"{w}.padding", f"{len(pads)} padding pairs for {len(dims)} pr_loop_dims")
        for i, (dim, pair) in enumerate(zip(dims, pads)):
            pw = f"{w}.padding[{i}]"
            if not isinstance(pair, list) or len(pair) != 2:
                raise InputError(path, pw, f"expected a [low, high] pair, got {pair!r}")
            padding[dim] = (_int(pair[0], path, f"{pw}[0]", minimum=0), _int(pair[1], path, f"{pw}[1]", minimum=0))
    return pr_sizes, padding


def _check_ids_and_sources(layers: list[Layer], path: str | Path) -> None:
    ids: dict[int, int] = {}
    names: dict[str, int] = {}
    for i, layer in enumerate(layers):
        if layer.layer_id in ids:
            raise InputError(path, f"layers[{i}].id", f"duplicate layer id {layer.layer_id} (also layers[{ids[layer.layer_id]}])")
        ids[layer.layer_id] = i
        # results, --layers and mapping files address layers by name: two layers of one name would be one row
        if layer.name in names:
            raise InputError(path, f"layers[{i}].name", f"duplicate layer name {layer.name!r} (also layers[{names[layer.name]}])")
        names[layer.name] = i
    for i, layer in enumerate(layers):
        for op, src in layer.operand_source.items():
            # A source equal to the layer's own id marks a constant operand (weights); others must exist.
            if src != layer.layer_id and src not in ids:
                raise InputError(path, f"layers[{i}].operand_source.{op}", f"no layer with id {src}")
    _check_acyclic(layers, ids, path)


def _check_acyclic(layers: list[Layer], index_of: dict[int, int], path: str | Path) -> None:
    """A layer must not consume (directly or through others) its own output: data flows one way."""
    sources = {
        layer.layer_id: [(op, src) for op, src in layer.operand_source.items() if src != layer.layer_id] for layer in layers
    }
    state: dict[int, int] = {}  # 1 = on the current path, 2 = done
    for start in sources:
        if start in state:
            continue
        state[start] = 1
        stack = [(start, iter(sources[start]))]
        while stack:
            node, it = stack[-1]
            nxt = next(it, None)
            if nxt is None:
                state[node] = 2
                stack.pop()
                continue
            op, src = nxt
            if state.get(src) == 1:
                cycle = [n for n, _ in stack][[n for n, _ in stack].index(src):]
                names = " <- ".join(layers[index_of[n]].name for n in [*cycle, src])
                raise InputError(path, f"layers[{index_of[node]}].operand_source.{op}", f"the layer inputs form a cycle ({names})")
            if src not in state:
                state[src] = 1
                stack.append((src, iter(sources[src])))
