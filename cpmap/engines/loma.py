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
from ..ordering import TemporalOrdering
from ..status import Status
from .allocator import AllocationError, allocate
from .base import EngineOptions, EngineResult, objective_value


def loop_prime_factors(
    temporal_sizes: dict[str, int], lpf_limit: int, static: tuple[tuple[str, int], ...] = ()
) -> list[tuple[str, int]]:
    """LOMA's loop prime factors: per dim (layer order) its primes ascending, merged down to ``lpf_limit``.

    While there are too many, the dim with the most factors (first on ties) merges its two smallest ones.
    The limit is raised to the number of temporal dims when lower.

    ``static``: the sized entries ``(dim, size)`` of a partial user ordering; each becomes one factor of its own
    that is never merged (:func:`static_loop_prime_factors`). Raises :class:`OrderingError` when a size does not
    divide what is left of its dim.
    """
    if static:
        return static_loop_prime_factors(temporal_sizes, lpf_limit, static)
    per_dim = {d: prime_factors(s) for d, s in temporal_sizes.items() if s > 1}
    limit = max(lpf_limit, len(per_dim))
    while sum(len(f) for f in per_dim.values()) > limit:
        dim = max(per_dim, key=lambda d: len(per_dim[d]))  # max() keeps the first on ties
        f = per_dim[dim]
        per_dim[dim] = sorted([f[0] * f[1]] + f[2:])
    return [(d, p) for d, fs in per_dim.items() for p in fs]


class OrderingError(ValueError):
    """A sized entry of a user ordering cannot be a loop of the layer (its size does not divide the dim)."""


def static_loop_prime_factors(
    temporal_sizes: dict[str, int], lpf_limit: int, static: tuple[tuple[str, int], ...]
) -> list[tuple[str, int]]:
    """Loop prime factors under sized ordering entries, as ZigZag 3.9.1 computes them where its result is a valid
    loop nest; otherwise the corrected rule (``docs/zigzag-differences.md``).

    ZigZag keeps, per dim, a list of distinct factors with counts. Each sized entry ``(dim, size)`` takes the
    primes of ``size`` out of the counts and adds ``size`` as a factor of its own. Merging then takes the dim with
    the most factors (first on ties) and, skipping factor values reserved by sized entries, merges its smallest
    free factor with itself when it has two free copies, else with the next free one (falling back to the last
    factor of the list when fewer than two free values remain); the product goes to its sorted place.
    Its bookkeeping loses or duplicates primes when a size has two distinct prime factors or repeats a composite
    size of the same dim (the loops no longer multiply to the layer's sizes); cpmap then uses the corrected rule
    of :func:`_corrected_static_lpfs` instead.
    """
    try:
        lpfs = _zigzag_static_lpfs(temporal_sizes, lpf_limit, static)
    except (ValueError, KeyError):
        lpfs = None
    if lpfs is not None and _valid_static_lpfs(lpfs, temporal_sizes, static):
        return lpfs
    return _corrected_static_lpfs(temporal_sizes, lpf_limit, static)


def _valid_static_lpfs(lpfs, temporal_sizes, static) -> bool:
    prod: dict[str, int] = {}
    for d, p in lpfs:
        if p < 1:
            return False
        prod[d] = prod.get(d, 1) * p
    remaining = list(lpfs)
    for loop in static:
        if loop not in remaining:
            return False
        remaining.remove(loop)
    return {d: p for d, p in prod.items() if p > 1} == {d: s for d, s in temporal_sizes.items() if s > 1}


def _zigzag_static_lpfs(temporal_sizes, lpf_limit, static) -> list[tuple[str, int]]:
    """ZigZag 3.9.1's arithmetic, step by step (may return factors that do not multiply to the sizes)."""
    values: dict[str, list[int]] = {}
    counts: dict[str, list[int]] = {}
    sums: dict[str, int] = {}
    for d, s in temporal_sizes.items():
        if s > 1:
            primes = prime_factors(s)
            values[d] = sorted(set(primes))
            counts[d] = [primes.count(p) for p in values[d]]
            sums[d] = len(primes)
    for d, size in static:
        sp = prime_factors(size)
        for f in sorted(set(sp)):
            mult = sp.count(f)
            idx = values[d].index(f)  # ValueError / KeyError: the size cannot be a loop of this dim
            if counts[d][idx] >= mult:
                counts[d][idx] -= mult
                if size in values[d]:
                    counts[d][idx] += 1  # ZigZag adds the count back at the prime's index
                else:
                    values[d].append(size)
                    counts[d].append(1)
                sums[d] -= mult - 1
    reserved = {d: [s for dd, s in static if dd == d] for d in values}
    limit = max(lpf_limit, len(values))
    n = sum(sums.values())
    while n > limit:
        dim = max(sums, key=lambda d: sums[d])  # first on ties
        vals, cnts = values[dim], counts[dim]
        a, b = _merge_pair(vals, cnts, reserved[dim])
        new = vals[a] * vals[b]
        cnts[a] -= 1
        cnts[b] -= 1
        if new in vals:
            cnts[vals.index(new)] += 1
        else:
            pos = sum(1 for v in vals if v < new)
            vals.insert(pos, new)
            cnts.insert(pos, 1)
        keep = [i for i, c in enumerate(cnts) if c != 0]
        values[dim] = [vals[i] for i in keep]
        counts[dim] = [cnts[i] for i in keep]
        sums[dim] -= 1
        n -= 1
    return [(d, v) for d in values for v, c in zip(values[d], counts[d]) for _ in range(max(c, 0))]


def _merge_pair(vals: list[int], cnts: list[int], reserved: list[int]) -> tuple[int, int]:
    """Indices of the two factors ZigZag 3.9.1 merges in one dim (reserved values skipped while copies remain)."""
    first = None
    for i, v in enumerate(vals):
        if v not in reserved or cnts[i] > reserved.count(v):
            if first is not None:
                return first, i
            if cnts[i] > reserved.count(v) + 1:
                return i, i
            first = i
    return (first if first is not None else 0), len(vals) - 1


def _corrected_static_lpfs(temporal_sizes, lpf_limit, static) -> list[tuple[str, int]]:
    """Each sized entry is one factor, its primes taken from its dim (else :class:`OrderingError`); the other
    primes merge by LOMA's rule among the dims that still have two free factors."""
    free = {d: prime_factors(s) for d, s in temporal_sizes.items() if s > 1}
    fixed: dict[str, list[int]] = {d: [] for d in free}
    for d, size in static:
        if d not in free:
            raise OrderingError(f"the ordering entry [{d}, {size}] names a dim with no temporal loop")
        rest = list(free[d])
        for p in prime_factors(size):
            if p not in rest:
                raise OrderingError(f"the ordering entry [{d}, {size}] does not divide what is left of {d}")
            rest.remove(p)
        free[d] = rest
        fixed[d].append(size)
    limit = max(lpf_limit, len(free))
    while sum(len(free[d]) + len(fixed[d]) for d in free) > limit:
        mergeable = [d for d in free if len(free[d]) >= 2]
        if not mergeable:
            break
        dim = max(mergeable, key=lambda d: len(free[d]) + len(fixed[d]))
        f = free[dim]
        free[dim] = sorted([f[0] * f[1]] + f[2:])
    return [(d, p) for d in free for p in sorted(free[d] + fixed[d])]


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
    ordering: TemporalOrdering | None = None,
) -> TemporalSearchResult:
    """Search all loop orders of the LPFs (or cost only ``fixed_order``) for one spatial mapping.

    ``ordering``: a partial user ordering; only the orders it allows at LOMA's positions are tried (ZigZag's
    constrained permutations). Raises :class:`OrderingError` when its sized entries cannot be loops of the layer.
    """
    if fixed_order is not None:
        orders: Iterator = iter([fixed_order])
    else:
        static = ordering.sized if ordering else ()
        lpfs = loop_prime_factors(ctx.temporal_sizes, lpf_limit, static)
        if not lpfs:
            lpfs = [(ctx.layer.loop_dims[0], 1)]  # ZigZag's dummy loop when nothing is temporal
        orders = multiset_permutations(lpfs)
        if ordering:
            orders = (o for o in orders if ordering.positions_ok(o))
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
    """LOMA as an engine: the best ordering by ZigZag's criteria, status ``heuristic`` (no bound).

    Honours ``options.ordering`` (a partial user ordering) as ZigZag's LOMA does.
    """
    ordering = TemporalOrdering(options.ordering)
    try:
        r = loma_temporal(ctx, options.objective, options.lpf_limit, ordering=ordering)
    except OrderingError as exc:
        return EngineResult(Status.INFEASIBLE, message=f"temporal_ordering {ordering}: {exc}")
    stats = {"orderings": r.orderings, "feasible_orderings": r.feasible}
    if r.cost is None:
        if ordering and r.orderings == 0:
            return EngineResult(
                Status.INFEASIBLE,
                message=f"no order of LOMA's loop prime factors (lpf limit {options.lpf_limit}) satisfies the temporal_ordering {ordering}",
                stats=stats,
            )
        return EngineResult(Status.INFEASIBLE, message=f"none of the {r.orderings} loop orders fits the memories", stats=stats)
    return EngineResult(Status.HEURISTIC, r.temporal, r.cost, objective_value(options.objective, r.cost), None, stats=stats)
