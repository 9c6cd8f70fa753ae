"""Spatial-mapping generation (spec cost_model.md 8.4 steps 1-6) against ZigZag 3.9.1's generator.

* Differential: for every layer of ResNet-18 and MobileNetV2 (and the toy convolution), on the bundled
  accelerators with their mapping files plus synthetic variants (no spatial mapping at all, hints, partial
  mappings, per-layer-dim over-unrolling), with mixed generation off and on, the list returned by
  ``generate_spatial_mappings`` equals the list ZigZag's ``SpatialMappingGeneratorStage`` produces, in
  order. ZigZag's stage is called directly (no temporal search), as its ``run()`` does: all mappings are
  generated (and capacity-limited, in place) before any is used.
* Hand-computed cases from the spec text (ranking example, divisors of the cap) and ZigZag's sharing of
  candidates between ranked mappings.
* Bad input: the ``InputError`` names the file, the field and the problem.

Layers of identical shape under the same mapping entry are compared once, to stay within the CI budget.
"""

from __future__ import annotations

import copy
import os
import sys
from pathlib import Path
from typing import Any

import pytest

from cpmap.errors import InputError
from cpmap.io.hardware_yaml import load_accelerator
from cpmap.io.mapping_yaml import load_mapping_yaml
from cpmap.io.workloads import load_workload
from cpmap.mapping import MappingConstraints, SpatialMapping
from cpmap.spatial_generation import divisors, generate_spatial_mappings, ranking_score
from cpmap.workload import Layer
from cpmap.zigzag_order import set_order

ROOT = Path(__file__).resolve().parent.parent
MODELS = ROOT / "models"
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

# Accelerator -> its bundled mapping files (instances/*.yaml pair the first one with it).
BUNDLED = {
    "tpu_like": ("tpu_like", "tpu_like_mixed", "default_imc"),
    "edge_tpu_like": ("edge_tpu_like", "edge_tpu_like_mixed"),
    "meta_prototype": ("meta_prototype_like", "meta_prototype_like_mixed"),
    "ascend_like": ("ascend_like", "ascend_like_mixed"),
    "tesla_npu_like": ("tesla_npu_like", "tesla_npu_like_mixed"),
}
LINKS = "  memory_operand_links: {O: O, W: I2, I: I1}\n"
# Synthetic mapping files, valid on every accelerator above and on gemm_l1 (D1 >= 8, D2 >= 2).
VARIANTS = {
    # nothing given: every array dim generated from all layer dims
    "empty": "- name: default\n" + LINKS,
    # hints: dims this layer lacks (D for a conv, OX/FX for a Gemm), a hint naming no dim of the layer
    # (falls back to all dims), hints on array dims a 2-D/3-D array lacks
    "hints": (
        "- name: default\n  spatial_mapping_hint:\n    D1: [K, C, OX]\n    D2: [OY, FX, C, B]\n"
        "    D3: [K, D]\n    D4: [D]\n" + LINKS
        + "- name: Gemm\n  spatial_mapping_hint:\n    D1: [OX, FX]\n    D2: [C, K, D]\n    D3: [K]\n" + LINKS
    ),
    # partial user mapping (mixed on D1) + hints for the rest
    "partial": (
        "- name: default\n  spatial_mapping:\n    D1: ['OX, 2', 'K, 4']\n  spatial_mapping_hint:\n"
        "    D2: [C, FX, OY]\n    D3: [OX, OY, K]\n    D4: [C, FY, FX, OY]\n" + LINKS
        + "- name: Gemm\n  spatial_mapping:\n    D2: ['C, 2']\n    D1: ['K, 8']\n" + LINKS
    ),
    # C over-unrolled in total for small-C layers (3 input channels, depthwise): one entry is dropped
    "overlimit": "- name: default\n  spatial_mapping:\n    D1: ['K, 4', 'C, 2']\n    D2: ['C, 2']\n" + LINKS,
}
# (network, accelerator, mapping) cases; "full generation" variants on ResNet-18 only (CI budget).
CASES: list[tuple[str, str, str]] = []
for _acc, _maps in BUNDLED.items():
    for _net in ("resnet18", "mobilenetv2"):
        CASES += [(_net, _acc, m) for m in _maps]
        CASES += [(_net, _acc, f"variant:{v}") for v in ("hints", "partial", "overlimit")]
    CASES.append(("resnet18", _acc, "variant:empty"))
CASES += [("resnet18", "gemm_l1", f"variant:{v}") for v in ("hints", "partial", "overlimit")]
CASES += [("resnet18", "gemm_l1_l3", "variant:hints")]
CASES += [("toy_conv", "toy", "toy"), ("toy_conv", "toy", "variant:empty")]


# ----------------------------------------------------------------------------------------------------------
# ZigZag side
# ----------------------------------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def zz() -> Any:
    """The oracle module (ZigZag imported lazily; the other tests run without it)."""
    import zigzag  # noqa: F401 (the test extra installs it)
    import zigzag_oracle

    return zigzag_oracle


@pytest.fixture(scope="module")
def variant_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    d = tmp_path_factory.mktemp("mappings")
    for name, text in VARIANTS.items():
        (d / f"{name}.yaml").write_text(text)
    return d


def _network_path(net: str) -> Path:
    return MODELS / "networks" / (f"{net}.yaml" if net == "toy_conv" else f"{net}.onnx")


def _mapping_path(mapping: str, variant_dir: Path) -> Path:
    if mapping.startswith("variant:"):
        return variant_dir / f"{mapping.removeprefix('variant:')}.yaml"
    return MODELS / "mappings" / f"{mapping}.yaml"


def _never_called(*args: Any, **kwargs: Any) -> None:
    """Next stage of the pipeline: the generator is asked for its mappings only, never run."""
    raise AssertionError("the next stage is not run")


def zigzag_generated(zz: Any, accelerator: Any, node: Any, mapping_data: list, nb: int, mixed: bool) -> list:
    """ZigZag's list for one layer: the mapping entry applied as its parser does, then the generator stage."""
    from zigzag.parser.mapping_factory import MappingFactory
    from zigzag.stages.mapping.spatial_mapping_generation import SpatialMappingGeneratorStage

    layer = copy.copy(node)  # the parsed node is shared: give the stage its own mapping attributes
    factory = MappingFactory(node.name, node.type, mapping_data)
    layer.spatial_mapping = factory.create_spatial_mapping()
    layer.spatial_mapping_hint = factory.create_spatial_mapping_hint()
    layer.memory_operand_links = factory.create_memory_operand_links()
    stage = SpatialMappingGeneratorStage(
        [_never_called], accelerator=accelerator, layer=layer, enable_mix_spatial_mapping_generation=mixed, nb_mappings_generated=nb
    )
    generated = list(stage.generate_spatial_mappings())  # as run() does: all first, then convert
    return [[(str(ad), [(str(ld), f) for ld, f in m.items()]) for ad, m in sm.items()] for sm in generated]


def as_lists(mappings: list[SpatialMapping]) -> list:
    return [[(ad, list(dims)) for ad, dims in sm.unrollings] for sm in mappings]


@pytest.mark.parametrize("net,acc,mapping", CASES, ids=["-".join(c) for c in CASES])
def test_same_list_as_zigzag(zz: Any, variant_dir: Path, net: str, acc: str, mapping: str) -> None:
    from zigzag.stages.parser.workload_parser import WorkloadParserStage

    hw = MODELS / "accelerators" / f"{acc}.yaml"
    mpath = _mapping_path(mapping, variant_dir)
    wl = _network_path(net)
    nodes = zz.zigzag_layers_from_onnx(str(wl)) if wl.suffix == ".onnx" else zz.zigzag_layers_from_yaml(str(wl))
    zacc = zz.load_accelerator(str(hw))
    mdata = WorkloadParserStage.parse_mapping_data(str(mpath))
    cacc = load_accelerator(hw)
    mfile = load_mapping_yaml(mpath)
    layers, _ = load_workload(wl)
    seen = set()
    compared = 0
    for layer in layers:
        entry = mfile.for_layer(layer)
        key = (layer.shape_key(), entry.name)
        if key in seen:
            continue
        seen.add(key)
        for mixed in (False, True):
            expected = zigzag_generated(zz, zacc, nodes[layer.name], mdata, 3, mixed)
            got = as_lists(generate_spatial_mappings(layer, cacc, entry, 3, mixed, mpath))
            assert got == expected, (layer.name, mixed)
            compared += 1
    assert compared > 0


@pytest.mark.parametrize("nb", [1, 5])
@pytest.mark.parametrize("acc", ["tesla_npu_like", "edge_tpu_like"])
def test_other_list_lengths_as_zigzag(zz: Any, variant_dir: Path, acc: str, nb: int) -> None:
    from zigzag.stages.parser.workload_parser import WorkloadParserStage

    hw = MODELS / "accelerators" / f"{acc}.yaml"
    wl = MODELS / "networks" / "resnet18.onnx"
    mpath = variant_dir / "empty.yaml"
    nodes = zz.zigzag_layers_from_onnx(str(wl))
    zacc, cacc = zz.load_accelerator(str(hw)), load_accelerator(hw)
    mdata, mfile = WorkloadParserStage.parse_mapping_data(str(mpath)), load_mapping_yaml(mpath)
    layers, _ = load_workload(wl)
    for layer in layers[:4]:
        for mixed in (False, True):
            expected = zigzag_generated(zz, zacc, nodes[layer.name], mdata, nb, mixed)
            got = as_lists(generate_spatial_mappings(layer, cacc, mfile.for_layer(layer), nb, mixed, mpath))
            assert got == expected, (layer.name, mixed)
            assert len(got) == nb


# ----------------------------------------------------------------------------------------------------------
# Hand-computed cases
# ----------------------------------------------------------------------------------------------------------

PRECISION = {"W": 8, "I": 8, "O": 16, "O_final": 8}
MATMUL = "O[k][ox]+=W[k][c]*I[c][ox]"

# An 8x8 array whose only memory serves the whole array with a wide port: no bandwidth or capacity cap.
OPEN_8X8 = """
name: open8x8
memories:
  dram:
    size: 10000000000
    r_cost: 1.0
    w_cost: 1.0
    area: 0
    latency: 1
    operands: [I1, I2, O]
    ports:
      - name: rw_port_1
        type: read_write
        bandwidth_min: 8
        bandwidth_max: 4096
        allocation: ["I1, fh", "I1, tl", "I2, fh", "I2, tl", "O, fh", "O, tl", "O, fl", "O, th"]
    served_dimensions: [D1, D2]
operational_array:
  unit_energy: 1.0
  unit_area: 1
  dimensions: [D1, D2]
  sizes: [8, 8]
"""


def test_ranking_score_spec_example() -> None:
    assert ranking_score({"D1": {"K": 32}, "D2": {"OX": 32}}) == 1055
    assert ranking_score({"D1": {"K": 32}, "D2": {"C": 3}}) == 98


def test_ranking_on_32x32() -> None:
    """tpu_like (32x32; its innermost memories cap nothing here): K fixed on D1, D2 from OX or C."""
    acc = load_accelerator(MODELS / "accelerators" / "tpu_like.yaml")
    layer = Layer("mm", MATMUL, {"K": 32, "C": 3, "OX": 32}, PRECISION)
    c = MappingConstraints(spatial=SpatialMapping.from_dict({"D1": {"K": 32}}), hint={"D2": ("OX", "C")})
    got = [dict(sm.as_dict()["D2"]) for sm in generate_spatial_mappings(layer, acc, c, nb_mappings=20)]
    # scores 1055, 527, 263, 131, 98 (C3), 65, then OX1 and C1 tie at 32: candidate order (hint set order)
    ties = [{d: 1} for d in set_order(["OX", "C"], "LayerDim")]
    assert got == [{"OX": 32}, {"OX": 16}, {"OX": 8}, {"OX": 4}, {"C": 3}, {"OX": 2}, *ties]


def test_candidates_are_divisors_of_the_cap(tmp_path: Path) -> None:
    """K = 12 on an 8-wide dim: the cap is 8, so K gets 8, 4, 2, 1 (never 6, 3 or 12)."""
    hw = tmp_path / "open8x8.yaml"
    hw.write_text(OPEN_8X8)
    acc = load_accelerator(hw)
    layer = Layer("mm", MATMUL, {"K": 12, "C": 5, "OX": 1}, PRECISION)
    c = MappingConstraints(hint={"D1": ("K",), "D2": ("C",)})
    got = [sm.as_dict() for sm in generate_spatial_mappings(layer, acc, c, nb_mappings=50)]
    assert got[0] == {"D1": {"K": 8}, "D2": {"C": 5}}
    assert sorted({m["D1"]["K"] for m in got}, reverse=True) == [8, 4, 2, 1]
    assert divisors(12) == [1, 2, 3, 4, 6, 12] and divisors(1) == [1] and divisors(0) == []


def test_shared_candidates_shrink_together() -> None:
    """ZigZag shrinks ranked mappings in place and they share candidate objects: the third mapping's D2
    candidate ``OX 32`` fits on its own, but the first mapping (same candidate) had to shrink it to 16."""
    acc = load_accelerator(MODELS / "accelerators" / "tesla_npu_like.yaml")
    layers, _ = load_workload(MODELS / "networks" / "resnet18.onnx")
    layer = next(x for x in layers if x.name == "/layer1/layer1.0/conv1/Conv")
    got = [sm.as_dict() for sm in generate_spatial_mappings(layer, acc, MappingConstraints())]
    assert got == [
        {"D1": {"C": 16}, "D2": {"OX": 16}, "D3": {"OY": 4}},
        {"D1": {"C": 16}, "D2": {"OY": 16}, "D3": {"OX": 4}},
        {"D1": {"K": 32}, "D2": {"OX": 16}, "D3": {"OY": 4}},
    ]


def test_full_user_mapping_is_the_only_one() -> None:
    """A complete user mapping is returned alone whatever ``nb_mappings``, capped to the layer (C = 3)."""
    acc = load_accelerator(MODELS / "accelerators" / "tpu_like.yaml")
    layer = Layer("mm", MATMUL, {"K": 64, "C": 3, "OX": 8}, PRECISION)
    c = MappingConstraints(spatial=SpatialMapping.from_dict({"D2": {"C": 32}, "D1": {"K": 32, "FX": 1}}))
    got = generate_spatial_mappings(layer, acc, c, nb_mappings=5, mixed=True)
    assert [sm.unrollings for sm in got] == [(("D2", (("C", 3),)), ("D1", (("K", 32),)))]


# ----------------------------------------------------------------------------------------------------------
# Bad input
# ----------------------------------------------------------------------------------------------------------

CONV = Layer("conv", "O[k][ox]+=W[k][c][fx]*I[c][ix]", {"K": 16, "C": 8, "OX": 8, "FX": 3}, PRECISION)


def _entry(tmp_path: Path, body: str) -> tuple[Path, MappingConstraints]:
    path = tmp_path / "map.yaml"
    path.write_text("- name: default\n" + body + LINKS)
    return path, load_mapping_yaml(path).entries[0]


def _tpu() -> Any:
    return load_accelerator(MODELS / "accelerators" / "tpu_like.yaml")


@pytest.mark.parametrize(
    "body,field,problem",
    [
        ("  spatial_mapping:\n    D1: ['Q, 4']\n", "default.spatial_mapping.D1", "unknown layer dimension 'Q'"),
        ("  spatial_mapping_hint:\n    D2: [K, ZZ]\n", "default.spatial_mapping_hint.D2", "unknown layer dimension 'ZZ'"),
        ("  spatial_mapping:\n    D3: ['K, 4']\n", "default.spatial_mapping.D3", "has no array dimension D3"),
        ("  spatial_mapping:\n    D1: ['K, 64']\n", "default.spatial_mapping.D1", "unroll factor 64 of K exceeds the size 32 of D1"),
        ("  spatial_mapping:\n    D2: ['K, 8', 'C, 8']\n", "default.spatial_mapping.D2", "multiply to 64, more than the size 32"),
    ],
)
def test_bad_input(tmp_path: Path, body: str, field: str, problem: str) -> None:
    path, entry = _entry(tmp_path, body)
    with pytest.raises(InputError) as err:
        generate_spatial_mappings(CONV, _tpu(), entry, path=path)
    assert err.value.path == str(path)
    assert err.value.field == field
    assert problem in err.value.problem
    assert "\n" not in str(err.value)


def test_dims_of_other_layers_are_dropped(tmp_path: Path) -> None:
    """A shared entry may name standard dims this layer lacks (B, G, D, OY ...) and hint array dims the
    accelerator lacks: ZigZag drops them silently, so do we."""
    path, entry = _entry(
        tmp_path, "  spatial_mapping:\n    D1: ['K, 8', 'G, 4']\n  spatial_mapping_hint:\n    D2: [OY, D]\n    D4: [K]\n"
    )
    got = generate_spatial_mappings(CONV, _tpu(), entry, nb_mappings=1, path=path)
    # D2's hint names no dim of this layer: all layer dims are candidates; C 8 and OX 8 tie on 64 + 7
    first = next(d for d in set_order(list(CONV.loop_sizes), "LayerDim") if d in ("C", "OX"))
    assert [sm.as_dict() for sm in got] == [{"D1": {"K": 8}, "D2": {first: 8}}]


def test_workload_dims_are_known(tmp_path: Path) -> None:
    """Dims of other layers of the workload (e.g. a GEMM's D0) are dropped once passed as ``workload_dims``."""
    path, entry = _entry(tmp_path, "  spatial_mapping:\n    D1: ['D0, 8']\n    D2: ['C, 8']\n")
    with pytest.raises(InputError, match="unknown layer dimension 'D0'"):
        generate_spatial_mappings(CONV, _tpu(), entry, path=path)
    got = generate_spatial_mappings(CONV, _tpu(), entry, path=path, workload_dims=["D0", "D1", "D2"])
    assert [sm.as_dict() for sm in got] == [{"D1": {}, "D2": {"C": 8}}]


def test_nb_mappings_must_be_positive() -> None:
    with pytest.raises(ValueError):
        generate_spatial_mappings(CONV, _tpu(), MappingConstraints(), nb_mappings=0)
