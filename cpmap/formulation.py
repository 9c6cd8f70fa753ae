"""The temporal-mapping problem of one layer under one spatial mapping, independent of any solver
(spec cost_model.md section 9).

Decisions: the order of all prime factors of the temporal loop sizes (no LPF merging) and, per operand,
the cut positions of its memory levels in that order (free, not greedy). Everything the energy objective
needs is derived here from the cost model's own functions, so the backends (CP-SAT, MILP) only encode
structure:

* a slot model: factor ``j`` sits in slot ``pos_j``; identical factors are interchangeable;
* per operand and level, a *tile table*: for every combination of temporal tile extents of the dims that
  matter to the operand (divisors of the temporal sizes), the rounded element count ``D`` the cost model
  uses for data movement (stationary tiles) and the exact unrounded count the allocator uses for capacity
  (raw tiles). Both come from :func:`cpmap.cost.model.tile_elements`, spatial extents included;
* word terms: ``words = floor(ceil(A*p/bw_min) * n * N * bw_min / bw_max)`` with ``A`` = tile elements
  (times the fan-out boost for transfers to the level below), ``n`` = number of periods, ``N`` = instances
  (spec 5.2), priced with exact rational costs;
* capacity groups: per memory, the (operand, level) pairs stored there.

The backends must reproduce ``evaluate_temporal``'s energy for the decoded mapping exactly; the engines
re-evaluate every solution and compare.
"""

from __future__ import annotations

import itertools
from dataclasses import dataclass
from fractions import Fraction

from .cost.model import RD_DOWN, RD_UP, WR_DOWN, WR_UP, LayerContext, tile_elements
from .factors import divisors, prime_factors
from .mapping import TemporalMapping

#: refuse to build tables larger than this (rows per operand level); the engine reports it
MAX_TABLE_ROWS = 400_000


@dataclass(frozen=True)
class Factor:
    """One prime factor of a temporal loop size: a loop of the order."""

    dim: str
    prime: int


@dataclass(frozen=True)
class TileTable:
    """Tile element counts of one operand level as a function of the temporal tile extents of ``dims``."""

    dims: tuple[str, ...]
    extents: tuple[tuple[int, ...], ...]  # one row per combination of divisors
    rounded: tuple[int, ...]  # D as the data-movement model uses it (rounded)
    exact: tuple[Fraction, ...]  # unrounded elements, as the allocator's capacity check uses them


@dataclass(frozen=True)
class WordTerm:
    """One priced direction of one operand level (spec 4.3, 5.2).

    ``side == 'below'``: amount ``D(m-1) * boost``, periods counted at the stationary cut of level m-1
    (level -1: the MAC-level stationarity prefix for inputs, every cycle for the output);
    ``side == 'own'``: amount ``D(m)``, periods at the stationary cut of level m.
    ``psum`` (output only): index of the partial-sum flag that selects the transfer precision
    (``precision[0]`` partial if set, ``precision[1]`` final otherwise); ``conditional``: the direction
    carries data only when that flag is set.
    """

    operand: int
    level: int
    direction: int
    side: str
    boost: int
    instances: int
    bw_min: int
    bw_max: int
    cost: Fraction
    precision: tuple[int, int]
    psum: int | None
    conditional: bool


@dataclass(frozen=True)
class OperandModel:
    """What the backends need about one layer operand."""

    name: str
    levels: int
    is_output: bool
    ir_factors: frozenset[int]  # indices of factors whose dim is irrelevant for the operand
    tables: tuple[TileTable, ...]  # levels 0..M-2 (the top level's tile is constant)
    #: per level 0..M-1: unrounded elements of the tile of all loops at that level's spatial extents
    #: (the top level's content; the "whole remaining tile" of the double-buffering rule)
    full_exact: tuple[Fraction, ...]
    #: allocator precision per level: (partial, final); the output uses partial while an O-ir loop is left
    #: above the previous cut or an O-ir dim is unrolled above the level
    alloc_precision: tuple[int, int]
    alloc_spatial_ir: tuple[bool, ...]  # per level m: an O-ir dim name in su[m+1..]
    psum_spatial_ir: tuple[bool, ...]  # per m = 0..M: an O-ir spatial factor > 1 in su[m+1..] (fractional variant)


@dataclass(frozen=True)
class CapacityGroup:
    """One memory and the (operand index, level) tiles it holds at the same time."""

    memory: str
    size: int
    double_buffered: bool  # force_double_buffering
    members: tuple[tuple[int, int], ...]


@dataclass(frozen=True)
class TemporalFormulation:
    """The exact energy-minimisation problem of one layer for one spatial mapping."""

    ctx: LayerContext
    factors: tuple[Factor, ...]
    temporal_sizes: dict[str, int]
    total_cycles: int
    operands: tuple[OperandModel, ...]
    terms: tuple[WordTerm, ...]
    capacity: tuple[CapacityGroup, ...]
    mac_energy: float

    @property
    def slots(self) -> int:
        return len(self.factors)

    def decode(self, slot_of_factor: list[int], cuts: dict[str, tuple[int, ...]]) -> TemporalMapping:
        """The mapping of a solution: factors placed by slot, the operands' cut positions as given."""
        order: list[tuple[str, int]] = [None] * self.slots  # type: ignore[list-item]
        for j, k in enumerate(slot_of_factor):
            order[k] = (self.factors[j].dim, self.factors[j].prime)
        return TemporalMapping(tuple(order), {o: tuple(c) for o, c in cuts.items()})

    def encode(self, tm: TemporalMapping) -> tuple[list[int], dict[str, tuple[int, ...]]] | None:
        """Slots and cuts of a mapping whose loops are primes or products of primes of one dim (a LOMA
        result): merged factors are split into consecutive prime slots; ``None`` if it does not fit."""
        expanded: list[tuple[str, int]] = []
        new_index = [0]
        for d, s in tm.loops:
            for p in prime_factors(s):
                expanded.append((d, p))
            new_index.append(len(expanded))
        free: dict[tuple[str, int], list[int]] = {}
        for j, f in enumerate(self.factors):
            free.setdefault((f.dim, f.prime), []).append(j)
        slot_of = [0] * self.slots
        if len(expanded) != self.slots:
            return None
        for k, key in enumerate(expanded):
            if not free.get(key):
                return None
            slot_of[free[key].pop(0)] = k
        cuts = {o: tuple(new_index[c] for c in cs) for o, cs in tm.cuts.items()}
        return slot_of, cuts


def _exact(x: float) -> Fraction:
    # tile counts are products of integers and fractional unrollings size/t/E; recover that rational
    return Fraction(x).limit_denominator(10**6)


def _cost(x: float) -> Fraction:
    # per-word costs come from decimal YAML values: their shortest repr is the intended decimal
    return Fraction(repr(float(x)))


def formulate(ctx: LayerContext) -> TemporalFormulation:
    """Build the solver-independent description of the temporal problem of ``ctx``."""
    layer = ctx.layer
    sizes = dict(ctx.temporal_sizes)
    factors = tuple(Factor(d, p) for d, s in sizes.items() for p in prime_factors(s))
    operands: list[OperandModel] = []
    terms: list[WordTerm] = []
    for oi, o in enumerate(ctx.operands):
        n_lv = len(o.chain)
        sp = o.spatial_frac
        dims = tuple(d for d in sizes if d in o.r or any(d in (pr[0], pr[1]) for pr in o.pr_dims))
        tables = []
        for m in range(n_lv - 1):
            combos = list(itertools.product(*(divisors(sizes[d]) for d in dims)))
            if len(combos) > MAX_TABLE_ROWS:
                raise ValueError(f"tile table of {o.name} level {m} has {len(combos)} rows")
            rounded, exact = [], []
            for combo in combos:
                val = tile_elements(o, layer, dict(zip(dims, combo)), sp.cum_extent[m])
                rounded.append(round(val))
                exact.append(_exact(val))
            tables.append(TileTable(dims, tuple(combos), tuple(rounded), tuple(exact)))
        full_exact = tuple(_exact(tile_elements(o, layer, dict(sizes), sp.cum_extent[m])) for m in range(n_lv))
        ir_factors = frozenset(j for j, f in enumerate(factors) if f.dim in o.ir)
        alloc_ir = tuple(any(d in o.ir and layer.loop_sizes.get(d, 1) > 1 for su in sp.su[m + 1 :] for d, _ in su) for m in range(n_lv))
        operands.append(
            OperandModel(
                name=o.name,
                levels=n_lv,
                is_output=o.is_output,
                ir_factors=ir_factors,
                tables=tuple(tables),
                full_exact=full_exact,
                alloc_precision=(o.precision, o.final_precision),
                alloc_spatial_ir=alloc_ir,
                psum_spatial_ir=tuple(any(o.spatial_ir_frac[m + 1 :]) for m in range(n_lv + 1)),
            )
        )
        prec = (o.precision, o.final_precision)
        for m in range(n_lv):
            top = m == n_lv - 1
            inst = sp.instances[m + 1]
            r_cost, w_cost = (_cost(c) for c in o.costs[m])

            def term(direction: int, side: str, psum: int | None, conditional: bool, cost: Fraction) -> None:
                bw = o.ports[m][direction]
                if bw is None:
                    from .cost.model import _port_missing

                    raise _port_missing(ctx, o, m, direction)
                terms.append(
                    WordTerm(oi, m, direction, side, sp.boost[m] if side == "below" else 1, inst, bw[0], bw[1], cost, prec, psum, conditional)
                )

            if o.is_output:
                term(WR_UP, "below", m, False, w_cost)
                term(RD_DOWN, "below", m, True, r_cost)
                if not top:
                    term(RD_UP, "own", m + 1, False, r_cost)
                    term(WR_DOWN, "own", m + 1, True, w_cost)
            else:
                term(RD_DOWN, "below", None, False, r_cost)
                if not top:
                    term(WR_DOWN, "own", None, False, w_cost)
    capacity = []
    for mem in ctx.accelerator.memories:
        members = tuple((oi, o.chain.index(mem)) for oi, o in enumerate(ctx.operands) if mem in o.chain)
        if members:
            capacity.append(CapacityGroup(mem.name, mem.size, mem.force_double_buffering, members))
    return TemporalFormulation(
        ctx=ctx,
        factors=factors,
        temporal_sizes=sizes,
        total_cycles=ctx.total_cycles,
        operands=tuple(operands),
        terms=tuple(terms),
        capacity=tuple(capacity),
        mac_energy=ctx.mac_energy,
    )
