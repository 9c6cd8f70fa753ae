"""LOMA pieces against the spec's examples (cost_model.md section 8.1) and ZigZag's LOMA on the toy."""

from __future__ import annotations

import math
from pathlib import Path

from cpmap.api import fixed_spatial, load_problem
from cpmap.cost.model import evaluate_temporal, prepare
from cpmap.engines.allocator import allocate
from cpmap.engines.loma import loma_temporal, loop_prime_factors, multiset_permutations

ROOT = Path(__file__).resolve().parents[1]


def _toy_ctx():
    p = load_problem(ROOT / "models/networks/toy_conv.yaml", ROOT / "models/accelerators/toy.yaml", ROOT / "models/mappings/toy.yaml")
    layer = p.layers[0]
    c = p.constraints(layer)
    return prepare(layer, p.accelerator, fixed_spatial(p, layer, c), c.operand_links)


def test_lpf_merging_examples():
    assert loop_prime_factors({"C": 4, "OX": 4, "FX": 3}, 3) == [("C", 4), ("OX", 4), ("FX", 3)]
    assert loop_prime_factors({"K": 8, "C": 12, "OX": 7}, 4) == [("K", 8), ("C", 3), ("C", 4), ("OX", 7)]
    # the limit is raised to the number of temporal dims
    assert loop_prime_factors({"K": 4, "C": 4, "OX": 4}, 1) == [("K", 4), ("C", 4), ("OX", 4)]


def test_multiset_permutations_count_and_distinct():
    items = [("C", 2), ("C", 2), ("OX", 2), ("OX", 2), ("FX", 3)]
    perms = list(multiset_permutations(items))
    assert len(perms) == len(set(perms)) == math.factorial(5) // (2 * 2) == 30


def test_toy_orderings_best_and_worst_energy():
    """ZigZag's LOMA on the toy (scripts/loma_test.py): 30 orderings, best energy 1300, worst 2388."""
    ctx = _toy_ctx()
    lpfs = loop_prime_factors(ctx.temporal_sizes, 6)
    energies = sorted(evaluate_temporal(ctx, allocate(ctx, o)).energy for o in multiset_permutations(lpfs))
    assert len(energies) == 30
    assert (energies[0], energies[-1]) == (1300, 2388)
    assert len(list(multiset_permutations(loop_prime_factors(ctx.temporal_sizes, 3)))) == 6
    best = loma_temporal(ctx, "energy", 6)
    assert best.cost.energy == 1300 and best.orderings == 30
