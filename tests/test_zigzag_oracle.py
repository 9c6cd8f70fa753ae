"""The ZigZag oracle (tests/zigzag_oracle.py) reproduces ZigZag's own results.

* Every layer of every fixture in tests/fixtures/zigzag391/ (the mapping ZigZag's search chose) re-evaluated
  through ``zigzag_cost`` gives exactly (``==``) the fixture's energy and latencies.
* The toy example of the spec (examples/toy: hw.yaml, wl.yaml, map.yaml) gives energy 1362 and latency 69.

Skipped when zigzag-dse is not installed.
"""

from __future__ import annotations

import os
from pathlib import Path
import sys

import pytest

import zigzag  # noqa: F401 (the test extra installs it)

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import zigzag_oracle as zo  # noqa: E402

TOY = str(Path(__file__).resolve().parent / "fixtures/spec_examples/toy")

FIXTURES = zo.fixture_paths()
assert FIXTURES, "tests/fixtures/zigzag391 is part of the repository"
EXACT_KEYS = (
    "energy_total",
    "mac_energy",
    "mem_energy",
    "latency_total0",
    "latency_total1",
    "latency_total2",
    "ideal_cycle",
    "data_onloading_cycle",
    "data_offloading_cycle",
    "systolic_drain_cycle",
    "stall_slack_comb",
    "mem_energy_breakdown",
)


def _fixture_cases() -> list[tuple[str, int]]:
    cases = []
    for path in FIXTURES:
        fx = zo.load_fixture(path)
        cases += [(path, i) for i in range(len(fx["layers"]))]
    return cases


@pytest.mark.parametrize("path", FIXTURES, ids=[os.path.basename(p)[:-5] for p in FIXTURES])
def test_fixture_layers_reproduced(path: str) -> None:
    fx = zo.load_fixture(path)
    layers = zo.zigzag_layers_from_onnx(zo.zigzag_path(fx["workload"]), zo.zigzag_path(fx["mapping_yaml"]))
    hw = zo.zigzag_path(fx["hardware_yaml"])
    e_sum = 0.0
    l_sum = 0.0
    for rec in fx["layers"]:
        spatial, loops, levels, links = zo.fixture_layer_args(rec)
        res = zo.zigzag_cost(hw, layers[rec["name"]], spatial, loops, levels, links)
        for key in EXACT_KEYS:
            assert res[key] == rec["results"][key], (rec["name"], key, res[key], rec["results"][key])
        e_sum += res["energy_total"]
        l_sum += res["latency_total2"]
    # Layer results summed in network order give the API totals exactly.
    assert e_sum == fx["totals"]["energy"]
    assert l_sum == fx["totals"]["latency"]


def test_fixture_level_lists_roundtrip() -> None:
    """The fixture's ``temporal`` list and its ``temporal_levels`` describe the same split."""
    fx = zo.load_fixture(FIXTURES[0])
    for rec in fx["layers"]:
        _, loops, levels, _ = zo.fixture_layer_args(rec)
        for op, lists in rec["temporal_levels"].items():
            lp, lv = zo.level_lists_to_levels(lists)
            assert lp == loops and lv == levels[op]
            assert zo.levels_to_level_lists(loops, levels[op], len(lists)) == [[tuple(x) for x in l] for l in lists]


def test_context_allocator_and_loop_sizes_match_fixture() -> None:
    """ZigZag's allocator on the fixture's loop order gives back the fixture's split (it is LOMA's output)."""
    fx = zo.load_fixture(FIXTURES[0])
    for rec in fx["layers"][:5]:
        ctx = zo.fixture_context(fx, rec)
        _, loops, levels, _ = zo.fixture_layer_args(rec)
        assert ctx.allocate(loops) == levels
        sizes: dict[str, int] = {}
        for d, s in loops:
            sizes[d] = sizes.get(d, 1) * s
        assert ctx.temporal_loop_sizes() == sizes


def test_toy_example() -> None:
    layer = zo.zigzag_layer_from_yaml(f"{TOY}/wl.yaml", mapping_yaml_path=f"{TOY}/map.yaml")
    loops = [("FX", 3), ("OX", 4), ("C", 4)]
    # Split of toy_runs_391/toy2level.out.txt ("temporal mapping origin").
    levels = {"O": [0, 1, 1], "W": [0, 0, 1], "I": [0, 0, 1]}
    res = zo.zigzag_cost(f"{TOY}/hw.yaml", layer, {"D1": {"K": 4}}, loops, levels, {"O": "O", "W": "I2", "I": "I1"})
    assert res["energy_total"] == 1362
    assert res["latency_total2"] == 69
    assert res["latency_total0"] == 62 and res["latency_total1"] == 68
    assert res["mac_energy"] == 96 and res["mem_energy"] == 1266
    # The same through a layer-spec dict and a prepared context whose allocator finds that split itself.
    import yaml

    spec = yaml.safe_load(open(f"{TOY}/wl.yaml"))[0]
    ctx = zo.ZigzagLayerContext(f"{TOY}/hw.yaml", spec, {"D1": {"K": 4}})
    assert ctx.allocate(loops) == levels
    assert ctx.evaluate(loops, levels)["energy_total"] == 1362


def test_bad_level_sequence_rejected() -> None:
    with pytest.raises(ValueError):
        zo.levels_to_level_lists([("C", 2), ("K", 2)], [1, 0], 2)
    with pytest.raises(ValueError):
        zo.levels_to_level_lists([("C", 2)], [2], 2)
