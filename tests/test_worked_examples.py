"""The worked examples of spec cost_model.md (sections 3-6) and the small cases of spec/examples, with the
exact numbers of ZigZag 3.9.1's dumps."""

from __future__ import annotations

import ast
import re
from pathlib import Path

import pytest

from cpmap.api import load_problem, mapping_from_yaml
from cpmap.cost.model import evaluate, evaluate_temporal, prepare, reduce_ordered
from cpmap.engines.allocator import allocate
from cpmap.mapping import TemporalMapping

EXAMPLES = Path(__file__).resolve().parent / "fixtures" / "spec_examples"


def _dump_origin(dump: str) -> dict[str, list[list[tuple[str, int]]]]:
    text = (EXAMPLES / dump).read_text()
    origin = re.search(r"temporal mapping origin (.*)", text).group(1)
    return ast.literal_eval(re.sub(r"\b([A-Z]+)\b", r"'\1'", origin))


def _dump_number(dump: str, key: str) -> float:
    return float(re.search(rf"{key} (\S+)", (EXAMPLES / dump).read_text()).group(1))


# (hardware, workload, mapping, dump, energy, latency_total0, latency_total1, latency_total2)
CASES = [
    ("toy/hw.yaml", "toy/wl.yaml", "toy/map.yaml", "toy_runs_391/toy2level.out.txt", 1362, 62, 68, 69),
    ("toy/hw3.yaml", "toy/wl.yaml", "toy/map.yaml", "toy_runs_391/toy3level.out.txt", 5400, 102, 144, 149),
    ("toy/hw2d.yaml", "toy/wl.yaml", "toy/map2d.yaml", "toy_runs_391/toy2d_pr_spatial.out.txt", 940, 91, 97, 98),
    ("toy/hw.yaml", "toy/wl10.yaml", "toy/map10.yaml", "toy_runs_391/toy_greedy_K10.out.txt", 3160, 190, 196, 197),
    ("toy/hw.yaml", "toy/wl.yaml", "toy/map_ox.yaml", "toy_runs_391/toy_ox_inner.out.txt", 2178, 94, 100, 101),
    ("toy/hw_shared.yaml", "toy/wl.yaml", "toy/map.yaml", "toy_runs_391/toy_shared_rf.out.txt", 1392, 94, 98, 99),
    ("cases/hw_fdb.yaml", "toy/wl.yaml", "toy/map.yaml", "cases/fdb_391.out.txt", 1686, 65, 71, 72),
]


@pytest.mark.parametrize("hw, wl, mp, dump, energy, lat0, lat1, lat2", CASES, ids=[c[3].split("/")[-1] for c in CASES])
def test_dump_cases_end_to_end(hw, wl, mp, dump, energy, lat0, lat1, lat2):
    """Mapping YAML (spatial + full ordering) -> allocator -> cost model gives ZigZag's split and numbers."""
    problem = load_problem(EXAMPLES / wl, EXAMPLES / hw, EXAMPLES / mp)
    layer = problem.layers[0]
    mapping = mapping_from_yaml(problem, layer)
    origin = _dump_origin(dump)
    expected = TemporalMapping.from_levels(origin, [x for lv in origin["O"] for x in lv])
    assert mapping.temporal.cuts == expected.cuts
    cost = evaluate(layer, problem.accelerator, mapping)
    assert cost.energy == energy == _dump_number(dump, r"mem \S+ total")
    assert (cost.latency_total0, cost.latency_total1, cost.latency) == (lat0, lat1, lat2)
    assert cost.latency == _dump_number(dump, "lat2")
    assert not cost.zigzag_failures


def test_toy_2level_breakdown_section_4_6():
    """Section 4.6 / 5.3 / 6.6: word counts, energies per operand and level, stall 14, onload 6, offload 1."""
    problem = load_problem(EXAMPLES / "toy/wl.yaml", EXAMPLES / "toy/hw.yaml", EXAMPLES / "toy/map.yaml")
    layer = problem.layers[0]
    cost = evaluate(layer, problem.accelerator, mapping_from_yaml(problem, layer))
    w = cost.word_accesses
    assert w["O"]["o_reg"] == {"rd_down": 192, "wr_up": 192, "rd_up": 64, "wr_down": 64}
    assert w["O"]["gb"] == {"rd_down": 16, "wr_up": 16, "rd_up": 0, "wr_down": 0}
    assert w["W"]["w_reg"]["rd_down"] == 192 and w["W"]["w_reg"]["wr_down"] == 48
    assert w["W"]["gb"]["rd_down"] == 6
    assert w["I"]["i_reg"]["rd_down"] == 48 and w["I"]["i_reg"]["wr_down"] == 24
    assert w["I"]["gb"]["rd_down"] == 3
    e = cost.energy_breakdown
    assert (e["O"]["o_reg"], e["O"]["gb"], e["W"]["w_reg"], e["W"]["gb"], e["I"]["i_reg"], e["I"]["gb"]) == (512, 352, 240, 60, 72, 30)
    assert cost.mac_energy == 96 and cost.mem_energy == 1266
    assert cost.stall_slack == 14 and cost.onloading == 6 and cost.offloading == 1
    assert cost.double_buffered == {"O": [False, False, True], "W": [False, False, True], "I": [False, False, True]}


def test_toy_3level_one_shot_loading_section_6_7():
    problem = load_problem(EXAMPLES / "toy/wl.yaml", EXAMPLES / "toy/hw3.yaml", EXAMPLES / "toy/map.yaml")
    layer = problem.layers[0]
    cost = evaluate(layer, problem.accelerator, mapping_from_yaml(problem, layer))
    assert (cost.stall_slack, cost.onloading, cost.offloading, cost.latency) == (54, 42, 5, 149)


@pytest.mark.parametrize(
    "hw, mp, drain, lat2",
    [("cases/hw_sys.yaml", "toy/map.yaml", 3, 72), ("cases/hw2d_sys.yaml", "toy/map2d.yaml", 5, 103)],
)
def test_systolic_drain_section_6_5(hw, mp, drain, lat2):
    problem = load_problem(EXAMPLES / "toy/wl.yaml", EXAMPLES / hw, EXAMPLES / mp)
    layer = problem.layers[0]
    cost = evaluate(layer, problem.accelerator, mapping_from_yaml(problem, layer))
    assert cost.systolic_drain == drain and cost.latency == lat2


def test_capacity_limiting_section_8_4_step_6():
    """64-bit I register: OX4 x FX3 = 12 > 8 elements -> OX 3, FX 2 -> fractional OX 2.0, FX 1.5; 1229 / 90."""
    problem = load_problem(EXAMPLES / "toy/wl.yaml", EXAMPLES / "cases/hw2d_ireg64.yaml", EXAMPLES / "toy/map2d.yaml")
    layer = problem.layers[0]
    from cpmap.api import fixed_spatial

    spatial = fixed_spatial(problem, layer, problem.constraints(layer))
    assert spatial.as_dict() == {"D1": {"OX": 3}, "D2": {"FX": 2}}
    ctx = prepare(layer, problem.accelerator, spatial, problem.constraints(layer).operand_links)
    assert ctx.spatial_frac == {"D1": [("OX", 2.0)], "D2": [("FX", 1.5)]}
    # ZigZag's LOMA picks this order for the layer (dump of scripts/dump.py on the case)
    tm = allocate(ctx, (("C", 4), ("K", 4), ("OX", 2), ("FX", 2)))
    cost = evaluate_temporal(ctx, tm)
    assert (cost.energy, cost.latency) == (1229, 90)


def test_reduce_ordered_assertion_case_is_flagged_not_crashed():
    """ZigZag 3.9.1 aborts with AssertionError here (spec 6.5); cpmap returns the value and flags it."""
    problem = load_problem(EXAMPLES / "cases/wl_assert.yaml", EXAMPLES / "cases/hw_assert.yaml", EXAMPLES / "cases/map_assert.yaml")
    layer = problem.layers[0]
    cost = evaluate(layer, problem.accelerator, mapping_from_yaml(problem, layer))
    assert "AssertionError" in (EXAMPLES / "cases/assert_391.out.txt").read_text()
    assert cost.energy == 2816
    assert any("reduce_ordered" in f for f in cost.zigzag_failures)


@pytest.mark.parametrize(
    "costs, minima, surplus, expected",
    [
        ([6, 12, 4], [2, 1, 1], 102, [2, 1, 1]),
        ([10, 6, 3], [2, 2, 1], 9, [2, 5, 3]),
        ([256, 256, 256], [256, 256, 1], 8190, [256, 256, 1]),
        ([12, 6, 4], [1, 2, 1], 0, [12, 6, 4]),
    ],
)
def test_reduce_ordered_examples_section_6_5(costs, minima, surplus, expected):
    assert reduce_ordered(costs, minima, surplus)[0] == expected


def test_port_union_example_section_6_4():
    from cpmap.cost.model import window_union as _window_union

    # (P, allowed, n, SS, MUW): A (4, 1, 12) and B (12, 3, 4) -> 5 marked slots x 4 periods
    acts = [(4, 1, 12, 11, 11), (12, 3, 4, -6, 9)]
    assert _window_union(acts) == 20


def test_port_union_matches_slot_marking_on_nested_periods():
    """The nested-period count equals marking every slot (the definition), on random nested periods."""
    import random

    from cpmap.cost.model import window_union as _window_union

    rng = random.Random(1)
    checked = 0
    for _ in range(2000):
        prefix = [1]
        for b in (rng.choice([2, 3, 4, 5, 7]) for _ in range(rng.randint(1, 5))):
            prefix.append(prefix[-1] * b)
        acts = []
        for _ in range(rng.randint(2, 5)):
            p = rng.choice(prefix[1:])
            acts.append((p, rng.randint(0, p - 1), rng.randint(1, 9), 0, 0))
        p_max = max(a[0] for a in acts)
        n_max = next(a[2] for a in acts if a[0] == p_max)
        slots = sum(1 for t in range(p_max) if any(t % p < a for p, a, *_ in acts))
        assert _window_union(acts) == slots * n_max
        checked += 1
    assert checked == 2000
