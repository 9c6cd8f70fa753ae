"""The exact CP-SAT engine: its optimum equals the exhaustive enumeration's on every small case, its
objective equals the cost model's value of the returned mapping on every solve, it is never worse than
LOMA or ZigZag, and it says "optimal" only for proven energy optima."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st
from test_exhaustive import LINKS, NO_MERGE, RANDOM_CONV, _acc, _cases, _conv

from cpmap.api import load_problem
from cpmap.cost.model import LayerContext, check_temporal, evaluate_temporal, prepare
from cpmap.engines.base import EngineOptions
from cpmap.cost.capacity import capacity_violations
from cpmap.engines.cpsat import cpsat
from cpmap.engines.exhaustive import exhaustive, search_space
from cpmap.engines.loma import loma_temporal
from cpmap.mapping import SpatialMapping

ROOT = Path(__file__).resolve().parents[1]
FIXTURES = ROOT / "tests/fixtures/zigzag391"


def _rel(a: float, b: float) -> float:
    return abs(a - b) / max(1.0, abs(b))


def _assert_exact(ctx: LayerContext, r, objective: str = "energy") -> None:
    """Proven optimal, valid, and the solver's own energy and latency are the cost model's for the mapping."""
    assert r.status == "optimal", r.message
    check_temporal(ctx, r.temporal)
    assert capacity_violations(ctx, r.temporal) == []
    again = evaluate_temporal(ctx, r.temporal)
    assert (again.energy, again.latency) == (r.cost.energy, r.cost.latency)
    assert r.objective_value == r.bound == {"energy": again.energy, "latency": again.latency, "edp": again.energy * again.latency}[objective]
    assert _rel(r.stats["solver_energy"], again.energy) <= 1e-9
    if "solver_latency" in r.stats:
        assert _rel(r.stats["solver_latency"], again.latency) <= 1e-9


def test_equals_exhaustive_on_the_fixed_cases(tmp_path: Path):
    for name, ctx in _cases(tmp_path).items():
        ex = exhaustive(ctx, EngineOptions(max_space=10**7))
        r = cpsat(ctx, EngineOptions())
        if ex.status == "infeasible":
            assert r.status == "infeasible", name
            continue
        _assert_exact(ctx, r)
        assert _rel(r.cost.energy, ex.cost.energy) <= 1e-9, (name, r.cost.energy, ex.cost.energy)


def test_toy_optimum_is_1300():
    from test_exhaustive import _toy

    r = cpsat(_toy(), EngineOptions())
    _assert_exact(_toy(), r)
    assert r.cost.energy == 1300


@settings(max_examples=40, derandomize=True, deadline=None, suppress_health_check=list(HealthCheck))
@given(**RANDOM_CONV, unroll=st.sampled_from([4, 3, 2]))
def test_random_layers_equal_exhaustive(k, c, ox, fx, stride, in_prec, hw, spatial_dim, unroll):
    sizes = {"K": k, "C": c, "OX": ox, "FX": fx}
    assume(unroll <= sizes[spatial_dim])  # non-divisors allowed: fractional unrolling
    ctx = prepare(_conv(sizes, stride, in_prec), _acc(hw), SpatialMapping.from_dict({"D1": {spatial_dim: unroll}}), LINKS)
    assume(search_space(ctx).total <= 60_000)
    ex = exhaustive(ctx, EngineOptions())
    r = cpsat(ctx, EngineOptions())
    if ex.status == "infeasible":
        assert r.status == "infeasible"
        return
    _assert_exact(ctx, r)
    assert _rel(r.cost.energy, ex.cost.energy) <= 1e-9
    loma = loma_temporal(ctx, "energy", NO_MERGE)
    if loma.cost is not None:
        assert r.cost.energy <= loma.cost.energy * (1 + 1e-12)


MAPPING_FILE = {"meta_prototype": "meta_prototype_like"}


def _resnet_ctx(acc: str, index: int):
    mp = MAPPING_FILE.get(acc, acc)
    problem = load_problem(ROOT / "models/networks/resnet18.onnx", ROOT / f"models/accelerators/{acc}.yaml", ROOT / f"models/mappings/{mp}.yaml")
    layers = {lay.name: lay for lay in problem.layers}
    entry = json.loads((FIXTURES / f"{acc}__resnet18__energy.json").read_text())["layers"][index]
    layer = layers[entry["name"]]
    spatial = SpatialMapping.from_dict(entry["mapping"]["spatial"])
    return prepare(layer, problem.accelerator, spatial, problem.constraints(layer).operand_links), entry


@pytest.mark.parametrize("acc,index", [("tpu_like", 0), ("tpu_like", 20), ("tesla_npu_like", 3), ("meta_prototype", 7), ("edge_tpu_like", 11)])
def test_resnet_layers_optimal_and_never_worse_than_zigzag(acc: str, index: int):
    ctx, entry = _resnet_ctx(acc, index)
    r = cpsat(ctx, EngineOptions())
    _assert_exact(ctx, r)
    assert r.cost.energy <= entry["results"]["energy_total"] * (1 + 1e-12)


def test_strictly_better_than_zigzag_on_tpu_like_layer4():
    """layer4.0/conv2 on tpu_like: ZigZag's LOMA 238,190,... pJ, the proven optimum is lower."""
    problem = load_problem(ROOT / "models/networks/resnet18.onnx", ROOT / "models/accelerators/tpu_like.yaml", ROOT / "models/mappings/tpu_like.yaml")
    entries = json.loads((FIXTURES / "tpu_like__resnet18__energy.json").read_text())["layers"]
    entry = next(e for e in entries if e["name"] == "/layer4/layer4.0/conv2/Conv")
    layer = next(lay for lay in problem.layers if lay.name == entry["name"])
    ctx = prepare(layer, problem.accelerator, SpatialMapping.from_dict(entry["mapping"]["spatial"]), problem.constraints(layer).operand_links)
    r = cpsat(ctx, EngineOptions())
    _assert_exact(ctx, r)
    assert r.cost.energy < entry["results"]["energy_total"] * (1 - 1e-4)


def test_deterministic_and_latency_proven_never_above_loma():
    ctx, _ = _resnet_ctx("tpu_like", 20)
    a = cpsat(ctx, EngineOptions())
    b = cpsat(ctx, EngineOptions())
    assert a.temporal == b.temporal and (a.cost.energy, a.cost.latency) == (b.cost.energy, b.cost.latency)
    lat = cpsat(ctx, EngineOptions(objective="latency"))
    _assert_exact(ctx, lat, "latency")
    assert lat.cost.latency <= loma_temporal(ctx, "latency", 6).cost.latency


def test_cutoff_prunes_with_a_proof():
    ctx, _ = _resnet_ctx("tpu_like", 20)
    best = cpsat(ctx, EngineOptions())
    pruned = cpsat(ctx, EngineOptions(cutoff=best.cost.energy * 0.99))
    assert pruned.status == "pruned" and pruned.bound == best.cost.energy * 0.99
    tie = cpsat(ctx, EngineOptions(cutoff=best.cost.energy))
    assert tie.status == "optimal" and tie.cost.energy == best.cost.energy


# ---------------------------------------------------------------------------------------------------------
# the MILP backend (Pyomo + HiGHS) on the same formulation
# ---------------------------------------------------------------------------------------------------------


def test_milp_equals_exhaustive_and_cpsat_on_the_fixed_cases(tmp_path: Path):
    from cpmap.engines.milp import milp

    for name, ctx in _cases(tmp_path).items():
        ex = exhaustive(ctx, EngineOptions(max_space=10**7))
        r = milp(ctx, EngineOptions())
        if ex.status == "infeasible":
            assert r.status == "infeasible", name
            continue
        _assert_exact(ctx, r)
        assert _rel(r.cost.energy, ex.cost.energy) <= 1e-9, (name, r.cost.energy, ex.cost.energy)


@pytest.mark.parametrize("acc,index", [("tpu_like", 1), ("ascend_like", 20), ("edge_tpu_like", 7)])
def test_milp_equals_cpsat_on_resnet_layers(acc: str, index: int):
    from cpmap.engines.milp import milp

    ctx, _ = _resnet_ctx(acc, index)
    a = milp(ctx, EngineOptions())
    b = cpsat(ctx, EngineOptions())
    _assert_exact(ctx, a)
    _assert_exact(ctx, b)
    assert _rel(a.cost.energy, b.cost.energy) <= 1e-9


def test_time_limit_gives_a_mapping_with_a_proven_bound():
    """A time limit far too short to prove anything: still a mapping (the solver's incumbent or LOMA's),
    status feasible unless proven, and a bound never above the value."""
    ctx, _ = _resnet_ctx("meta_prototype", 7)
    r = cpsat(ctx, EngineOptions(time_limit=0.001))
    assert r.status in ("unknown", "feasible", "optimal")
    if r.status == "unknown":  # no solution yet: never "infeasible", and the driver maps it with LOMA
        assert r.cost is None and (r.bound is None or r.bound <= loma_temporal(ctx, "energy", 6).cost.energy)
        return
    assert r.cost is not None and r.bound is not None and r.bound <= r.objective_value
    again = evaluate_temporal(ctx, r.temporal)
    assert again.energy == r.cost.energy


def test_same_mappings_for_any_jobs():
    """Determinism: the exact engine gives the same mapping and cost with 1 or 2 processes."""
    from cpmap.solve import SolveOptions, solve_problem

    problem = load_problem(ROOT / "models/networks/resnet18.onnx", ROOT / "models/accelerators/tpu_like.yaml", ROOT / "models/mappings/tpu_like.yaml")
    names = ["/layer2/layer2.0/downsample/downsample.0/Conv", "/layer4/layer4.0/downsample/downsample.0/Conv", "/fc/Gemm"]
    runs = [solve_problem(problem, SolveOptions(engine="cpsat", jobs=j), names) for j in (1, 2)]
    for a, b in zip(*(r.layers for r in runs)):
        assert a.status == b.status == "optimal"
        assert a.mapping.temporal == b.mapping.temporal and a.mapping.spatial == b.mapping.spatial
        assert a.cost.energy == b.cost.energy and a.cost.latency == b.cost.latency
