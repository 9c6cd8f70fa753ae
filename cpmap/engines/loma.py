"""LOMA: loop-order-based temporal mapping search (spec cost_model.md section 8.1).

Every distinct order of the (possibly merged) prime factors of the temporal loop sizes is split into
memory levels by the greedy allocator and costed; the best by the objective wins. This module holds the
temporal search for one spatial mapping.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Iterator

from ..cost.model import CostResult, LayerContext, evaluate_temporal
from ..factors import prime_factors
from ..mapping import TemporalMapping
from ..status import Status
from .allocator import AllocationError, allocate
from .base import EngineOptions, EngineResult, objective_value


def loop_prime_factors(temporal_sizes: dict[str, int], lpf_limit: int) -> list[tuple[str, int]]:
    """LOMA's loop prime factors: per dim (layer order) its primes ascending, merged down to ``lpf_limit``.

    While there are too many, the dim with the most factors (first on ties) merges its two smallest ones.
    The limit is raised to the number of temporal dims when lower.
    """
    per_dim = {d: prime_factors(s) for d, s in temporal_sizes.items() if s > 1}
    limit = max(lpf_limit, len(per_dim))
    while sum(len(f) for f in per_dim.values()) > limit:
        dim = max(per_dim, key=lambda d: len(per_dim[d]))  # max() keeps the first on ties
        f = per_dim[dim]
        per_dim[dim] = sorted([f[0] * f[1]] + f[2:])
    return [(d, p) for d, fs in per_dim.items() for p in fs]


def multiset_permutations(items: list[tuple[str, int]]) -> Iterator[tuple[tuple[str, int], ...]]:
    """Every distinct ordering of a multiset exactly once (lexicographic next-permutation on indices)."""
    kinds = sorted(set(items), key=items.index)
    idx = sorted(kinds.index(x) for x in items)
    n = len(idx)
    while True:
        yield tuple(kinds[i] for i in idx)
        k = n - 2
        while k >= 0 and idx[k] >= idx[k + 1]:
            k -= 1
        if k < 0:
            return
        j = n - 1
        while idx[j] <= idx[k]:
            j -= 1
        idx[k], idx[j] = idx[j], idx[k]
        idx[k + 1 :] = reversed(idx[k + 1 :])


def better(objective: str, a: CostResult, b: CostResult | None) -> bool:
    """ZigZag's criteria (spec 7): energy then latency; latency then energy; EDP strictly smaller."""
    if b is None:
        return True
    if objective == "energy":
        return (a.energy, a.latency) < (b.energy, b.latency)
    if objective == "latency":
        return (a.latency, a.energy) < (b.latency, b.energy)
    if objective == "edp":
        return a.energy * a.latency < b.energy * b.latency
    raise ValueError(f"unknown objective {objective!r}")


@dataclass
class TemporalSearchResult:
    """Best temporal mapping of one spatial mapping, with how many orderings were tried and fitted."""

    temporal: TemporalMapping | None
    cost: CostResult | None
    orderings: int
    feasible: int


def loma_temporal(
    ctx: LayerContext,
    objective: str = "energy",
    lpf_limit: int = 6,
    fixed_order: tuple[tuple[str, int], ...] | None = None,
) -> TemporalSearchResult:
    """Search all loop orders of the LPFs (or cost only ``fixed_order``) for one spatial mapping."""
    if fixed_order is not None:
        orders: Iterator = iter([fixed_order])
    else:
        lpfs = loop_prime_factors(ctx.temporal_sizes, lpf_limit)
        if not lpfs:
            lpfs = [(ctx.layer.loop_dims[0], 1)]  # ZigZag's dummy loop when nothing is temporal
        orders = multiset_permutations(lpfs)
    best_tm, best = None, None
    tried = fitted = 0
    for order in orders:
        tried += 1
        try:
            tm = allocate(ctx, order)
        except AllocationError:
            continue
        fitted += 1
        cost = evaluate_temporal(ctx, tm, detail=False)
        if better(objective, cost, best):
            best_tm, best = tm, cost
    if best_tm is not None:
        best = evaluate_temporal(ctx, best_tm)  # with the breakdowns
    return TemporalSearchResult(best_tm, best, tried, fitted)


def loma(ctx: LayerContext, options: EngineOptions) -> EngineResult:
    """LOMA as an engine: the best ordering by ZigZag's criteria, status ``heuristic`` (no bound)."""
    r = loma_temporal(ctx, options.objective, options.lpf_limit)
    stats = {"orderings": r.orderings, "feasible_orderings": r.feasible}
    if r.cost is None:
        return EngineResult(Status.INFEASIBLE, message=f"none of the {r.orderings} loop orders fits the memories", stats=stats)
    return EngineResult(Status.HEURISTIC, r.temporal, r.cost, objective_value(options.objective, r.cost), None, stats=stats)
