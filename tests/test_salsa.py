"""SALSA (ZigZag's simulated-annealing engine): the acceptance rule by hand, never below the proven optimum,
the optimum of small spaces with a long chain, determinism per seed (and independence of --jobs), the CLI.

Statistical parity with zigzag-dse's own SALSA is measured by ``benchmarks/bench_salsa.py`` (minutes).
"""

from __future__ import annotations

import math
from dataclasses import replace
from pathlib import Path

import pytest
from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st
from typer.testing import CliRunner

from cpmap.api import fixed_spatial, load_problem
from cpmap.cli import app
from cpmap.cost.model import evaluate_temporal, prepare
from cpmap.engines.allocator import allocate
from cpmap.engines.base import EngineOptions
from cpmap.engines.exhaustive import exhaustive
from cpmap.engines.loma import loma_temporal, multiset_permutations
from cpmap.engines.salsa import accept, chain_seed, salsa, salsa_factors, salsa_search
from cpmap.io.hardware_yaml import load_accelerator
from cpmap.mapping import SpatialMapping
from cpmap.solve import SolveOptions, solve_problem
from cpmap.workload import Layer, Relation

ROOT = Path(__file__).resolve().parents[1]
TOY = (ROOT / "models/networks/toy_conv.yaml", ROOT / "models/accelerators/toy.yaml", ROOT / "models/mappings/toy.yaml")
RESNET_TPU = (
    ROOT / "models/networks/resnet18.onnx",
    ROOT / "models/accelerators/tpu_like.yaml",
    ROOT / "models/mappings/tpu_like.yaml",
)
#: three ResNet-18 layers of different shapes (a 7x7 stem, a 3x3 convolution, the classifier)
RESNET_LAYERS = ["/conv1/Conv", "/layer2/layer2.0/conv2/Conv", "/fc/Gemm"]
NO_MERGE = 100  # LOMA's LPF limit high enough that prime factors are never merged (SALSA never merges)


def _toy_ctx():
    p = load_problem(*TOY)
    layer = p.layers[0]
    c = p.constraints(layer)
    return prepare(layer, p.accelerator, fixed_spatial(p, layer, c), c.operand_links)


def test_acceptance_rule_by_hand():
    # a 1 % worse state at T = 0.05: p = exp((100/101 - 1) / 0.05) = exp(-0.198020) = 0.820354
    p = math.exp((100 / 101 - 1) / 0.05)
    assert p == pytest.approx(0.820354, abs=1e-6)
    assert accept(100.0, 101.0, 0.05, 0.8203) and not accept(100.0, 101.0, 0.05, 0.8204)
    # an improvement or a tie is always taken, even at x close to 1
    assert accept(100.0, 99.0, 0.05, 0.999999) and accept(100.0, 100.0, 1e-9, 0.999999)
    # a much worse state at a very low temperature: exp(-0.5 / 1e-6) underflows to 0, never accepted
    assert not accept(100.0, 200.0, 1e-6, 0.0) and accept(100.0, 200.0, 0.001, 0.0)  # exp(-500) > 0
    # infeasible states (cost +inf): never entered, always left
    assert not accept(100.0, math.inf, 0.05, 0.0)
    assert accept(math.inf, 1e12, 0.05, 0.999) and accept(math.inf, math.inf, 0.05, 0.999)


def test_factors_are_never_merged():
    assert salsa_factors({"K": 12, "C": 8, "OX": 7}) == [("K", 2), ("K", 2), ("K", 3), ("C", 2), ("C", 2), ("C", 2), ("OX", 7)]
    assert salsa_factors({"K": 1}) == []


def test_toy_long_chain_reaches_the_exhaustive_optimum():
    """The toy has 30 distinct orders (energies 1300..2388, tests/test_loma.py); the exhaustive optimum is 1300."""
    ctx = _toy_ctx()
    assert exhaustive(ctx, EngineOptions()).cost.energy == 1300
    for seed in range(5):
        tm, cost, stats = salsa_search(ctx, iterations=3000, start_temperature=10.0, seed=seed)
        assert cost.energy == 1300, seed
        assert stats["distinct_orders"] == 30 and stats["iterations"] == 3000
        assert evaluate_temporal(ctx, tm).energy == 1300  # the returned mapping has the returned cost


def test_short_chains_are_never_below_the_best_order():
    """With ZigZag's defaults, on the toy: each chain ends on one of the 30 orders' costs, at or above 1300."""
    ctx = _toy_ctx()
    energies = {evaluate_temporal(ctx, allocate(ctx, o)).energy for o in multiset_permutations(salsa_factors(ctx.temporal_sizes))}
    for seed in range(10):
        _, cost, _ = salsa_search(ctx, iterations=20, seed=seed)
        assert cost.energy in energies and cost.energy >= 1300


def _conv(k: int, c: int, ox: int, fx: int) -> Layer:
    return Layer(
        name="t",
        equation="O[k][ox]+=W[k][c][fx]*I[c][ix]",
        loop_sizes={"K": k, "C": c, "OX": ox, "FX": fx},
        precision={"W": 8, "I": 8, "O": 16, "O_final": 8},
        relations=(Relation("IX", "OX", "FX", 1, 1),),
        operator_type="Conv",
    )


@settings(max_examples=15, derandomize=True, deadline=None, suppress_health_check=list(HealthCheck))
@given(
    k=st.sampled_from([4, 8, 12]),
    c=st.sampled_from([1, 2, 4, 6]),
    ox=st.sampled_from([1, 2, 4]),
    fx=st.sampled_from([1, 3]),
    seed=st.integers(0, 2**40),
)
def test_random_small_layers_long_chain_equals_best_order(k, c, ox, fx, seed):
    """A long hot chain visits every order of a small space: its best is LOMA's over all unmerged orders."""
    ctx = prepare(_conv(k, c, ox, fx), load_accelerator(TOY[1]), SpatialMapping.from_dict({"D1": {"K": 4}}), {"O": "O", "W": "I2", "I": "I1"})
    n_orders = sum(1 for _ in multiset_permutations(salsa_factors(ctx.temporal_sizes) or [("K", 1)]))
    assume(n_orders <= 60)
    best = loma_temporal(ctx, "energy", NO_MERGE)
    tm, cost, stats = salsa_search(ctx, iterations=4000, start_temperature=10.0, seed=seed)
    if best.cost is None:
        assert cost is None
        return
    assert stats["distinct_orders"] == n_orders
    assert cost.energy == best.cost.energy


def test_never_below_the_proven_optimum_and_deterministic_per_seed():
    p = load_problem(*RESNET_TPU)
    exact = solve_problem(p, SolveOptions(engine="cpsat"), RESNET_LAYERS)
    assert [r.status for r in exact.layers] == ["optimal"] * 3
    first = solve_problem(p, SolveOptions(engine="salsa", seed=7), RESNET_LAYERS)
    again = solve_problem(p, SolveOptions(engine="salsa", seed=7, jobs=2), RESNET_LAYERS)
    for s, s2, x in zip(first.layers, again.layers, exact.layers):
        assert s.status == "heuristic" and s.bound is None
        assert s.objective_value >= x.objective_value * (1 - 1e-12), s.name
        # same seed: same mapping and cost, whatever the number of processes
        assert s.mapping == s2.mapping and (s.energy, s.latency) == (s2.energy, s2.latency)
        # the reported cost is the cost model's value of the reported mapping
        ctx = prepare(p.layers[[l.name for l in p.layers].index(s.name)], p.accelerator, s.mapping.spatial, s.mapping.operand_links)
        assert evaluate_temporal(ctx, s.mapping.temporal).energy == s.energy


def test_seed_changes_the_chain_not_the_layer_name():
    p = load_problem(*RESNET_TPU)
    layer = next(l for l in p.layers if l.name == RESNET_LAYERS[1])
    c = p.constraints(layer)
    ctx = prepare(layer, p.accelerator, SpatialMapping.from_dict({"D1": {"K": 32}, "D2": {"C": 32}}), c.operand_links)
    starts = {tuple(chain_seed(s, ctx).generate_state(4)) for s in range(5)}
    assert len(starts) == 5
    stats = [salsa(ctx, EngineOptions(seed=s, salsa_iterations=50)).stats["accepted_moves"] for s in range(5)]
    assert len(set(stats)) > 1  # different streams, different walks
    # a layer of the same shape under another name gets the same chain
    twin = prepare(replace(layer, name="twin"), p.accelerator, ctx.spatial, c.operand_links)
    assert salsa(twin, EngineOptions(seed=3)).temporal == salsa(ctx, EngineOptions(seed=3)).temporal


def test_cli_solve_salsa_and_bad_options():
    runner = CliRunner()
    wl, hw, mp = (str(x) for x in TOY)
    res = runner.invoke(app, ["solve", wl, "-a", hw, "--engine", "salsa", "--seed", "1", "--quiet"])
    assert res.exit_code == 0, res.output
    assert "heuristic" in res.output
    # ZigZag's SALSA ignores a partial temporal_ordering; cpmap says so instead of dropping the user's constraint
    res = runner.invoke(app, ["solve", wl, "-a", hw, "-m", mp, "--engine", "salsa", "--quiet"])
    assert res.exit_code == 1 and "skipped" in res.output and "salsa engine does not encode orderings" in res.output
    for args, field in (
        (["--salsa-criterion", "edp"], "--salsa-criterion"),
        (["--salsa-start-temperature", "0"], "--salsa-start-temperature"),
        (["--salsa-iterations", "-1"], "--salsa-iterations"),
        (["--seed", "-3"], "--seed"),
    ):
        res = runner.invoke(app, ["solve", wl, "-a", hw, "-m", mp, "--engine", "salsa", *args])
        assert res.exit_code == 2, args
        lines = [ln for ln in res.output.splitlines() if ln.strip()]
        assert len(lines) == 1 and field in lines[0] and "Traceback" not in res.output, res.output
