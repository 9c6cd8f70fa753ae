"""ONNX front end: turns the Conv, Gemm and MatMul nodes of an ONNX model into :class:`Layer` objects.

The layers are exactly those ZigZag 3.9.1's ONNX parser builds (spec cost_model.md section 1), so that costs can
be compared layer by layer:

* ``Conv``/``QLinearConv`` -> ``O[b][g][k][oy][ox]+=W[g][k][c][fy][fx]*I[b][g][c][iy][ix]`` with loop dims
  ``B K G OX OY C FX FY`` (size-1 dims kept), ``K = ceil(out_ch/group)``, ``C = ceil(in_ch/group)``,
  ``G = group``, relations ``ix = s*ox + d*fx``, ``iy = s*oy + d*fy``, the real input width/height as pr sizes
  and the ``pads`` as padding.
* ``Gemm``/``MatMul`` -> ``O[(b)(h)][d][k]+=I[(b)(h)][d][c]*W[(b)(h)][c][k]`` with loop dims ``C D K (B) (H)``;
  the batch indices are left off W when W is constant (fewer than two producing nodes).
* every other node is skipped, and so is a costed type in a form that cannot be costed (a 1-D convolution, a
  MatMul of rank 5): each becomes a :class:`SkippedNode` (the CLI prints one note per kind, the result JSON lists
  them). A model with no costed node is an :class:`InputError`.

Layer names are the ONNX node names (``Op<index>`` for unnamed nodes), layer ids the node indices in the graph,
operand sources the indices of the producing nodes (the node's own index marks a constant operand).
Precisions default to 8 bits (W, I, O_final) and 16 bits (O, partial sums); the node attributes
``weight_size``, ``act_size`` and ``output_size`` override them.
"""

from __future__ import annotations

import math
from collections import Counter
from dataclasses import dataclass
from pathlib import Path

import onnx
from google.protobuf.message import DecodeError
from onnx import AttributeProto, ModelProto, NodeProto

from ..errors import InputError
from ..workload import Layer, Relation

_CONV_OPS = ("Conv", "QLinearConv")
_GEMM_OPS = ("Gemm", "MatMul")
_CONV_EQUATION = "O[b][g][k][oy][ox]+=W[g][k][c][fy][fx]*I[b][g][c][iy][ix]"


class _Skip(Exception):
    """A node of a costed type that cannot be costed (e.g. a 1-D convolution); the message says why."""


@dataclass(frozen=True)
class SkippedNode:
    """An ONNX node that is not costed: its index in the graph, name, type and why (empty: not a costed type)."""

    node_id: int
    name: str
    op_type: str
    reason: str = ""

    @property
    def note(self) -> str:
        """``skipped <type> node <name>`` (with the reason in parentheses when there is one)."""
        return f"skipped {self.op_type} node {self.name}" + (f" ({self.reason})" if self.reason else "")

    def to_json(self) -> dict[str, object]:
        out: dict[str, object] = {"node": self.node_id, "name": self.name, "op_type": self.op_type}
        if self.reason:
            out["reason"] = self.reason
        return out


def skipped_summary(skipped: list[SkippedNode] | tuple[SkippedNode, ...]) -> list[str]:
    """One line per kind of skipped node, in order of first appearance: ``3 Softmax nodes not costed``."""
    counts = Counter((s.op_type, s.reason) for s in skipped)
    lines = []
    for (op_type, reason), n in counts.items():
        lines.append(f"{n} {op_type} node{'s' if n > 1 else ''} not costed" + (f" ({reason})" if reason else ""))
    return lines


def load_onnx(path: str | Path) -> tuple[list[Layer], list[SkippedNode]]:
    """Read an ONNX model and return its costed layers (graph order) and its skipped nodes.

    Shapes come from the model's own value infos completed by ``onnx.shape_inference``. External weight data
    is never loaded (only shapes matter). Raises :class:`InputError` when the file is missing, is not an ONNX
    model, has no costed node, two costed nodes of one name, or a costed node's shapes or attributes are
    unusable.
    """
    model = _read_model(path)
    shapes = _TensorShapes(_infer_shapes(model))
    layers: list[Layer] = []
    skipped: list[SkippedNode] = []
    named: dict[str, int] = {}
    # Output tensor name -> ids of the nodes producing it, filled as the graph is walked, so a node only
    # sees producers up to itself (ZigZag's rule).
    producers: dict[str, list[int]] = {}
    for node_id, node in enumerate(model.graph.node):
        name = node.name or f"Op{node_id}"
        for out in node.output:
            if out:
                producers.setdefault(out, []).append(node_id)
        where = f"graph.node[{node_id}] {name}"
        try:
            if node.op_type in _CONV_OPS:
                layers.append(_conv_layer(node, node_id, name, shapes, producers, path, where))
            elif node.op_type in _GEMM_OPS:
                layers.append(_gemm_layer(node, node_id, name, shapes, producers, path, where))
            else:
                skipped.append(SkippedNode(node_id, name, node.op_type))
                continue
        except _Skip as exc:
            skipped.append(SkippedNode(node_id, name, node.op_type, str(exc)))
            continue
        # results, --layers and mapping files address layers by name: two layers of one name would be one row
        if name in named:
            raise InputError(path, f"graph.node[{node_id}].name", f"duplicate layer name {name!r} (also graph.node[{named[name]}])")
        named[name] = node_id
    if not layers:
        kinds = "; ".join(skipped_summary(skipped)) or "the graph has no node"
        raise InputError(path, "graph", f"no node cpmap can cost ({', '.join(_CONV_OPS + _GEMM_OPS)}): {kinds}")
    return layers, skipped


# ----- reading -----------------------------------------------------------------------------------------------
def _read_model(path: str | Path) -> ModelProto:
    p = Path(path)
    if not p.is_file():
        raise InputError(p, None, "file not found")
    try:
        # Weights may live in external files that are absent (ZigZag's bundled models are shipped that way).
        model = onnx.load(str(p), load_external_data=False)
    except (DecodeError, RuntimeWarning, ValueError) as exc:
        raise InputError(p, None, f"not an ONNX model: {str(exc).splitlines()[0] if str(exc) else type(exc).__name__}") from None
    except OSError as exc:
        raise InputError(p, None, f"not an ONNX model: cannot read file ({exc})") from None
    # An empty or unrelated protobuf can decode into an empty ModelProto without error.
    if model.ir_version <= 0 or not model.HasField("graph"):
        raise InputError(p, "graph", "not an ONNX model: no IR version or no graph")
    return model


def _infer_shapes(model: ModelProto) -> ModelProto:
    """Complete the value infos with ONNX shape inference; keep the model as is when inference fails."""
    try:
        return onnx.shape_inference.infer_shapes(model)
    except Exception:  # noqa: BLE001 - inference is best effort: the model's own value infos may suffice
        return model


class _TensorShapes:
    """Tensor name -> shape list, looked up like ZigZag: graph inputs, outputs, value infos, initializers.

    An unknown (symbolic) dimension reads as 0, as ZigZag reads it.
    """

    def __init__(self, model: ModelProto) -> None:
        self._shapes: dict[str, list[int] | None] = {}
        graph = model.graph
        for group in (graph.input, graph.output, graph.value_info):
            for vi in group:
                if vi.name in self._shapes:
                    continue  # the first group wins, as in ZigZag's lookup order
                tt = vi.type.tensor_type
                self._shapes[vi.name] = [d.dim_value for d in tt.shape.dim] if tt.HasField("shape") else None
        for init in graph.initializer:
            self._shapes.setdefault(init.name, list(init.dims))

    def get(self, name: str) -> list[int] | None:
        """The shape of tensor ``name``, or None when the model does not tell it."""
        return self._shapes.get(name)


# ----- shared node helpers -----------------------------------------------------------------------------------
def _attr(node: NodeProto, name: str) -> AttributeProto | None:
    for a in node.attribute:
        if a.name == name:
            return a
    return None


def _attr_int(node: NodeProto, name: str, default: int, path: str | Path, where: str) -> int:
    a = _attr(node, name)
    if a is None:
        return default
    if a.type != AttributeProto.INT:
        raise InputError(path, f"{where}.{name}", "attribute must be an integer")
    return int(a.i)


def _attr_ints(node: NodeProto, name: str, default: list[int] | None, path: str | Path, where: str) -> list[int] | None:
    a = _attr(node, name)
    if a is None:
        return default
    if a.type != AttributeProto.INTS:
        raise InputError(path, f"{where}.{name}", "attribute must be a list of integers")
    return [int(v) for v in a.ints]


def _predecessors(node: NodeProto, producers: dict[str, list[int]]) -> list[int]:
    """Ids of the nodes producing this node's inputs, in input order (a repeated producer appears repeatedly).

    Empty input names denote omitted optional inputs and have no producer.
    """
    return [n for inp in node.input if inp for n in producers.get(inp, ())]


def _operand_source(node_id: int, preds: list[int]) -> dict[str, int]:
    """ZigZag's operand sources: no producer -> both constant, one -> it feeds I, two or more -> I and W."""
    if not preds:
        return {"W": node_id, "I": node_id}
    if len(preds) == 1:
        return {"W": node_id, "I": preds[0]}
    # ZigZag rejects more than two producers; we keep the first two, the usual data inputs.
    return {"W": preds[1], "I": preds[0]}


def _precisions(node: NodeProto, path: str | Path, where: str) -> tuple[int, int, int]:
    """(weight, activation, partial-sum) precisions from the node's custom attributes or the defaults."""
    weight = _attr_int(node, "weight_size", 8, path, where)
    act = _attr_int(node, "act_size", 8, path, where)
    out = _attr_int(node, "output_size", 2 * act, path, where)
    for label, v in (("weight_size", weight), ("act_size", act), ("output_size", out)):
        if v < 0 or (label != "weight_size" and v == 0):
            raise InputError(path, f"{where}.{label}", f"invalid precision {v}")
    return weight, act, out


def _shape(shapes: _TensorShapes, tensor: str, path: str | Path, where: str) -> list[int]:
    shape = shapes.get(tensor)
    if not shape:
        raise InputError(path, where, f"shape of tensor {tensor!r} is unknown (give the graph inputs static shapes)")
    return shape


def _known(value: int, what: str, tensor: str, path: str | Path, where: str) -> int:
    if value <= 0:
        raise InputError(path, where, f"{what} of tensor {tensor!r} is unknown (give the graph inputs static shapes)")
    return value


# ----- Conv --------------------------------------------------------------------------------------------------
def _conv_layer(
    node: NodeProto,
    node_id: int,
    name: str,
    shapes: _TensorShapes,
    producers: dict[str, list[int]],
    path: str | Path,
    where: str,
) -> Layer:
    in_name, out_name = node.input[0], node.output[0]
    ia = _shape(shapes, in_name, path, where)
    oa = _shape(shapes, out_name, path, where)
    kernel = _attr_ints(node, "kernel_shape", None, path, where)
    if kernel is None:
        # ZigZag requires the attribute; ONNX allows inferring it from the weight tensor (input 1, or 3 for
        # QLinearConv).
        w_idx = 3 if node.op_type == "QLinearConv" else 1
        w_shape = shapes.get(node.input[w_idx]) if len(node.input) > w_idx else None
        if not w_shape or len(w_shape) < 3:
            raise InputError(path, f"{where}.kernel_shape", "missing and not derivable from the weight shape")
        kernel = w_shape[2:]
    if len(kernel) != 2 or len(ia) != 4 or len(oa) != 4:
        raise _Skip("only 2-D convolutions are costed")
    strides = _attr_ints(node, "strides", [1, 1], path, where)
    dilations = _attr_ints(node, "dilations", [1, 1], path, where)
    pads = _attr_ints(node, "pads", [0, 0, 0, 0], path, where)
    group = _attr_int(node, "group", 1, path, where)
    assert strides is not None and dilations is not None and pads is not None
    if len(strides) != 2 or len(dilations) != 2 or len(pads) != 4 or group < 1:
        raise InputError(path, where, f"bad strides {strides}, dilations {dilations}, pads {pads} or group {group}")
    if min(strides + dilations + kernel) < 1:
        raise InputError(path, where, "strides, dilations and kernel_shape must be positive")
    if min(pads) < 0:
        raise InputError(path, f"{where}.pads", f"padding must be >= 0, got {pads}")
    for tensor, shape in ((in_name, ia), (out_name, oa)):
        # ONNX requires it; ZigZag would silently cost ceil(channels / group) per group
        if shape[1] > 0 and shape[1] % group:
            raise InputError(path, f"{where}.group", f"group {group} does not divide the {shape[1]} channels of tensor {tensor!r}")

    w_prec, a_prec, o_prec = _precisions(node, path, where)
    # ZigZag pairs list index 0 with the x dims for kernel, stride, dilation and padding, but takes OX/IX from
    # the last (width) axis of the tensors; we reproduce this exactly (identical for square kernels/strides).
    loop_sizes = {
        "B": oa[0] if oa[0] > 0 else 1,  # an unknown batch counts as 1
        "K": math.ceil(_known(oa[1], "channel count", out_name, path, where) / group),
        "G": group,
        "OX": _known(oa[3], "width", out_name, path, where),
        "OY": _known(oa[2], "height", out_name, path, where),
        "C": math.ceil(_known(ia[1], "channel count", in_name, path, where) / group),
        "FX": kernel[0],
        "FY": kernel[1],
    }
    return Layer(
        name=name,
        equation=_CONV_EQUATION,
        loop_sizes=loop_sizes,
        precision={"W": w_prec, "I": a_prec, "O_final": a_prec, "O": o_prec},
        relations=(
            Relation("IX", "OX", "FX", strides[0], dilations[0]),
            Relation("IY", "OY", "FY", strides[1], dilations[1]),
        ),
        pr_sizes={
            "IX": _known(ia[3], "width", in_name, path, where),
            "IY": _known(ia[2], "height", in_name, path, where),
        },
        padding={"IX": (pads[0], pads[2]), "IY": (pads[1], pads[3])},
        operator_type=node.op_type,
        layer_id=node_id,
        operand_source=_operand_source(node_id, _predecessors(node, producers)),
    )


# ----- Gemm / MatMul -----------------------------------------------------------------------------------------
def _gemm_layer(
    node: NodeProto,
    node_id: int,
    name: str,
    shapes: _TensorShapes,
    producers: dict[str, list[int]],
    path: str | Path,
    where: str,
) -> Layer:
    in_name, out_name = node.input[0], node.output[0]
    out_shape = _shape(shapes, out_name, path, where)
    in_shape = shapes.get(in_name) or _gemm_input_from_weight(node, shapes, out_shape, path, where)
    if len(in_shape) != len(out_shape) or len(in_shape) not in (2, 3, 4):
        raise _Skip("only inputs and outputs of one rank, 2 to 4, are costed")
    if _attr_int(node, "transA", 0, path, where):
        if len(in_shape) != 2:
            raise _Skip("transA only supported with 2-D inputs")
        in_shape = [in_shape[1], in_shape[0]]
    if in_shape[-2] != out_shape[-2]:
        raise InputError(path, where, f"input rows {in_shape[-2]} differ from output rows {out_shape[-2]}")

    preds = _predecessors(node, producers)
    weights_constant = len(preds) < 2  # two producers: W is a variable input (e.g. attention scores)
    w_prec, a_prec, o_prec = _precisions(node, path, where)

    size_d = in_shape[-2] if in_shape[-2] > 0 else 1  # an unknown row count is the batch: count it as 1
    size_c = _known(in_shape[-1], "inner dimension", in_name, path, where)
    size_k = _known(out_shape[-1], "last dimension", out_name, path, where)
    size_b = size_h = 0  # 0 = dimension absent
    if len(in_shape) >= 3:
        size_b = in_shape[0] if in_shape[0] > 0 else 1
    if len(in_shape) == 4:
        size_h = in_shape[1]  # ZigZag drops H when its size is unknown (0)

    loop_sizes = {"C": size_c, "D": size_d, "K": size_k}
    batch_idx = ""
    if size_b:
        loop_sizes["B"] = size_b
        batch_idx += "[b]"
    if size_h:
        loop_sizes["H"] = size_h
        batch_idx += "[h]"
    w_idx = "" if weights_constant else batch_idx
    return Layer(
        name=name,
        equation=f"O{batch_idx}[d][k]+=I{batch_idx}[d][c]*W{w_idx}[c][k]",
        loop_sizes=loop_sizes,
        precision={"W": w_prec if weights_constant else a_prec, "I": a_prec, "O_final": a_prec, "O": o_prec},
        operator_type=node.op_type,
        layer_id=node_id,
        operand_source=_operand_source(node_id, preds),
    )


def _gemm_input_from_weight(
    node: NodeProto, shapes: _TensorShapes, out_shape: list[int], path: str | Path, where: str
) -> list[int]:
    """Input shape of a 2-D Gemm whose input shape is unknown, from the weight shape (ZigZag's fallback)."""
    w_shape = shapes.get(node.input[1]) if len(node.input) > 1 else None
    if not w_shape or len(w_shape) != 2 or len(out_shape) != 2:
        raise InputError(path, where, f"shape of tensor {node.input[0]!r} is unknown (give the graph inputs static shapes)")
    if _attr_int(node, "transB", 0, path, where):
        w_shape = [w_shape[1], w_shape[0]]
    return [out_shape[0], w_shape[0]]

