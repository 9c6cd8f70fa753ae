"""User temporal orderings (mapping-file ``temporal_ordering``) as ZigZag 3.9.1 reads them.

* ZigZag's own example mapping files that hold an ordering (tpu_like: a complete ordering for one layer; gemm_l1,
  gemm_l1_l3: a partial one) through ``solve --engine loma`` with ZigZag's settings: every layer and the totals
  equal ZigZag's (fixtures of ``scripts/gen_zigzag_ordering_fixtures.py``);
* LOMA's constrained space: the set of loop orders equals ZigZag's LomaEngine's, on random layers and orderings
  (run in the test);
* the exhaustive engine under a partial ordering (block rule): never above LOMA under the same ordering; its
  enumeration equals a filter of the unconstrained one; the exact engines refuse such a layer (``skipped``);
* a complete ordering is costed, not searched, by every engine (status ``fixed``).
"""

from __future__ import annotations

import json
import random
from pathlib import Path

import pytest
import yaml
from hypothesis import HealthCheck, event, given, settings
from hypothesis import strategies as st
from typer.testing import CliRunner

from cpmap.api import load_problem
from cpmap.cli import app
from cpmap.cost.model import prepare
from cpmap.engines.base import EngineOptions, objective_value
from cpmap.engines.cpsat import cpsat
from cpmap.engines.exhaustive import exhaustive, exhaustive_temporal, search_space
from cpmap.engines.loma import OrderingError, loma, loop_prime_factors, multiset_permutations
from cpmap.factors import prime_factors
from cpmap.io.hardware_yaml import load_accelerator
from cpmap.mapping import SpatialMapping
from cpmap.ordering import TemporalOrdering, constrained_orders, count_constrained_orders, ordering_for_layer
from cpmap.solve import SolveOptions, solve_problem
from cpmap.workload import Layer, Relation

ROOT = Path(__file__).resolve().parents[1]
FIX = ROOT / "tests/fixtures/zigzag391"
WORKLOADS = FIX / "workloads"
CASES = {  # case -> (accelerator, mapping, workload, lpf limit): as ZigZag's regression tests run them
    "tpu_like": ("tpu_like", "tpu_like", "resnet18.yaml", 6),
    "gemm_l1": ("gemm_l1", "gemm_l1", "gemm_layer.yaml", 3),
    "gemm_l1_l3": ("gemm_l1_l3", "gemm_l1_l3", "gemm_layer.yaml", 6),
}
LINKS = {"O": "O", "W": "I2", "I": "I1"}


def _problem(case: str):
    acc, mp, wl, lpf = CASES[case]
    p = load_problem(WORKLOADS / wl, ROOT / f"models/accelerators/{acc}.yaml", ROOT / f"models/mappings/{mp}.yaml")
    return p, lpf


def _fixture(case: str, opt: str) -> dict:
    return json.loads((FIX / "orderings" / f"{case}__{opt}.json").read_text())


# --------------------------------------------------------------------------------------------------------------
# ZigZag's example mapping files with orderings: the whole flow equals ZigZag's
# --------------------------------------------------------------------------------------------------------------


@pytest.mark.parametrize("opt", ["latency", "energy"])
@pytest.mark.parametrize("case", list(CASES))
def test_example_mapping_files_with_orderings_equal_zigzag(case: str, opt: str):
    fx = _fixture(case, opt)
    if fx["expected_from_zigzag_tests"]:  # the fixture holds ZigZag's regression value itself
        assert (fx["totals"]["energy"], fx["totals"]["latency"]) == (
            fx["expected_from_zigzag_tests"]["energy"],
            fx["expected_from_zigzag_tests"]["latency"],
        )
    problem, lpf = _problem(case)
    if case == "tpu_like" and opt == "energy":  # the whole network is checked with ZigZag's own setting (latency)
        names = ["example_name_of_layer0", "2", "8", "10", "30"]
        fx["layers"] = [z for z in fx["layers"] if z["name"] in names or str(z["id"]) in names]
        fx["totals"] = {"energy": sum(z["results"]["energy_total"] for z in fx["layers"]),
                        "latency": sum(z["results"]["latency_total2"] for z in fx["layers"])}
    else:
        names = None
    run = solve_problem(problem, SolveOptions(engine="loma", objective=opt, lpf_limit=lpf), names)
    assert len(run.layers) == len(fx["layers"])
    ours = {r.name: r for r in run.layers}
    for z in fx["layers"]:
        r = ours[z["name"] if z["name"] in ours else str(z["id"])]  # ZigZag names unnamed layers Layer<id>
        assert r.cost.energy == pytest.approx(z["results"]["energy_total"], rel=1e-12, abs=0), r.name
        assert r.cost.latency == z["results"]["latency_total2"], r.name
    assert run.total_energy == pytest.approx(fx["totals"]["energy"], rel=1e-12)
    assert run.total_latency == fx["totals"]["latency"]
    if case == "tpu_like":
        # the complete ordering of 'example_name_of_layer0' is used as given: ZigZag's loop nest, status fixed
        first = run.layers[0]
        z0 = next(z for z in fx["layers"] if z["name"] == "example_name_of_layer0")
        assert first.name == "example_name_of_layer0" and first.status == "fixed"
        assert list(first.mapping.temporal.loops) == [(t["dim"], t["size"]) for t in z0["mapping"]["temporal"]]
        assert [r.status for r in run.layers[1:]] == ["heuristic"] * (len(run.layers) - 1)
    else:
        assert run.layers[0].status == "heuristic"
        loops = run.layers[0].mapping.temporal.loops
        assert [d for d, _ in loops[:3]] == ["D1", "D2", "D0"]  # the ordering's positions


def test_issue_numbers_gemm_l1(tmp_path: Path):
    """The issue's example: without the ordering cpmap found 285,624.96 pJ / 4,097 cycles; ZigZag (and now cpmap)
    511,349.76 / 8,191."""
    problem, lpf = _problem("gemm_l1")
    run = solve_problem(problem, SolveOptions(engine="loma", objective="latency", lpf_limit=lpf))
    assert (round(run.total_energy, 2), run.total_latency) == (511349.76, 8191)
    free = load_problem(WORKLOADS / "gemm_layer.yaml", ROOT / "models/accelerators/gemm_l1.yaml", _without_ordering(problem.mapping_file.path, tmp_path))
    run = solve_problem(free, SolveOptions(engine="loma", objective="latency", lpf_limit=lpf))
    assert (round(run.total_energy, 2), run.total_latency) == (285624.96, 4097)


def _without_ordering(path: str, folder: Path) -> Path:
    data = yaml.safe_load(Path(path).read_text())
    for e in data:
        e.pop("temporal_ordering", None)
    out = folder / "no_ordering.yaml"
    out.write_text(yaml.safe_dump(data))
    return out


def test_complete_ordering_is_costed_by_every_engine():
    """tpu_like's layer 0: every engine returns the given loop nest (status fixed) with ZigZag's cost."""
    problem, _ = _problem("tpu_like")
    z = _fixture("tpu_like", "energy")["layers"][0]
    for engine in ("loma", "exhaustive", "cpsat", "milp"):
        run = solve_problem(problem, SolveOptions(engine=engine), ["example_name_of_layer0"])
        (r,) = run.layers
        assert r.status == "fixed", engine
        assert (r.cost.energy, r.cost.latency) == (pytest.approx(z["results"]["energy_total"], rel=1e-12), z["results"]["latency_total2"])
        assert r.bound is None and r.gap is None


def test_exact_engines_prove_the_optimum_under_a_partial_ordering():
    """gemm_l1 with ZigZag's partial ordering [[D1, *], [D2, *], [D0, *]]: cpsat and milp prove the optimum within
    the ordering's space; it is never above ZigZag's LOMA under the same ordering (the fixture's values), and the
    proven mapping's innermost loops form the ordering's blocks."""
    problem, lpf = _problem("gemm_l1")
    zz = solve_problem(problem, SolveOptions(engine="loma", objective="energy", lpf_limit=lpf)).layers[0]
    for engine in ("cpsat", "milp"):
        (r,) = solve_problem(problem, SolveOptions(engine=engine)).layers
        assert r.status == "optimal", (engine, r.message)
        assert r.cost.energy <= zz.cost.energy * (1 + 1e-12)
        loops = r.mapping.temporal.loops
        assert TemporalOrdering((("D1", None), ("D2", None), ("D0", None))).accepts([(d, p) for d, s in loops for p in (prime_factors(s) or [1])])
    (lat,) = solve_problem(problem, SolveOptions(engine="cpsat", objective="latency")).layers
    zz_lat = solve_problem(problem, SolveOptions(engine="loma", objective="latency", lpf_limit=lpf)).layers[0]
    assert lat.status == "optimal" and lat.cost.latency <= zz_lat.cost.latency


# --------------------------------------------------------------------------------------------------------------
# the ordering rules
# --------------------------------------------------------------------------------------------------------------


def _gemm(d0: int, d1: int, d2: int) -> Layer:
    return Layer(
        name="g",
        equation="O[d0][d1]+=I[d0][d2]*W[d2][d1]",
        loop_sizes={"D0": d0, "D1": d1, "D2": d2},
        precision={"W": 8, "I": 8, "O": 32, "O_final": 8},
        operator_type="Gemm",
    )


def test_ordering_for_layer_drops_unknown_dims_and_the_star_entry():
    layer = _gemm(16, 16, 16)
    o = ordering_for_layer([("d1", "*"), ("*", "*"), ("K", 4), ("D0", 4)], layer)
    assert o.entries == (("D1", None), ("D0", 4))
    assert str(o) == "[[D1, *], [D0, 4]]" and o.sized == (("D0", 4),)


def test_complete_order():
    o = TemporalOrdering((("OX", 112), ("OY", 112), ("C", 1), ("FX", 7), ("FY", 7), ("K", 2)))
    sizes = {"K": 2, "OY": 112, "OX": 112, "FY": 7, "FX": 7}
    assert o.complete_order(sizes) == (("OX", 112), ("OY", 112), ("FX", 7), ("FY", 7), ("K", 2))
    assert o.complete_order(dict(sizes, K=4)) is None  # another spatial mapping leaves K 4: not complete
    assert TemporalOrdering((("OX", None),)).complete_order({"OX": 4}) is None
    assert TemporalOrdering().complete_order({}) is None


def test_block_rule():
    o = TemporalOrdering((("D1", None), ("D2", None), ("D0", 4)))
    assert o.accepts([("D1", 2), ("D1", 2), ("D2", 3), ("D0", 2), ("D0", 2), ("D1", 2)])
    assert not o.accepts([("D1", 2), ("D2", 3), ("D0", 2), ("D1", 2)])  # D0 block of 2, not 4
    assert not o.accepts([("D2", 3), ("D1", 2), ("D0", 4)])
    assert o.accepts([("D1", 4), ("D2", 3), ("D0", 2), ("D0", 2), ("D0", 2)])  # the rest may continue with D0
    same = TemporalOrdering((("D1", None), ("D1", None)))
    assert same.accepts([("D1", 2), ("D1", 2)]) and not same.accepts([("D1", 4), ("D0", 2)])


def test_lpfs_with_sized_entries_follow_zigzag():
    """Facts of ZigZag 3.9.1's LomaEngine (checked in test_loma_orders_equal_zigzags below)."""
    # a sized entry becomes one factor and is never merged
    assert loop_prime_factors({"D0": 4, "D1": 3, "D2": 2}, 6, (("D0", 4),)) == [("D0", 4), ("D1", 3), ("D2", 2)]
    assert loop_prime_factors({"K": 64, "C": 3}, 4, (("K", 4),)) == [("K", 4), ("K", 4), ("K", 4), ("C", 3)]
    # a size with two distinct primes: ZigZag's bookkeeping would give D1 = 6 x 3 = 18; cpmap keeps D1 = 6
    assert loop_prime_factors({"D0": 4, "D1": 6, "D2": 2}, 6, (("D1", 6),)) == [("D0", 2), ("D0", 2), ("D1", 6), ("D2", 2)]
    with pytest.raises(OrderingError):
        loop_prime_factors({"D0": 4, "D1": 6}, 6, (("D1", 4),))


# --------------------------------------------------------------------------------------------------------------
# LOMA's constrained orders = ZigZag's, on random layers and orderings (ZigZag run in the test)
# --------------------------------------------------------------------------------------------------------------


def _zigzag_orders(layer_spec: dict, hw: Path, spatial: dict, ordering: list, lpf: int):
    """ZigZag's LomaEngine on one layer: the orders it would try, or the exception it raises."""
    from zigzag.mapping.temporal_mapping import TemporalMappingType
    from zigzag.opt.loma.engine import LomaEngine
    from zigzag.workload.layer_attributes import LayerTemporalOrdering

    from zigzag_oracle import ZigzagLayerContext

    zctx = ZigzagLayerContext(str(hw), layer_spec, spatial, LINKS)
    eng = LomaEngine(accelerator=zctx.accelerator, layer=zctx.layer, spatial_mapping=zctx.spatial_mapping,
                     mapping_type=TemporalMappingType.UNEVEN, loma_lpf_limit=lpf)
    order = LayerTemporalOrdering([list(e) for e in ordering])
    order.remove_invalid_layer_dims(zctx.layer.layer_dim_sizes)
    if order.is_complete(eng.get_temporal_loops()):
        return "complete"
    cons = order.get_constraints()
    if any(not c.is_empty() for c in cons):
        eng.set_constraints(cons)
    eng.temporal_loop_dim_size = eng.get_temporal_loops()
    try:
        eng.update_min_lpf_factor(eng.temporal_loop_dim_size)
        eng.get_prime_factors()
        lpfs = sorted((str(d), int(p)) for d, p in eng.lpfs)
        orders = {tuple((str(d), int(p)) for d, p in o) for o in eng.ordering_generator()}
    except (ValueError, KeyError, IndexError) as exc:
        return type(exc).__name__
    return lpfs, orders


def _products(loops) -> dict[str, int]:
    out: dict[str, int] = {}
    for d, p in loops:
        out[d] = out.get(d, 1) * p
    return {d: p for d, p in out.items() if p > 1}


def _random_case(rng: random.Random):
    sizes = {d: rng.choice([8, 16, 24, 32, 48, 64, 96, 128, 72]) for d in ("D0", "D1", "D2")}
    layer_spec = {
        "id": 0, "operator_type": "Gemm", "equation": "O[d0][d1]+=I[d0][d2]*W[d2][d1]", "loop_dims": list(sizes),
        "loop_sizes": list(sizes.values()), "operand_precision": {"W": 8, "I": 8, "O": 32, "O_final": 8},
        "operand_source": {"I": 0, "W": 0},
    }
    temporal = {d: s // 8 for d, s in sizes.items()}
    if rng.random() < 0.1:  # a complete ordering: every prime factor, in a random order
        loops = [[d, p] for d, t in temporal.items() for p in prime_factors(t)]
        rng.shuffle(loops)
        return layer_spec, sizes, loops, 6
    ordering = []
    for _ in range(rng.randint(1, 4)):
        d = rng.choice(["D0", "D1", "D2", "K", "*"])
        if d in temporal and temporal[d] > 1 and rng.random() < 0.4:
            primes = prime_factors(temporal[d])
            size = 1
            for p in rng.sample(primes, rng.randint(1, min(2, len(primes)))):
                size *= p
            ordering.append([d, size])
        else:
            ordering.append([d, "*"])
    return layer_spec, sizes, ordering, rng.choice([2, 3, 4, 6])


def test_loma_orders_equal_zigzags():
    """80 random GEMMs x partial orderings (sized entries, '*', unknown dims, ['*', '*']) x LPF limits on gemm_l1:
    the loop prime factors and the set of orders LOMA tries are ZigZag's, or both find none; where ZigZag's
    bookkeeping breaks the loop sizes (a size with two distinct primes), cpmap keeps them right."""
    pytest.importorskip("zigzag")
    hw = ROOT / "models/accelerators/gemm_l1.yaml"
    acc = load_accelerator(hw)
    spatial = {"D1": {"D0": 8}, "D2": {"D2": 8}, "D3": {"D1": 8}}
    rng = random.Random(13)
    seen = {"same": 0, "none": 0, "zigzag_wrong_sizes": 0, "zigzag_lost_sized": 0, "zigzag_crashes": 0, "complete": 0}
    for _ in range(80):
        spec, sizes, raw, lpf = _random_case(rng)
        layer = _gemm(sizes["D0"], sizes["D1"], sizes["D2"])
        ctx = prepare(layer, acc, SpatialMapping.from_dict(spatial), LINKS)
        ordering = ordering_for_layer([tuple(e) for e in raw], layer)
        zz = _zigzag_orders(spec, hw, spatial, raw, lpf)
        if zz == "complete":
            assert ordering.complete_order(ctx.temporal_sizes) is not None
            seen["complete"] += 1
            continue
        assert ordering.complete_order(ctx.temporal_sizes) is None
        try:
            lpfs = loop_prime_factors(ctx.temporal_sizes, lpf, ordering.sized)
        except OrderingError:
            assert zz in ("ValueError", "KeyError") or not zz[1], (raw, zz)  # ZigZag raises or finds no order
            seen["none"] += 1
            continue
        ours = {o for o in multiset_permutations(lpfs) if ordering.positions_ok(o)}
        if zz == "IndexError":  # more entries than factors: ZigZag raises, cpmap finds no order
            assert not ours, raw
            seen["none"] += 1
            continue
        if isinstance(zz, str):  # its counts went negative (ValueError in its permutation count): ZigZag crashes
            assert _products(lpfs) == ctx.temporal_sizes, raw
            seen["zigzag_crashes"] += 1
            continue
        z_lpfs, z_orders = zz
        z_prod: dict[str, int] = {}
        for d, p in z_lpfs:
            z_prod[d] = z_prod.get(d, 1) * p
        z_left = list(z_lpfs)
        keeps_sized = all(loop in z_left and not z_left.remove(loop) for loop in ordering.sized)
        if z_prod != ctx.temporal_sizes or not keeps_sized:
            # ZigZag's loops no longer multiply to the layer, or it merged a sized entry's factor away (and then
            # finds no order at all): cpmap's corrected factors keep both right
            assert _products(lpfs) == ctx.temporal_sizes
            seen["zigzag_wrong_sizes" if z_prod != ctx.temporal_sizes else "zigzag_lost_sized"] += 1
            continue
        assert sorted(lpfs) == z_lpfs, (raw, lpf)
        assert ours == z_orders, (raw, lpf)
        seen["same"] += 1
    assert seen["same"] >= 45 and seen["none"] >= 1 and seen["complete"] >= 3 and seen["zigzag_crashes"] >= 3, seen


# --------------------------------------------------------------------------------------------------------------
# the exhaustive engine under a partial ordering
# --------------------------------------------------------------------------------------------------------------


def _conv(sizes: dict[str, int], stride: int = 1) -> Layer:
    return Layer(
        name="t",
        equation="O[k][ox]+=W[k][c][fx]*I[c][ix]",
        loop_sizes=dict(sizes),
        precision={"W": 8, "I": 8, "O": 16, "O_final": 8},
        relations=(Relation("IX", "OX", "FX", stride, 1),),
        operator_type="Conv",
    )


@st.composite
def _orderings(draw, dims: tuple[str, ...]):
    entries = []
    for _ in range(draw(st.integers(1, 3))):
        entries.append((draw(st.sampled_from(dims)), draw(st.sampled_from([None, None, 2, 3, 4]))))
    return TemporalOrdering(tuple(entries))


@settings(max_examples=40, derandomize=True, deadline=None, suppress_health_check=list(HealthCheck))
@given(
    k=st.sampled_from([4, 8]),
    c=st.sampled_from([2, 3, 4, 6]),
    ox=st.sampled_from([2, 3, 4]),
    fx=st.sampled_from([1, 2, 3]),
    ordering=_orderings(("K", "C", "OX", "FX")),
    objective=st.sampled_from(["energy", "latency"]),
)
def test_exhaustive_under_an_ordering_never_worse_than_loma(k, c, ox, fx, ordering, objective):
    """Random small convolutions on the toy accelerator (K unrolled 4) and random partial orderings: LOMA (lpf 6)
    and the exhaustive engine both stay in the ordering's space; the exhaustive engine is never above LOMA; its
    enumeration is exactly the unconstrained one filtered by the block rule."""
    ctx = prepare(_conv({"K": k, "C": c, "OX": ox, "FX": fx}), load_accelerator(ROOT / "models/accelerators/toy.yaml"),
                  SpatialMapping.from_dict({"D1": {"K": 4}}), LINKS)
    ordering = TemporalOrdering(tuple((d, s) for d, s in ordering.entries if d in ctx.temporal_sizes))
    if not ordering:
        event("no entry for a temporal dim")
        return
    factors = list(search_space(ctx).factors)
    filtered = [o for o in multiset_permutations(factors) if ordering.accepts(o)]
    assert list(constrained_orders(factors, ordering)) == filtered
    assert count_constrained_orders(factors, ordering) == len(filtered) == search_space(ctx, ordering).orders
    opts = EngineOptions(objective=objective, ordering=ordering.entries)
    ex, lo = exhaustive(ctx, opts), loma(ctx, opts)
    # the exact engine proves the same optimum within the ordering's space, with a mapping in that space
    exact = cpsat(ctx, opts)
    if ex.status == "optimal":
        assert exact.status == "optimal" and abs(exact.objective_value - ex.objective_value) <= 1e-9 * ex.objective_value
        assert ordering.accepts(exact.temporal.loops)
    else:
        assert exact.status == ex.status == "infeasible"
    if lo.cost is not None:
        assert ordering.positions_ok(lo.temporal.loops)
        expanded = [(d, p) for d, s in lo.temporal.loops for p in (prime_factors(s) or [1])]
        assert ordering.accepts(expanded)
        assert ex.status == "optimal" and ex.objective_value <= lo.objective_value
        event("strictly better" if ex.objective_value < lo.objective_value else "equal")
    else:
        event("LOMA: a sized entry is no loop of the layer" if "divide" in lo.message or "no temporal loop" in lo.message
              else "LOMA: no order satisfies the ordering" if "satisfies" in lo.message else "LOMA: nothing fits")
    if ex.status == "optimal":
        assert ordering.accepts(ex.temporal.loops)
        free = exhaustive_temporal(ctx, objective)
        assert objective_value(objective, free.cost) <= ex.objective_value  # the constraint never helps
    else:
        assert ex.status == "infeasible" and lo.cost is None
