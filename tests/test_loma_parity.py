"""LOMA's temporal search against ZigZag 3.9.1's LOMA: for each ResNet-18 layer, with the spatial mapping
ZigZag chose and the same objective and lpf limit (6), cpmap's LOMA finds a mapping of the same cost."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

import zigzag  # noqa: F401 (the test extra installs it)
import zigzag  # noqa: E402
import zigzag_oracle as zo  # noqa: E402

from cpmap.api import load_problem  # noqa: E402
from cpmap.cost.model import prepare  # noqa: E402
from cpmap.engines.loma import loma_temporal  # noqa: E402
from cpmap.mapping import SpatialMapping  # noqa: E402

ZZ = Path(zigzag.__file__).parent
FIXTURES = sorted((Path(__file__).parent / "fixtures" / "zigzag391").glob("*__resnet18__*.json"))


@pytest.mark.parametrize("path", FIXTURES, ids=[p.stem for p in FIXTURES])
def test_loma_same_cost_as_zigzag_loma(path: Path):
    fx = json.loads(path.read_text())
    objective = fx["opt"]
    problem = load_problem(
        ZZ / "inputs/workload/resnet18.onnx",
        zo.cpmap_readable(ZZ / fx["hardware_yaml"].removeprefix("zigzag/")),
        ZZ / fx["mapping_yaml"].removeprefix("zigzag/"),
    )
    layers = {layer.name: layer for layer in problem.layers}
    for entry in fx["layers"]:
        layer = layers[entry["name"]]
        ctx = prepare(layer, problem.accelerator, SpatialMapping.from_dict(entry["mapping"]["spatial"]), entry["operand_links"])
        best = loma_temporal(ctx, objective, lpf_limit=6).cost
        ref = entry["results"]
        primary, ref_primary = (best.energy, ref["energy_total"]) if objective == "energy" else (best.latency, ref["latency_total2"])
        assert abs(primary - ref_primary) <= 1e-9 * ref_primary, (entry["name"], primary, ref_primary)
