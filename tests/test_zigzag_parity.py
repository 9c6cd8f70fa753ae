"""Parity with zigzag-dse 3.9.1 on ZigZag's own chosen mappings: every ResNet-18 layer on the digital example
accelerators, energy and latency to a relative 1e-9 (fixtures from scripts/gen_zigzag_fixtures.py)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from cpmap.api import load_problem
from cpmap.cost.model import evaluate
from cpmap.result import mapping_from_json

import zigzag  # noqa: F401 (the test extra installs it)
import zigzag  # noqa: E402
import zigzag_oracle as zo  # noqa: E402

ZZ = Path(zigzag.__file__).parent / "inputs"
FIXTURES = sorted((Path(__file__).parent / "fixtures" / "zigzag391").glob("*__resnet18__*.json"))
_PROBLEMS: dict[tuple[str, str], object] = {}


def _problem(fixture: dict):
    key = (fixture["hardware_yaml"], fixture["mapping_yaml"])
    if key not in _PROBLEMS:
        hw = ZZ.parent / fixture["hardware_yaml"].removeprefix("zigzag/")
        mp = ZZ.parent / fixture["mapping_yaml"].removeprefix("zigzag/")
        _PROBLEMS[key] = load_problem(ZZ / "workload" / "resnet18.onnx", zo.cpmap_readable(hw), mp)
    return _PROBLEMS[key]


def _rel(a: float, b: float) -> float:
    return abs(a - b) / max(abs(b), 1e-300)


def test_fixtures_present():
    accs = {p.name.split("__")[0] for p in FIXTURES}
    assert {"tpu_like", "edge_tpu_like", "meta_prototype", "ascend_like", "tesla_npu_like"} <= accs


@pytest.mark.parametrize("path", FIXTURES, ids=[p.stem for p in FIXTURES])
def test_resnet18_layers_match_zigzag(path: Path):
    fixture = json.loads(path.read_text())
    problem = _problem(fixture)
    layers = {layer.name: layer for layer in problem.layers}
    assert len(fixture["layers"]) == 21
    worst_e = worst_l = 0.0
    total_e = total_l = 0.0
    for i, entry in enumerate(fixture["layers"]):
        layer = layers[entry["name"]]
        mapping = mapping_from_json(entry["mapping"], problem.accelerator, entry["operand_links"], layer.operands, path, f"layers[{i}]")
        cost = evaluate(layer, problem.accelerator, mapping)
        ref = entry["results"]
        worst_e = max(worst_e, _rel(cost.energy, ref["energy_total"]))
        worst_l = max(worst_l, _rel(cost.latency, ref["latency_total2"]))
        assert _rel(cost.energy, ref["energy_total"]) <= 1e-9, (entry["name"], cost.energy, ref["energy_total"])
        assert _rel(cost.latency, ref["latency_total2"]) <= 1e-9, (entry["name"], cost.latency, ref["latency_total2"])
        total_e += cost.energy
        total_l += cost.latency
    assert _rel(total_e, fixture["totals"]["energy"]) <= 1e-9
    assert _rel(total_l, fixture["totals"]["latency"]) <= 1e-9
