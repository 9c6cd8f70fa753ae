"""Exhaustive temporal mapping search: every loop order x every per-operand level split (spec 3.3-3.5, 9.1).

LOMA (spec 8.1) enumerates loop orders but fixes the level split with the greedy allocator (8.2). This
engine enumerates the full space of spec 9.1 items 2-4 for one spatial mapping: every distinct order of the
prime factors of the temporal loop sizes (no LPF merging) and, per order, every monotone cut vector of every
operand, kept when it fits the memories (:func:`~cpmap.cost.capacity.capacity_violations`). The best by
the objective, with LOMA's tie rule, is optimal by enumeration; the space is a superset of LOMA's, so the
result is never worse than LOMA's with the same (unmerged) factors.

Three reductions keep it usable; none changes the optimum (``tests/test_exhaustive.py`` checks each one
against a plain enumeration):

* **Stationary cuts only.** The cost model first moves every cut up over the run of operand-irrelevant loops
  directly above it (the merge-down of spec 3.4) and never looks at the raw cut again. Such a move does not
  change any tile (irrelevant loops do not enter the footprint), can only lower the output's allocator
  precision (fewer irrelevant loops remain above) and can only remove a forced-double-buffering doubling
  (the cut may reach the end). So among the raw cut vectors with the same stationary cuts, the stationary one
  itself costs the same and fits whenever any of them fits: only cuts ``c`` (loops ``0..c-1`` below) with
  ``c = K`` or ``loops[c]`` relevant or partially relevant to the operand are enumerated.
* **Capacity per operand first.** A memory that stores one operand of the layer constrains that operand's
  cuts alone, so each operand's feasible cut vectors are built per order before the product over operands;
  memories shared by several operands are checked on the partial sums while the product is built.
* **Energy branch-and-bound** (objectives ``energy`` and ``edp``). An operand's memory energy depends on the
  order and its own cuts only (spec 5), so it is computed once per (order, operand, cut vector) and the
  product over operands is pruned by ``partial energy + the other operands' minima`` against the incumbent
  (and ``options.cutoff``). The energy of a complete combination is summed in the cost model's order, so
  it is the exact value ``evaluate_temporal`` returns (checked on every evaluated combination); only
  combinations that may win are costed in full (latency included).
"""

from __future__ import annotations

import math
import time
from collections import Counter
from dataclasses import dataclass, field
from typing import Callable

from ..cost.capacity import allocation_precision, occupied_bits
from ..cost.model import CostResult, LayerContext, OperandContext, evaluate_temporal, tile_elements
from ..errors import EngineRefusal
from ..mapping import TemporalMapping
from ..status import Status
from ..ordering import TemporalOrdering, constrained_orders, count_constrained_orders
from ..bounds import latency_floor
from .base import OBJECTIVES, EngineOptions, EngineResult, objective_value
from .loma import better, multiset_permutations, prime_factors

# Relative slack of the branch-and-bound bounds: a bound is a sum taken in another association than the
# exact energy, so it may round a few ulps above a leaf it covers; never prune on a margin that thin.
_BOUND_SLACK = 1e-9


class SpaceTooLarge(EngineRefusal):
    """The exhaustive space of a layer exceeds ``max_space`` (refused before enumerating)."""

    def __init__(self, layer: str, space: int, limit: int) -> None:
        self.layer = layer
        self.space = space
        self.limit = limit
        super().__init__(
            f"layer {layer}: the exhaustive search space has {space:,} mappings (loop orders x level splits), "
            f"above the limit of {limit:,}; raise it with --max-space {space} or use another engine (loma, cpsat, milp)"
        )


@dataclass(frozen=True)
class SpaceSize:
    """Size of the exhaustive space of one spatial mapping, before any pruning."""

    factors: tuple[tuple[str, int], ...]  # the temporal loop factors (one order of them)
    orders: int  # distinct orders of the factors
    cut_vectors: dict[str, int]  # per operand: monotone cut vectors of one order
    total: int  # orders x product of cut_vectors


def temporal_factors(ctx: LayerContext) -> list[tuple[str, int]]:
    """Prime factors of the temporal loop sizes, dims in layer order, primes ascending (LOMA without merging).

    A layer with no temporal loop gets LOMA's dummy loop ``(first layer dim, 1)``.
    """
    factors = [(d, p) for d, s in ctx.temporal_sizes.items() if s > 1 for p in prime_factors(s)]
    return factors or [(ctx.layer.loop_dims[0], 1)]


def search_space(ctx: LayerContext, ordering: TemporalOrdering | None = None) -> SpaceSize:
    """Count the space: distinct factor orders (those a user ``ordering`` allows, block rule) x, per operand
    with ``M`` levels, ``C(K + M - 1, M - 1)`` monotone cut vectors (``M - 1`` free cuts in ``0..K``, the last
    one fixed at ``K``)."""
    factors = temporal_factors(ctx)
    k = len(factors)
    if ordering:
        orders = count_constrained_orders(factors, ordering)
    else:
        orders = math.factorial(k)
        for mult in Counter(factors).values():
            orders //= math.factorial(mult)
    cuts = {o.name: math.comb(k + len(o.chain) - 1, len(o.chain) - 1) for o in ctx.operands}
    return SpaceSize(tuple(factors), orders, cuts, orders * math.prod(cuts.values()))


@dataclass
class ExhaustiveResult:
    """Best temporal mapping of one spatial mapping found by enumeration, with counters.

    ``temporal``/``cost`` are ``None`` when nothing fits, or when every mapping was pruned against
    ``cutoff`` (``pruned`` is then true: no mapping has an objective value <= the cutoff).
    """

    temporal: TemporalMapping | None
    cost: CostResult | None
    space: SpaceSize
    orders_fitting: int = 0  # orders with a cut vector per operand that fits the unshared memories
    cut_vectors: int = 0  # feasible per-operand cut vectors, summed over orders and operands
    evaluations: int = 0  # calls of the cost model
    pruned: bool = False
    stats: dict = field(default_factory=dict)


# --------------------------------------------------------------------------------------------------------
# per operand, per order: feasible cut vectors
# --------------------------------------------------------------------------------------------------------


def _operand_vectors(
    ctx: LayerContext,
    o: OperandContext,
    loops: tuple[tuple[str, int], ...],
    shared_pos: dict[int, int],
    canonical: bool,
) -> list[tuple[tuple[int, ...], tuple[float, ...]]]:
    """Cut vectors of ``o`` for one order that fit every memory ``o`` alone occupies.

    Returns ``(cuts, usage)`` pairs in lexicographic order of ``cuts``; ``usage`` holds the operand's bits in
    each shared memory (index ``shared_pos[mem.index]``, 0 elsewhere). Bits follow
    :func:`~cpmap.cost.capacity.capacity_violations` term by term, so the sums match it exactly.
    """
    layer = ctx.layer
    k = len(loops)
    n_lv = len(o.chain)
    # extents of the prefixes loops[:c], c = 0..k
    exts: list[dict[str, float]] = [{}]
    for d, s in loops:
        e = dict(exts[-1])
        e[d] = e[d] * s if d in e else s
        exts.append(e)
    tiles = [[tile_elements(o, layer, exts[c], o.spatial_frac.cum_extent[m]) for c in range(k + 1)] for m in range(n_lv)]
    # the precision of level m depends on where the level starts (output: an ir loop left above or not)
    ir_left = [any(d in o.irrelevant_dims for d, _ in loops[s:]) for s in range(k + 1)]
    precs = [[allocation_precision(ctx, o, m, ir_left[s]) for s in range(k + 1)] for m in range(n_lv)]
    allowed = [c for c in range(k + 1) if not canonical or c == k or loops[c][0] not in o.irrelevant_dims]
    n_shared = len(shared_pos)
    out: list[tuple[tuple[int, ...], tuple[float, ...]]] = []
    cuts: list[int] = []
    usage = [0.0] * n_shared

    def bits(m: int, start: int, c: int) -> float:
        return occupied_bits(tiles[m][c], tiles[m][k], precs[m][start], o.chain[m].force_double_buffering)

    def level(m: int, start: int) -> None:
        mem = o.chain[m]
        top = m == n_lv - 1
        for c in ([k] if top else [c for c in allowed if c >= start]):
            b = bits(m, start, c)
            # other operands only add to a shared memory: a tile that overflows alone never fits
            # (not a break: a forced-double-buffering doubling makes the bits non-monotone in c)
            if b > mem.size:
                continue
            pos = shared_pos.get(mem.index)
            if pos is not None:
                usage[pos] = b
            cuts.append(c)
            if top:
                out.append((tuple(cuts), tuple(usage)))
            else:
                level(m + 1, c)
            cuts.pop()
            if pos is not None:
                usage[pos] = 0.0

    level(0, 0)
    return out


# --------------------------------------------------------------------------------------------------------
# search
# --------------------------------------------------------------------------------------------------------


class _Enumeration:
    """The state of one enumeration: the incumbent, the counters, and what the bounds need."""

    def __init__(self, ctx: LayerContext, objective: str, cutoff: float | None, canonical: bool, prune: bool, visit, space: SpaceSize):
        self.ctx, self.objective, self.cutoff, self.canonical, self.visit = ctx, objective, cutoff, canonical, visit
        self.operands = ctx.operands
        # memories holding several operands of this layer: checked jointly on the product
        holders: dict[int, int] = {}
        for o in self.operands:
            for mem in o.chain:
                holders[mem.index] = holders.get(mem.index, 0) + 1
        shared = [mem for mem in ctx.accelerator.memories if holders.get(mem.index, 0) > 1]
        self.shared_pos = {mem.index: i for i, mem in enumerate(shared)}
        self.shared_size = [mem.size for mem in shared]
        self.bnb = prune and objective in ("energy", "edp")
        # latency >= T_tot + systolic drain (stall/slack, on- and off-loading are >= 0): the EDP bound's factor
        self.lat_lb = latency_floor(ctx) if objective == "edp" else 1
        self.res = ExhaustiveResult(None, None, space)
        self.best_tm: TemporalMapping | None = None
        self.best: CostResult | None = None
        self.skipped = 0  # branches cut by the energy bound

    def threshold(self) -> float:
        """Objective value a combination must not exceed to matter: the incumbent's, or the cutoff."""
        t = math.inf
        if self.best is not None:
            t = self.best.energy if self.objective == "energy" else self.best.energy * self.best.latency
        return t if self.cutoff is None else min(t, self.cutoff)

    def operand_energies(self, order, vecs) -> list[list[list[float]]]:
        """Per operand and cut vector, its memory energy per level (it does not depend on the other operands)."""
        base = {o.name: v[0][0] for o, v in zip(self.operands, vecs)}
        energies = []
        for o, v in zip(self.operands, vecs):
            rows = []
            for cuts, _ in v:
                c = evaluate_temporal(self.ctx, TemporalMapping(order, dict(base, **{o.name: cuts})), detail=True)
                self.res.evaluations += 1
                rows.append([c.energy_breakdown[o.name][mem.name] for mem in o.chain])
            energies.append(rows)
        return energies

    def order(self, order) -> None:
        """Every feasible combination of per-operand cut vectors of one loop order."""
        vecs = [_operand_vectors(self.ctx, o, order, self.shared_pos, self.canonical) for o in self.operands]
        if not all(vecs):
            return
        self.res.orders_fitting += 1
        self.res.cut_vectors += sum(len(v) for v in vecs)
        n_ops = len(self.operands)
        energies: list[list[list[float]]] | None = None
        rest_min: list[float] = []
        # worth one cost-model call per vector only when the product over operands is larger
        if self.bnb and math.prod(len(v) for v in vecs) > sum(len(v) for v in vecs):
            energies = self.operand_energies(order, vecs)
            op_min = [min(sum(r) for r in rows) for rows in energies]
            rest_min = [sum(op_min[i:]) for i in range(n_ops + 1)]
        chosen = [0] * n_ops

        def combos(i: int, used: list[float], partial: float) -> None:
            """Depth-first over operands: shared-memory capacity on partial sums, energy bound."""
            if i == n_ops:
                self.leaf(order, vecs, chosen, energies, partial)
                return
            for j, (_, usage) in enumerate(vecs[i]):
                new = [u + x if x else u for u, x in zip(used, usage)]
                if any(u > s for u, s in zip(new, self.shared_size)):
                    continue
                nxt = partial
                if energies is not None:
                    for e in energies[i][j]:
                        nxt += e
                    # the other operands' minima are summed in another association: keep a slack
                    if i + 1 < n_ops and (nxt + rest_min[i + 1] + self.ctx.mac_energy) * self.lat_lb > self.threshold() * (1 + _BOUND_SLACK):
                        self.skipped += 1
                        continue
                chosen[i] = j
                combos(i + 1, new, nxt)

        combos(0, [0.0] * len(self.shared_size), 0)

    def leaf(self, order, vecs, chosen: list[int], energies, partial: float) -> None:
        """Cost the combination in ``chosen`` unless its exact energy already rules it out."""
        ctx, lat_lb = self.ctx, self.lat_lb
        if energies is not None:
            # summed as the cost model sums it (operand by operand, level by level, from 0): exact
            exact = partial + ctx.mac_energy
            # latency >= lat_lb and rounding is monotone, so this is a true bound on the objective
            if exact * lat_lb > self.threshold():
                self.skipped += 1
                return
        tm = TemporalMapping(order, {o.name: vecs[i][chosen[i]][0] for i, o in enumerate(self.operands)})
        cost = evaluate_temporal(ctx, tm, detail=False)
        self.res.evaluations += 1
        if self.visit is not None:
            self.visit(tm, cost)
        if energies is not None and (cost.energy != exact or cost.latency < lat_lb):
            # the per-operand decomposition or the latency floor no longer holds: the bounds are unsafe
            raise AssertionError(
                f"bound check: per-operand energies sum to {exact} (cost model: {cost.energy}), latency {cost.latency} vs floor {lat_lb}"
            )
        if better(self.objective, cost, self.best):
            self.best_tm, self.best = tm, cost


def exhaustive_temporal(
    ctx: LayerContext,
    objective: str = "energy",
    max_space: int | None = 2_000_000,
    cutoff: float | None = None,
    canonical: bool = True,
    prune: bool = True,
    visit: Callable[[TemporalMapping, CostResult], None] | None = None,
    ordering: TemporalOrdering | None = None,
) -> ExhaustiveResult:
    """Enumerate every order and every feasible per-operand split; return the best by ``objective``.

    Raises :class:`SpaceTooLarge` when the unpruned space exceeds ``max_space`` (``None``: no limit).
    ``canonical`` (stationary cuts only) and ``prune`` (energy branch-and-bound) are the reductions of the
    module docstring; switching them off gives the plain enumeration (for tests). With ``cutoff`` only
    mappings whose objective value may be <= ``cutoff`` are costed. ``visit(tm, cost)`` sees every costed
    mapping (with ``prune=False``: every mapping of the space that fits). ``ordering``: only the loop orders a
    partial user ordering allows (:meth:`~cpmap.ordering.TemporalOrdering.accepts`) are enumerated.
    """
    if objective not in OBJECTIVES:
        raise ValueError(f"unknown objective {objective!r}")
    t0 = time.perf_counter()
    space = search_space(ctx, ordering)
    if max_space is not None and space.total > max_space:
        raise SpaceTooLarge(ctx.layer.name, space.total, max_space)
    run = _Enumeration(ctx, objective, cutoff, canonical, prune, visit, space)
    orders = constrained_orders(list(space.factors), ordering) if ordering else multiset_permutations(list(space.factors))
    for order in orders:
        run.order(order)
    res, best_tm, best = run.res, run.best_tm, run.best
    # Skipped branches have objective values above the threshold of their time (the incumbent's or the
    # cutoff). A winner at or below the cutoff is therefore optimal; above it (or none with something
    # skipped) only "nothing reaches the cutoff" is proven.
    if cutoff is not None and run.skipped and (best is None or objective_value(objective, best) > cutoff):
        res.pruned = True
        best_tm = best = None
    if best_tm is not None:
        best = evaluate_temporal(ctx, best_tm, detail=True)
    res.temporal, res.cost = best_tm, best
    res.stats = {
        "space": space.total,
        "orders": space.orders,
        "orders_fitting": res.orders_fitting,
        "cut_vectors": res.cut_vectors,
        "evaluations": res.evaluations,
        "skipped": run.skipped,
        "seconds": round(time.perf_counter() - t0, 3),
    }
    return res


def exhaustive_front(ctx: LayerContext, max_space: int | None = 2_000_000) -> list[tuple[float, float, TemporalMapping]]:
    """The energy-latency Pareto front of ``ctx`` by enumeration: ``(energy, latency, mapping)`` of every
    non-dominated pair, sorted by energy (the ground truth of ``cpmap pareto`` on small layers)."""
    seen: list[tuple[float, float, TemporalMapping]] = []

    def keep(tm: TemporalMapping, cost: CostResult) -> None:
        seen.append((cost.energy, cost.latency, tm))

    exhaustive_temporal(ctx, "energy", max_space, prune=False, visit=keep)
    front: list[tuple[float, float, TemporalMapping]] = []
    for e, lat, tm in sorted(seen, key=lambda x: (x[0], x[1])):
        if not front or lat < front[-1][1]:
            front.append((e, lat, tm))
    return front


def exhaustive(ctx: LayerContext, options: EngineOptions) -> EngineResult:
    """The exhaustive engine: status ``optimal`` (proof by enumeration), ``infeasible`` or ``pruned``.

    Reads ``objective``, ``max_space`` (raises :class:`SpaceTooLarge` above it), ``cutoff`` and ``ordering`` (a
    partial user ordering: the enumeration keeps the orders its block rule accepts); ignores the
    LPF limit (prime factors are never merged), ``time_limit`` and ``hint``.
    """
    ordering = TemporalOrdering(options.ordering)
    r = exhaustive_temporal(ctx, options.objective, options.max_space, options.cutoff, ordering=ordering)
    if r.pruned:
        return EngineResult(
            Status.PRUNED,
            bound=options.cutoff,
            message=f"no temporal mapping reaches the cutoff {options.cutoff:g}",
            stats=r.stats,
        )
    if r.cost is None:
        if ordering and r.space.orders == 0:
            return EngineResult(Status.INFEASIBLE, message=f"no order of the prime factors satisfies the temporal_ordering {ordering}", stats=r.stats)
        return EngineResult(
            Status.INFEASIBLE,
            message=(
                f"layer {ctx.layer.name}: none of the {r.space.total:,} temporal mappings "
                f"({r.space.orders:,} loop orders x level splits) fits the memories"
            ),
            stats=r.stats,
        )
    value = objective_value(options.objective, r.cost)
    return EngineResult(Status.OPTIMAL, r.temporal, r.cost, value, value, stats=r.stats)
