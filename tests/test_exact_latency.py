"""The exact engine on latency, EDP, ZigZag's two tie rules and the Pareto front (issue 9).

* The latency model inside CP-SAT equals the cost model, mapping by mapping: sampled valid mappings are
  pinned in the model (their stationary chain tiles) and the model's energy and latency compared with
  ``evaluate_temporal`` on small random layers of accelerators that stress every latency term (narrow
  DRAM ports, small GBs with 8-bit ports, shared register files, an output top shared with other operands'
  levels, one port carrying every link, odd sizes with forced double buffering, fractional unrollings).
* The exact optima equal the enumeration's: one exhaustive enumeration per layer gives the
  energy-then-latency and latency-then-energy optima, the EDP optimum and the Pareto front; the CP-SAT Pareto
  walk must give the same front point for point, and the engine's latency and EDP results the same optima.
"""

from __future__ import annotations

import yaml
from fractions import Fraction
from pathlib import Path

import pytest
from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st
from ortools.sat.python import cp_model
from random_hardware import FAMILIES, hardware_yaml
from test_exhaustive import LINKS, _cases, _conv

from cpmap.cost.capacity import capacity_violations
from cpmap.cost.model import LayerContext, evaluate_temporal, prepare
from cpmap.engines.allocator import AllocationError, allocate
from cpmap.engines.base import EngineOptions
from cpmap.engines.cpsat import Deadline, cpsat, pareto_front
from cpmap.engines.cpsat_model import ChainModel
from cpmap.engines.exhaustive import exhaustive_temporal, search_space, temporal_factors
from cpmap.engines.loma import multiset_permutations
from cpmap.formulation import formulate
from cpmap.io.hardware_yaml import load_accelerator
from cpmap.mapping import SpatialMapping, TemporalMapping

_ACC: dict[tuple, object] = {}


def _accelerator(tmp: Path, family: str, reg: tuple[int, int, int], gb: int, gb_bw: int, dram_bw: int):
    key = (family, reg, gb, gb_bw, dram_bw)
    if key not in _ACC:
        path = tmp / f"hw_{len(_ACC)}.yaml"
        path.write_text(yaml.safe_dump(hardware_yaml(family, reg, gb, gb_bw, dram_bw), sort_keys=False))
        _ACC[key] = load_accelerator(path)
    return _ACC[key]


LAYERS = dict(
    family=st.sampled_from(FAMILIES),
    reg=st.tuples(st.sampled_from([8, 16, 32]), st.sampled_from([8, 16, 32, 64]), st.sampled_from([16, 32, 64])),
    gb=st.sampled_from([256, 1024, 4096]),
    gb_bw=st.sampled_from([8, 16, 64]),
    dram_bw=st.sampled_from([8, 16, 64]),
    k=st.sampled_from([2, 4, 8, 5, 6, 7, 10]),
    c=st.sampled_from([1, 2, 3, 4, 6]),
    ox=st.sampled_from([1, 2, 3, 4]),
    fx=st.sampled_from([1, 2, 3]),
    stride=st.sampled_from([1, 2]),
    in_prec=st.sampled_from([8, 4]),
    spatial_dim=st.sampled_from(["K", "C", "OX"]),
)


def _ctx(tmp: Path, family, reg, gb, gb_bw, dram_bw, k, c, ox, fx, stride, in_prec, spatial_dim) -> LayerContext:
    sizes = {"K": k, "C": c, "OX": ox, "FX": fx}
    # K in {5, 6, 7, 10} on 4 PEs: a fractional unrolling; otherwise the largest divisor up to 4
    unroll = 4 if spatial_dim == "K" and k in (5, 6, 7, 10) else next((f for f in (4, 3, 2) if sizes[spatial_dim] % f == 0), None)
    assume(unroll is not None)
    acc = _accelerator(tmp, family, reg, gb, gb_bw, dram_bw)
    return prepare(_conv(sizes, stride, in_prec), acc, SpatialMapping.from_dict({"D1": {spatial_dim: unroll}}), LINKS)


def _rel(a: float, b: float) -> float:
    return abs(a - b) / max(1.0, abs(b))


# ------------------------------------------------------------------------------------------------------------
# the model, mapping by mapping
# ------------------------------------------------------------------------------------------------------------


def _model_value(form, tiles) -> tuple[float, float] | None:
    model = ChainModel(form, latency=True)
    model.fix(tiles)
    lat = model.m.new_int_var(-(2**60), 2**60, "L")
    model.m.add(lat == model.latency)
    energy = model.m.new_int_var(-(2**60), 2**60, "E")
    model.m.add(energy == model.energy)
    solver = cp_model.CpSolver()
    solver.parameters.num_workers = 1
    if solver.solve(model.m) not in (cp_model.OPTIMAL, cp_model.FEASIBLE):
        return None
    return float(form.energy(solver.value(energy))), float(form.latency_cycles(solver.value(lat)))


STATS = {"mappings": 0, "stalled": 0}


@settings(max_examples=40, derandomize=True, deadline=None, suppress_health_check=list(HealthCheck))
@given(**LAYERS, picks=st.lists(st.tuples(st.integers(0, 10**6), st.booleans(), st.lists(st.integers(0, 12), min_size=9, max_size=9)), min_size=4, max_size=4))
def test_model_equals_cost_model_mapping_by_mapping(tmp_path_factory, picks, **layer):
    ctx = _ctx(tmp_path_factory.getbasetemp(), **layer)
    assume(ctx.temporal_sizes)
    form = formulate(ctx, latency=True)
    orders = list(multiset_permutations(temporal_factors(ctx)))
    for pick, greedy, cut_draws in picks:
        order = orders[pick % len(orders)]
        k = len(order)
        draws = iter(cut_draws)
        tm = TemporalMapping(order, {o.name: tuple(sorted(next(draws) % (k + 1) for _ in range(len(o.chain) - 1))) + (k,) for o in ctx.operands})
        if greedy:
            try:
                tm = allocate(ctx, order)
            except AllocationError:
                pass
        if capacity_violations(ctx, tm):
            continue
        value = _model_value(form, form.encode(tm))
        assert value is not None, f"the model rejects a valid mapping {tm}"
        cost = evaluate_temporal(ctx, tm)
        assert _rel(value[0], cost.energy) <= 1e-9, (tm, value, cost.energy)
        assert _rel(value[1], cost.latency) <= 1e-9, (tm, value, cost.latency, cost.stall_slack, cost.onloading, cost.offloading)
        STATS["mappings"] += 1
        STATS["stalled"] += cost.stall_slack > 0


def test_model_check_covered_stalls():
    assert STATS["mappings"] >= 60 and STATS["stalled"] >= 10, STATS


# ------------------------------------------------------------------------------------------------------------
# optima and fronts against the enumeration
# ------------------------------------------------------------------------------------------------------------


def _enumerate(ctx: LayerContext) -> list[tuple[float, float]]:
    out: list[tuple[float, float]] = []
    exhaustive_temporal(ctx, "energy", None, prune=False, visit=lambda tm, c: out.append((c.energy, c.latency)))
    return out


def _front(pairs: list[tuple[float, float]]) -> list[tuple[float, float]]:
    front: list[tuple[float, float]] = []
    for e, lat in sorted(pairs):
        if not front or lat < front[-1][1]:
            front.append((e, lat))
    return front


def _check_against_enumeration(ctx: LayerContext, engine_calls: bool) -> dict:
    pairs = _enumerate(ctx)
    form = formulate(ctx, latency=True)
    points, complete = pareto_front(form, Deadline(None))
    if not pairs:
        assert form.infeasible or (complete and not points)
        return {"points": 0}
    assert complete
    want = _front(pairs)
    got = [(p.cost.energy, p.cost.latency) for p in points]
    assert len(got) == len(want), (got, want)
    for (e1, l1), (e2, l2) in zip(got, want):
        assert _rel(e1, e2) <= 1e-9 and _rel(l1, l2) <= 1e-9, (got, want)
    for p in points:  # the model's own values are the cost model's
        assert _rel(float(p.energy), p.cost.energy) <= 1e-9 and _rel(float(p.latency), p.cost.latency) <= 1e-9
    # the front's ends are ZigZag's two lexicographic optima, its best product the EDP optimum
    assert want[0] == min(pairs)
    assert (want[-1][1], want[-1][0]) == min((lat, e) for e, lat in pairs)
    best_edp = min(e * lat for e, lat in pairs)
    assert _rel(min(e * lat for e, lat in got), best_edp) <= 1e-9
    if engine_calls:
        for objective, expected in (("energy", want[0]), ("latency", want[-1])):
            r = cpsat(ctx, EngineOptions(objective=objective))
            assert r.status == "optimal", r.message
            assert _rel(r.cost.energy, expected[0]) <= 1e-9 and _rel(r.cost.latency, expected[1]) <= 1e-9, (objective, r.cost, expected)
        r = cpsat(ctx, EngineOptions(objective="edp"))
        assert r.status == "optimal" and _rel(r.objective_value, best_edp) <= 1e-9
    return {"points": len(got)}


EVENTS = {"cases": 0, "multi_point_fronts": 0}


@settings(max_examples=150, derandomize=True, deadline=None, suppress_health_check=list(HealthCheck))
@given(**LAYERS, engine_calls=st.integers(0, 3))
def test_optima_and_front_equal_enumeration(tmp_path_factory, engine_calls, **layer):
    ctx = _ctx(tmp_path_factory.getbasetemp(), **layer)
    assume(ctx.temporal_sizes and search_space(ctx).total <= 30_000)
    out = _check_against_enumeration(ctx, engine_calls == 0)
    EVENTS["cases"] += 1
    EVENTS["multi_point_fronts"] += out["points"] > 1


def test_enumeration_cases_ran():
    assert EVENTS["cases"] >= 140 and EVENTS["multi_point_fronts"] >= 20, EVENTS


def test_spec_cases_equal_enumeration(tmp_path: Path):
    """The spec's toy cases (2 and 3 levels, shared register file, K10 fractional, 2-D, forced double buffering)."""
    for name, ctx in _cases(tmp_path).items():
        _check_against_enumeration(ctx, engine_calls=True)
