"""Differential test: random valid mappings costed by cpmap and by zigzag-dse 3.9.1's cost model in the same
run; energy and latency must agree to a relative 1e-9.

Mappings are drawn by hypothesis over the five digital example accelerators and every ResNet-18 layer:
spatial mappings from ZigZag's own choices or random (non-divisor factors included, which exercises the
fractional/integer unrolling split), random orders of the prime temporal factors, and per-operand level
splits either from the allocator or random (kept only when every memory holds its tiles).
"""

from __future__ import annotations

import json
import math
from pathlib import Path

import pytest

import hypothesis
import zigzag  # noqa: F401 (the test extra installs it)
from hypothesis import HealthCheck, assume, given, settings  # noqa: E402
from hypothesis import strategies as st  # noqa: E402

import zigzag_oracle as zo  # noqa: E402
from cpmap.api import load_problem  # noqa: E402
from cpmap.cost.model import evaluate_temporal, prepare  # noqa: E402
from cpmap.engines.allocator import AllocationError, allocate  # noqa: E402
from cpmap.cost.capacity import capacity_violations  # noqa: E402
from cpmap.engines.loma import prime_factors  # noqa: E402
from cpmap.mapping import SpatialMapping, TemporalMapping  # noqa: E402
from cpmap.spatial_generation import limit_by_capacity  # noqa: E402

ZZ = Path(zo.zigzag_dir()) / "inputs"
ACCELERATORS = [
    ("tpu_like", "tpu_like.yaml", "tpu_like.yaml"),
    ("edge_tpu_like", "edge_tpu_like.yaml", "edge_tpu_like.yaml"),
    ("meta_prototype", "meta_prototype.yaml", "meta_prototype_like.yaml"),
    ("ascend_like", "ascend_like.yaml", "ascend_like.yaml"),
    ("tesla_npu_like", "tesla_npu_like.yaml", "tesla_npu_like.yaml"),
]
FIXTURES = Path(__file__).parent / "fixtures" / "zigzag391"
N_EXAMPLES = int(__import__("os").environ.get("CPMAP_DIFF_EXAMPLES", "1000"))
_cache: dict = {}
STATS = {"compared": 0, "fractional": 0, "random_cuts": 0, "max_rel_energy": 0.0, "max_rel_latency": 0.0}


def _problem(acc: int):
    key = ("problem", acc)
    if key not in _cache:
        name, hw, mp = ACCELERATORS[acc]
        problem = load_problem(ZZ / "workload" / "resnet18.onnx", zo.cpmap_readable(ZZ / "hardware" / hw), ZZ / "mapping" / mp)
        zz_layers = zo.zigzag_layers_from_onnx(str(ZZ / "workload" / "resnet18.onnx"), str(ZZ / "mapping" / mp))
        chosen = {}
        for f in sorted(FIXTURES.glob(f"{name}__resnet18__*.json")):
            for entry in json.loads(f.read_text())["layers"]:
                chosen.setdefault(entry["name"], []).append(entry["mapping"]["spatial"])
        _cache[key] = (problem, zz_layers, chosen, str(ZZ / "hardware" / hw))
    return _cache[key]


@st.composite
def mappings(draw):
    acc = draw(st.integers(0, len(ACCELERATORS) - 1))
    problem, zz_layers, chosen, hw = _problem(acc)
    layer = problem.layers[draw(st.integers(0, len(problem.layers) - 1))]
    links = problem.constraints(layer).operand_links
    array = problem.accelerator.array
    if draw(st.booleans()) and chosen.get(layer.name):
        spatial = draw(st.sampled_from(chosen[layer.name]))
    else:
        spatial, used = {}, {}
        dims = [d for d, s in layer.loop_sizes.items() if s > 1]
        for ad, size in zip(array.dimensions, array.sizes):
            ld = draw(st.sampled_from(dims))
            room = layer.loop_sizes[ld] // used.get(ld, 1)
            f = draw(st.integers(1, max(1, min(size, room))))
            used[ld] = used.get(ld, 1) * f
            spatial[ad] = {ld: f}
    sm = limit_by_capacity(layer, problem.accelerator, SpatialMapping.from_dict(spatial), links)
    ctx = prepare(layer, problem.accelerator, sm, links)
    lpfs = [(d, p) for d, s in ctx.temporal_sizes.items() for p in prime_factors(s)]
    order = tuple(draw(st.permutations(lpfs)))
    try:
        tm = allocate(ctx, order)
    except AllocationError:
        tm = TemporalMapping(order, {o.name: (0,) * (len(o.chain) - 1) + (len(order),) for o in ctx.operands})
    random_cuts = draw(st.booleans())
    if random_cuts:
        cuts = {}
        for o in ctx.operands:
            # below the allocator's cuts (fewer loops in the lower levels) or anywhere at random
            base = tm.cuts[o.name][:-1]
            if draw(st.booleans()):
                inner = sorted(draw(st.integers(0, c)) for c in base)
            else:
                inner = sorted(draw(st.lists(st.integers(0, len(order)), min_size=len(base), max_size=len(base))))
            cuts[o.name] = tuple(inner) + (len(order),)
        candidate = TemporalMapping(order, cuts)
        if not capacity_violations(ctx, candidate):
            tm = candidate
        else:
            random_cuts = False
    assume(not capacity_violations(ctx, tm))
    return acc, layer, sm, ctx, tm, zz_layers[layer.name], hw, random_cuts


def _rel(a: float, b: float) -> float:
    return abs(a - b) / max(abs(b), 1e-300)


@settings(max_examples=N_EXAMPLES, deadline=None, derandomize=True, suppress_health_check=list(HealthCheck))
@given(mappings())
def test_random_mappings_match_zigzag(case):
    acc, layer, sm, ctx, tm, zz_layer, hw, random_cuts = case
    ours = evaluate_temporal(ctx, tm)
    key = ("zz", acc, layer.name, sm)
    if key not in _cache:
        _cache[key] = zo.ZigzagLayerContext(hw, zz_layer, sm.as_dict(), ctx.links)
    zctx = _cache[key]
    levels = {o: [tm.level_of_loop(o, k) for k in range(len(tm.loops))] for o in tm.cuts}
    try:
        ref = zctx.evaluate(list(tm.loops), levels)
    except AssertionError:
        # ZigZag's reduce_ordered assertion (spec 6.5): cpmap must flag the same case
        assert any("reduce_ordered" in f for f in ours.zigzag_failures)
        return
    STATS["compared"] += 1
    STATS["fractional"] += not ctx.same_spatial_variants
    STATS["random_cuts"] += random_cuts
    re_, rl = _rel(ours.energy, ref["energy_total"]), _rel(ours.latency, ref["latency_total2"])
    STATS["max_rel_energy"] = max(STATS["max_rel_energy"], re_)
    STATS["max_rel_latency"] = max(STATS["max_rel_latency"], rl)
    assert re_ <= 1e-9, (layer.name, sm, tm, ours.energy, ref["energy_total"])
    assert rl <= 1e-9, (layer.name, sm, tm, ours.latency, ref["latency_total2"])
    assert not ours.zigzag_failures


def test_differential_coverage():
    """Runs after the hypothesis test (file order): enough mappings were really compared."""
    print("differential stats:", STATS)
    assert STATS["compared"] >= N_EXAMPLES * 0.9
    assert STATS["fractional"] > 0 and STATS["random_cuts"] > 0
    assert math.isfinite(STATS["max_rel_energy"])
