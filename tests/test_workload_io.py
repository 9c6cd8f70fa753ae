"""Workload front ends: ZigZag workload YAML, ONNX import (checked against ZigZag 3.9.1's own ONNX parser),
the footprint closed form, cpmap's shipped network files, and the one-line errors for bad input."""

from __future__ import annotations

import logging
import os
from functools import lru_cache
from pathlib import Path
from typing import Any

import pytest

from cpmap.errors import InputError
from cpmap.io.onnx_import import load_onnx
from cpmap.io.workload_yaml import load_workload_yaml
from cpmap.io.workloads import load_workload
from cpmap.workload import Layer, Relation

REPO = Path(__file__).resolve().parent.parent
SPEC_EXAMPLES = Path(__file__).resolve().parent / "fixtures/spec_examples"
TOY_WL = SPEC_EXAMPLES / "toy" / "wl.yaml"
NETWORKS = ("resnet18", "mobilenetv2", "alexnet")
OUR_NETWORKS = REPO / "models" / "networks"


# ----- ZigZag side (the oracle) ------------------------------------------------------------------------------
def _zigzag_dir() -> Path:
    import zigzag
    import six  # noqa: F401 (the test extra installs it)  # ZigZag's validators import it without declaring it
    return Path(os.path.dirname(zigzag.__file__))


def _bundled(network: str) -> Path:
    return _zigzag_dir() / "inputs" / "workload" / f"{network}.onnx"


@lru_cache(maxsize=None)
def _zigzag_layers(onnx_path: str) -> dict[int, Any]:
    """Layer id -> ZigZag LayerNode, built by ZigZag's own ONNX parser (dummy nodes left out)."""
    from zigzag.parser.onnx.onnx_model_parser import ONNXModelParser
    from zigzag.workload.layer_node import LayerNode

    logging.getLogger("zigzag").setLevel(logging.ERROR)
    mapping = str(_zigzag_dir() / "inputs" / "mapping" / "default.yaml")
    workload = ONNXModelParser(onnx_path, mapping).run()
    return {n.id: n for n in workload.nodes() if isinstance(n, LayerNode)}


def _zigzag_view(node: Any) -> dict[str, Any]:
    """Everything of a ZigZag LayerNode that cpmap's Layer must reproduce, in plain Python types."""
    operands = node.equation.get_contained_operands()
    return {
        "name": node.name,
        "operator_type": node.type,
        "loop_sizes": [(str(d), int(s)) for d, s in node.layer_dim_sizes.items()],
        "operand_indices": {str(op): tuple(str(d) for d in node.equation.get_r_layer_dims(op)) for op in operands},
        "operand_order": [str(op) for op in operands],
        "relations": [(str(r.dim_1), str(r.dim_2), str(r.dim_3), r.coef_2, r.coef_3) for r in node.dimension_relations],
        "pr_sizes": {str(d): int(s) for d, s in node.pr_layer_dim_sizes.items()},
        "padding": {str(d): tuple(p) for d, p in node.padding.data.items()},
        "precision": {str(op): p for op, p in node.operand_precision.data.items()},
        "operand_size": {str(op): int(s) for op, s in node.operand_size_elem.items()},
        "constant_operands": sorted(str(op) for op in node.constant_operands),
        "input_operand_source": {str(op): s for op, s in node.input_operand_source.items()},
        "total_macs": int(node.total_mac_count),
    }


def _cpmap_view(layer: Layer) -> dict[str, Any]:
    return {
        "name": layer.name,
        "operator_type": layer.operator_type,
        "loop_sizes": list(layer.loop_sizes.items()),
        "operand_indices": dict(layer.operand_indices),
        "operand_order": list(layer.operands),
        "relations": [(r.derived, r.first, r.second, r.stride, r.dilation) for r in layer.relations],
        "pr_sizes": dict(layer.pr_sizes),
        "padding": dict(layer.padding),
        "precision": dict(layer.precision),
        "operand_size": {op: layer.operand_size(op) for op in layer.operands},
        # ZigZag splits operand_source into constant operands (source = own id) and real sources.
        "constant_operands": sorted(op for op, s in layer.operand_source.items() if s == layer.layer_id),
        "input_operand_source": {op: s for op, s in layer.operand_source.items() if s != layer.layer_id},
        "total_macs": layer.total_macs,
    }


# Per network: (costed layers, skipped nodes, total MACs) as ZigZag 3.9.1 parses its bundled file.
EXPECTED_COUNTS = {
    "resnet18": (21, 28, 1_814_073_344),
    "mobilenetv2": (53, 117, 300_774_272),
    "alexnet": (8, 16, 654_560_384),
}


@pytest.mark.parametrize("network", NETWORKS)
def test_onnx_import_matches_zigzag_parser(network: str) -> None:
    path = _bundled(network)
    zz = _zigzag_layers(str(path))
    layers, notes = load_onnx(path)
    assert [l.layer_id for l in layers] == sorted(zz)
    for layer in layers:
        assert _cpmap_view(layer) == _zigzag_view(zz[layer.layer_id]), layer.name
    n_layers, n_skipped, macs = EXPECTED_COUNTS[network]
    assert (len(layers), len(notes), sum(l.total_macs for l in layers)) == (n_layers, n_skipped, macs)


def test_onnx_import_known_layers() -> None:
    """A few layers spelled out, so a regression is readable without ZigZag at hand."""
    zdir = _zigzag_dir() / "inputs" / "workload"
    resnet, notes = load_onnx(zdir / "resnet18.onnx")
    assert [n.note for n in notes[:2]] == ["skipped Relu node /relu/Relu", "skipped MaxPool node /maxpool/MaxPool"]
    conv1 = resnet[0]
    assert conv1.name == "/conv1/Conv" and conv1.layer_id == 0
    assert list(conv1.loop_sizes.items()) == [
        ("B", 1), ("K", 64), ("G", 1), ("OX", 112), ("OY", 112), ("C", 3), ("FX", 7), ("FY", 7)
    ]
    assert conv1.relations == (Relation("IX", "OX", "FX", 2, 1), Relation("IY", "OY", "FY", 2, 1))
    assert conv1.pr_sizes == {"IX": 224, "IY": 224} and conv1.padding == {"IX": (3, 3), "IY": (3, 3)}
    assert conv1.precision == {"W": 8, "I": 8, "O_final": 8, "O": 16}
    assert conv1.operand_source == {"W": 0, "I": 0}  # fed by the graph input: both operands constant
    down = next(l for l in resnet if l.name == "/layer2/layer2.0/downsample/downsample.0/Conv")
    # 1x1 stride-2: the loops touch 28 of the 56 input columns, and ZigZag counts only those.
    assert down.operand_size("I") == 64 * 28 * 28 and down.derived_size("IX") == 56
    fc = resnet[-1]
    assert (fc.name, fc.equation, list(fc.loop_sizes.items())) == (
        "/fc/Gemm", "O[d][k]+=I[d][c]*W[c][k]", [("C", 512), ("D", 1), ("K", 1000)]
    )
    assert fc.operand_source == {"W": 48, "I": 47}

    mobilenet, _ = load_onnx(zdir / "mobilenetv2.onnx")
    dw = next(l for l in mobilenet if l.name == "/features/features.1/conv/conv.0/conv.0.0/Conv")
    assert dw.loop_sizes == {"B": 1, "K": 1, "G": 32, "OX": 112, "OY": 112, "C": 1, "FX": 3, "FY": 3}
    assert (dw.operand_size("W"), dw.operand_size("I"), dw.operand_size("O")) == (288, 401408, 401408)

    alexnet, _ = load_onnx(zdir / "alexnet.onnx")
    conv2 = next(l for l in alexnet if l.name == "Op4")
    assert conv2.loop_sizes == {"B": 1, "K": 128, "G": 2, "OX": 26, "OY": 26, "C": 48, "FX": 5, "FY": 5}
    conv1 = alexnet[0]  # 11x11 stride 4 on 224: the loops reach 223 of the 224 input columns
    assert conv1.operand_size("I") == 3 * 223 * 223


# ----- toy YAML and footprint ----------------------------------------------------------------------------------
def test_toy_workload_yaml() -> None:
    (layer,) = load_workload_yaml(TOY_WL)
    assert layer.name == "toy_conv" and layer.layer_id == 0 and layer.operator_type == "Conv"
    assert layer.loop_sizes == {"K": 4, "C": 4, "OX": 4, "FX": 3}
    assert layer.relations == (Relation("IX", "OX", "FX", 1, 1),)
    assert layer.derived_size("IX") == 6
    assert {op: layer.operand_size(op) for op in layer.operands} == {"O": 16, "W": 48, "I": 24}
    assert layer.precision == {"W": 8, "I": 8, "O": 16, "O_final": 8}
    assert layer.operand_source == {"I": 0, "W": 0}
    (again,), notes = load_workload(TOY_WL)
    assert notes == [] and _cpmap_view(again) == _cpmap_view(layer)


def test_yaml_defaults_and_name_fallback(tmp_path: Path) -> None:
    """No name -> the id; no relations/sources -> empty; padding and pr sizes read in pr_loop_dims order."""
    f = tmp_path / "wl.yaml"
    f.write_text(
        """
- id: 7
  operator_type: Conv
  equation: O[b][k][oy][ox]+=W[k][c][fy][fx]*I[b][c][iy][ix]
  dimension_relations: [ix=2*ox+1*fx, iy=2*oy+1*fy]
  loop_dims: [b, k, c, oy, ox, fy, fx]
  loop_sizes: [1, 8, 4, 5, 5, 3, 3]
  operand_precision: {W: 8, I: 8, O: 16, O_final: 8}
  pr_loop_dims: [IY, IX]
  pr_loop_sizes: [10, 11]
  padding: [[1, 0], [0, 1]]
- id: 8
  name: add
  operator_type: Add
  equation: O[b][k]=W[b][k]+I[b][k]
  loop_dims: [B, K]
  loop_sizes: [1, 8]
  operand_precision: {W: 8, I: 8, O: 16, O_final: 8}
  operand_source: {W: 7, I: 7}
"""
    )
    conv, add = load_workload_yaml(f)
    assert conv.name == "7" and conv.operand_source == {} and add.name == "add"
    assert list(conv.loop_sizes) == ["B", "K", "C", "OY", "OX", "FY", "FX"]
    assert conv.pr_sizes == {"IY": 10, "IX": 11} and conv.padding == {"IY": (1, 0), "IX": (0, 1)}
    assert add.relations == () and add.operand_source == {"W": 7, "I": 7}


# (stride, dilation, a, b, expected) — spec cost_model.md section 1.3, all rows.
FOOTPRINT_TABLE = [
    (1, 1, 4, 3, 6),
    (2, 1, 4, 3, 9),
    (2, 1, 2, 3, 5),
    (1, 2, 4, 3, 8),
    (3, 1, 4, 2, 8),
    (2, 2, 4, 3, 6),
    (1, 2, 1, 3, 5),  # the closed form overestimates (true value 3); ZigZag uses it as is
]


@pytest.mark.parametrize(("stride", "dilation", "a", "b", "expected"), FOOTPRINT_TABLE)
def test_relation_footprint_table(stride: int, dilation: int, a: int, b: int, expected: int) -> None:
    assert Relation("IX", "OX", "FX", stride, dilation).footprint(a, b) == expected


# ----- cpmap's own network files -----------------------------------------------------------------------------
@pytest.mark.parametrize("network", NETWORKS)
def test_shipped_networks_equal_zigzag_bundled(network: str) -> None:
    ours = OUR_NETWORKS / f"{network}.onnx"
    assert ours.stat().st_size < 2_000_000
    our_layers, our_notes = load_workload(ours)
    ref_layers, ref_notes = load_onnx(_bundled(network))
    assert our_notes == ref_notes
    assert len(our_layers) == len(ref_layers)
    for mine, ref in zip(our_layers, ref_layers):
        assert (mine.layer_id, mine.equation, mine.operand_source) == (ref.layer_id, ref.equation, ref.operand_source)
        assert _cpmap_view(mine) == _cpmap_view(ref), ref.name
    # The files carry their inferred shapes, so ZigZag itself (which runs no shape inference) reads them too.
    zz = _zigzag_layers(str(ours))
    for layer in our_layers:
        assert _cpmap_view(layer) == _zigzag_view(zz[layer.layer_id]), layer.name


# ----- bad input: one-line errors naming the file and the field -----------------------------------------------
_GOOD_LAYER = """- id: 0
  name: l0
  operator_type: Conv
  equation: O[k][ox]+=W[k][c][fx]*I[c][ix]
  dimension_relations: [ix=1*ox+1*fx]
  loop_dims: [K, C, OX, FX]
  loop_sizes: [4, 4, 4, 3]
  operand_precision: {W: 8, I: 8, O: 16, O_final: 8}
  operand_source: {I: 0, W: 0}
"""


def _write(tmp_path: Path, text: str, name: str = "wl.yaml") -> Path:
    f = tmp_path / name
    f.write_text(text)
    return f


def _error(fn: Any, path: Path) -> InputError:
    with pytest.raises(InputError) as info:
        fn(path)
    err = info.value
    assert "\n" not in str(err)
    assert str(path) in str(err)
    return err


def test_error_missing_file(tmp_path: Path) -> None:
    for fn in (load_workload, load_workload_yaml, load_onnx):
        err = _error(fn, tmp_path / "nope.yaml")
        assert "file not found" in str(err)


def test_error_malformed_yaml(tmp_path: Path) -> None:
    f = _write(tmp_path, "- id: 0\n  loop_dims: [K, C\n  name: x\n")
    err = _error(load_workload, f)
    assert "malformed YAML" in str(err) and "line" in str(err)


def test_error_not_a_list(tmp_path: Path) -> None:
    err = _error(load_workload_yaml, _write(tmp_path, "id: 0\n"))
    assert "expected a list of layers" in str(err)


@pytest.mark.parametrize(
    ("old", "new", "field", "problem"),
    [
        ("  loop_sizes: [4, 4, 4, 3]\n", "", "layers[1].loop_sizes", "missing required field"),
        ("  operator_type: Conv\n", "", "layers[1].operator_type", "missing required field"),
        ("loop_sizes: [4, 4, 4, 3]", "loop_sizes: [4, 4, four, 3]", "layers[1].loop_sizes[2]", "expected an integer"),
        ("loop_sizes: [4, 4, 4, 3]", "loop_sizes: [4, 4, 4]", "layers[1].loop_sizes", "3 sizes for 4 loop_dims"),
        ("loop_sizes: [4, 4, 4, 3]", "loop_sizes: [4, 0, 4, 3]", "layers[1].loop_sizes[1]", "must be positive"),
        ("loop_sizes: [4, 4, 4, 3]", "loop_sizes: [4, 4, true, 3]", "layers[1].loop_sizes[2]", "expected an integer"),
        ("id: 1\n  name: l1", "id: zero\n  name: l1", "layers[1].id", "expected an integer"),
        ("name: l1", "name: [l1]", "layers[1].name", "expected a string"),
        ("loop_dims: [K, C, OX, FX]", "loop_dims: K", "layers[1].loop_dims", "expected a list"),
        ("O[k][ox]+=W", "O[k][ox]=+=W", "layers[1].equation", "cannot parse"),
        ("O[k][ox]+=W[k][c][fx]", "O[k][ox]+=W[k][c][fz]", "layers[1].equation", "'fz'"),
        ("[ix=1*ox+1*fx]", "[ix=1*ox-1*fx]", "layers[1].dimension_relations[0]", "cannot parse dimension relation"),
        ("[ix=1*ox+1*fx]", "[ix=1*ox+1*fy]", "layers[1].dimension_relations[0]", "not one of loop_dims"),
        ("{W: 8, I: 8, O: 16", "{W: 8, O: 16", "layers[1].operand_precision.I", "missing precision for operand I"),
        ("O: 16, O_final: 8}", "O: 16}", "layers[1].operand_precision.O_final", "missing precision"),
        ("{I: 0, W: 0}", "{I: 5, W: 0}", "layers[1].operand_source.I", "no layer with id 5"),
        ("  operand_source", "  loop_size: [1]\n  operand_source", "layers[1].loop_size", "unknown field"),
        ("  operand_source", "  padding: [[1, 1]]\n  operand_source", "layers[1].padding", "without pr_loop_dims"),
    ],
)
def test_error_bad_fields(tmp_path: Path, old: str, new: str, field: str, problem: str) -> None:
    """Layer 0 is valid; layer 1 carries one defect and the message names exactly that field."""
    bad = _GOOD_LAYER.replace("id: 0", "id: 1").replace("name: l0", "name: l1")
    assert old in bad
    bad = bad.replace(old, new, 1)
    f = _write(tmp_path, _GOOD_LAYER + bad)
    err = _error(load_workload, f)
    assert err.field == field, str(err)
    assert problem in err.problem, str(err)
    assert str(err).startswith(f"{f}: {field}: ")


def test_error_duplicate_id(tmp_path: Path) -> None:
    err = _error(load_workload_yaml, _write(tmp_path, _GOOD_LAYER + _GOOD_LAYER))
    assert err.field == "layers[1].id" and "duplicate layer id 0" in err.problem


@pytest.mark.parametrize("content", [b"", b"- id: 0\n  name: not onnx\n", b"\x00\x01garbage\xff"])
def test_error_not_onnx(tmp_path: Path, content: bytes) -> None:
    f = tmp_path / "model.onnx"
    f.write_bytes(content)
    err = _error(load_workload, f)
    assert "not an ONNX model" in err.problem and err.field in (None, "graph")


def test_error_unknown_extension(tmp_path: Path) -> None:
    err = _error(load_workload, _write(tmp_path, "x", name="wl.txt"))
    assert "unknown workload format" in err.problem


# ----- synthetic graph: the paths the bundled models do not exercise -------------------------------------------
def _synthetic_model() -> Any:
    """Non-square strided/dilated grouped conv with custom precisions, depthwise conv, an unnamed node,
    MatMul with 3-D and 4-D (two variable inputs) operands, Gemm with transA, and skipped nodes."""
    from onnx import TensorProto, helper

    f = TensorProto.FLOAT
    vi = helper.make_tensor_value_info
    inputs = [
        vi("x", f, [1, 8, 20, 30]),
        vi("w1", f, [6, 4, 3, 5]),
        vi("w2", f, [6, 1, 3, 3]),
        vi("m", f, [2, 10, 16]),
        vi("wm", f, [16, 12]),
        vi("a", f, [1, 4, 10, 16]),
        vi("b", f, [1, 4, 16, 10]),
        vi("g", f, [16, 10]),
        vi("wg", f, [7, 16]),
    ]
    nodes = [
        helper.make_node(
            "Conv", ["x", "w1"], ["c1"], name="conv_ns", kernel_shape=[3, 5], strides=[2, 1], dilations=[1, 2],
            pads=[1, 2, 0, 1], group=2, act_size=4, weight_size=2,
        ),
        helper.make_node("Relu", ["c1"], ["r1"], name="relu"),
        helper.make_node("Conv", ["r1", "w2"], ["c2"], kernel_shape=[3, 3], pads=[1, 1, 1, 1], group=6, output_size=24),
        helper.make_node("Relu", ["m"], ["mr"], name="relu_m"),
        helper.make_node("MatMul", ["mr", "wm"], ["mm3"], name="matmul3d"),
        helper.make_node("Relu", ["a"], ["ar"], name="relu_a"),
        helper.make_node("Relu", ["b"], ["br"], name="relu_b"),
        helper.make_node("MatMul", ["ar", "br"], ["mm4"], name="matmul4d"),
        helper.make_node("Gemm", ["g", "wg"], ["gm"], name="gemm_ta", transA=1, transB=1),
    ]
    outputs = [vi(n, f, None) for n in ("c2", "mm3", "mm4", "gm")]
    graph = helper.make_graph(nodes, "synthetic", inputs, outputs)
    return helper.make_model(graph, opset_imports=[helper.make_opsetid("", 13)])


def test_onnx_import_synthetic_matches_zigzag(tmp_path: Path) -> None:
    import onnx

    _zigzag_dir()
    raw = tmp_path / "raw.onnx"
    onnx.save(_synthetic_model(), str(raw))
    inferred = tmp_path / "inferred.onnx"  # ZigZag runs no shape inference: give it the inferred model
    onnx.save(onnx.shape_inference.infer_shapes(_synthetic_model()), str(inferred))
    zz = _zigzag_layers(str(inferred))
    layers, notes = load_onnx(raw)  # cpmap infers the shapes itself
    assert [n.note for n in notes] == ["skipped Relu node relu", "skipped Relu node relu_m", "skipped Relu node relu_a",
                                       "skipped Relu node relu_b"]
    assert [l.layer_id for l in layers] == sorted(zz) == [0, 2, 4, 7, 8]
    for layer in layers:
        assert _cpmap_view(layer) == _zigzag_view(zz[layer.layer_id]), layer.name
    by_name = {l.name: l for l in layers}
    ns = by_name["conv_ns"]
    # ZigZag pairs attribute index 0 (height) with the x dims and takes OX/IX from the width axis.
    assert ns.loop_sizes == {"B": 1, "K": 3, "G": 2, "OX": 25, "OY": 10, "C": 4, "FX": 3, "FY": 5}
    assert ns.relations == (Relation("IX", "OX", "FX", 2, 1), Relation("IY", "OY", "FY", 1, 2))
    assert ns.padding == {"IX": (1, 0), "IY": (2, 1)} and ns.pr_sizes == {"IX": 30, "IY": 20}
    assert ns.precision == {"W": 2, "I": 4, "O_final": 4, "O": 8}
    dw = by_name["Op2"]
    assert dw.loop_sizes["G"] == 6 and dw.loop_sizes["K"] == dw.loop_sizes["C"] == 1
    assert dw.precision == {"W": 8, "I": 8, "O_final": 8, "O": 24} and dw.operand_source == {"W": 2, "I": 1}
    assert by_name["matmul3d"].equation == "O[b][d][k]+=I[b][d][c]*W[c][k]"
    assert list(by_name["matmul3d"].loop_sizes.items()) == [("C", 16), ("D", 10), ("K", 12), ("B", 2)]
    mm4 = by_name["matmul4d"]
    assert mm4.equation == "O[b][h][d][k]+=I[b][h][d][c]*W[b][h][c][k]" and mm4.operand_source == {"W": 6, "I": 5}
    assert list(by_name["gemm_ta"].loop_sizes.items()) == [("C", 16), ("D", 10), ("K", 7)]
