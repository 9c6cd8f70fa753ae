"""The temporal-mapping problem of one layer under one spatial mapping, independent of any solver
(spec cost_model.md section 9).

Formulation by *tile chains*. Every cut of every operand is a prefix of one global loop order, so the
temporal tiles at all cuts (vectors of per-dim extents, written as exponents of the primes of the temporal
sizes) are totally ordered by divisibility; conversely any chain of such tiles is realised by an order
that adds, between consecutive tiles, the missing prime factors. The decisions are therefore:

* per operand ``o`` and level ``m < M_o - 1``, the tile ``t(o, m)`` at the level's cut (nondecreasing in
  ``m``; the top level holds everything);
* per input operand, the tile ``s(o)`` of the irrelevant prefix of the order (MAC-level stationarity,
  ``stat_o`` of spec 3.4), below ``t(o, 0)``;
* all these tiles pairwise comparable (a chain).

Given the chain, energy is *separable*: every word term of spec 4.3 anchored at a cut (the level's own
refills/write-backs, and the transfers of the level above to and from it) depends only on that cut's tile
(tile elements ``D``, period count ``T / prod(t)``, and for the output the partial-sum flag ``psum(m+1)``
= some O-irrelevant dim not complete in ``t``). So each chain element carries a table: tile -> energy
(exact, scaled integer) and the quantities of the capacity check (unrounded tile elements, the
"O-irrelevant loop left above" flag of the allocator's precision rule, the double-buffering flag).

Why this is exact: the cost model moves each cut up over the run of irrelevant loops above it (the
stationary merge-down); doing so never increases any term (periods only grow, partial-sum flags only
clear, tiles of the relevant dims are unchanged), so the chain objective of a decoded mapping is never
below the cost model's value, and the objective of the stationary tiles of any mapping equals its cost.
Hence the chain optimum equals the optimum over all loop orders and free (not greedy) per-operand level
splits, and at the optimum the decoded mapping's cost equals the objective. The engines re-evaluate
every solution with the cost model and compare.

Tables are built with the cost model's own functions (:func:`~cpmap.cost.model.tile_elements`,
:func:`~cpmap.cost.model.word_count`); costs per word are exact decimals.
"""

from __future__ import annotations

import itertools
import math
from dataclasses import dataclass
from fractions import Fraction

from .cost.model import RD_DOWN, RD_UP, WR_DOWN, WR_UP, LayerContext, _port_missing, tile_elements, word_count
from .engines.allocator import spatial_ir_above
from .errors import EngineRefusal
from .factors import prime_factors
from .mapping import TemporalMapping

#: refuse to build a formulation whose tables together exceed this many rows
MAX_TABLE_ROWS = 2_000_000


class FormulationTooLarge(EngineRefusal):
    """The layer's tile tables would be too large for the exact engines."""


class FormulationUnsupported(EngineRefusal):
    """A cost term the formulation does not encode (the engines report the layer as skipped)."""


@dataclass(frozen=True)
class ChainElement:
    """One tile of the chain: operand ``operand`` at level ``level`` (``-1``: the stationarity prefix).

    ``rows[i]`` holds exponents per ``coords`` entry; ``energy[i]`` is the scaled energy of the terms
    anchored at this tile; ``elements[i]`` the unrounded tile elements (capacity), ``ir_left[i]`` (output)
    whether an O-irrelevant loop remains above, ``doubled[i]`` whether a forced double buffer doubles it.
    """

    operand: int
    level: int
    rows: tuple[tuple[int, ...], ...]
    energy: tuple[int, ...]
    elements: tuple[Fraction, ...]
    ir_left: tuple[bool, ...]
    doubled: tuple[bool, ...]
    free: tuple[bool, ...]  # per coordinate: may be nonzero (stationarity prefix: irrelevant dims only)


@dataclass(frozen=True)
class CapacityMember:
    """One operand level stored in a memory: its tile comes from a chain element or is the whole
    operand (``element is None``); its precision is partial when ``flag_element``'s ``ir_left`` is set
    (or always/never: ``flag_const``)."""

    operand: int
    level: int
    element: int | None
    full_elements: Fraction
    flag_element: int | None
    flag_const: bool
    precision: tuple[int, int]  # (partial, final)


@dataclass(frozen=True)
class CapacityGroup:
    memory: str
    size: int
    members: tuple[CapacityMember, ...]


@dataclass(frozen=True)
class TemporalFormulation:
    """The exact energy-minimisation problem of one layer for one spatial mapping (tile chains)."""

    ctx: LayerContext
    coords: tuple[tuple[str, int], ...]  # (dim, prime) per exponent coordinate
    max_exp: tuple[int, ...]
    elements: tuple[ChainElement, ...]
    #: per operand: indices of its level elements, bottom-up (levels 0..M-2), and of its prefix element
    operand_elements: tuple[tuple[int, ...], ...]
    prefix_element: tuple[int | None, ...]
    constant_energy: int  # scaled: terms that no decision changes
    cost_scale: int  # energy = (scaled objective) / cost_scale + MAC energy
    capacity: tuple[CapacityGroup, ...]
    infeasible: str = ""  # a reason when a constant part already violates capacity

    def energy(self, scaled: int) -> Fraction:
        return Fraction(scaled, self.cost_scale) + Fraction(self.ctx.mac_energy)

    def decode(self, tiles: list[tuple[int, ...]]) -> TemporalMapping:
        """The loop order realising the chain of ``tiles`` (one exponent vector per element), and each
        operand's cuts at its level tiles."""
        distinct = sorted(set(tiles), key=lambda v: (sum(v), v))
        order: list[tuple[str, int]] = []
        done = [0] * len(self.coords)
        position = {}
        for v in [*distinct, self.max_exp]:
            for i, (d, p) in enumerate(self.coords):
                if v[i] < done[i]:
                    raise ValueError("tiles do not form a chain")
                order.extend([(d, p)] * (v[i] - done[i]))
                done[i] = v[i]
            position[v] = len(order)
        cuts = {}
        for oi, o in enumerate(self.ctx.operands):
            cs = [position[tiles[e]] for e in self.operand_elements[oi]]
            cuts[o.name] = tuple([*cs, len(order)])
        return TemporalMapping(tuple(order), cuts)

    def encode(self, tm: TemporalMapping) -> list[tuple[int, ...]] | None:
        """Chain tiles of a mapping (raw cuts; the prefix tile = the irrelevant prefix), or ``None``."""
        index = {c: i for i, c in enumerate(self.coords)}
        prefix = [[0] * len(self.coords)]
        for d, s in tm.loops:
            v = list(prefix[-1])
            for p in prime_factors(s) if s > 1 else []:
                if (d, p) not in index:
                    return None
                v[index[(d, p)]] += 1
            prefix.append(v)
        if tuple(prefix[-1]) != self.max_exp:
            return None
        tiles: list[tuple[int, ...]] = [()] * len(self.elements)
        for oi, o in enumerate(self.ctx.operands):
            for m, e in enumerate(self.operand_elements[oi]):
                tiles[e] = tuple(prefix[tm.cuts[o.name][m]])
            pe = self.prefix_element[oi]
            if pe is not None:
                run = 0
                while run < len(tm.loops) and tm.loops[run][0] in o.ir:
                    run += 1
                tiles[pe] = tuple(prefix[run])
        return tiles


def _cost(x: float) -> Fraction:
    # per-word costs come from decimal YAML values: their shortest repr is the intended decimal
    return Fraction(repr(float(x)))


def _exact(x: float) -> Fraction:
    # tile counts are products of integers and fractional unrollings size/t/E; recover that rational
    return Fraction(x).limit_denominator(10**6)


def formulate(ctx: LayerContext) -> TemporalFormulation:
    """Build the tile-chain formulation of ``ctx`` (raises :class:`FormulationTooLarge`)."""
    layer = ctx.layer
    if ctx.imc is not None and ctx.imc.precharge_per_pe:
        # the bitline precharge of cells holding several weights depends on the loop order inside the cells
        raise FormulationUnsupported(f"layer {layer.name}: IMC cells holding several weights (precharge energy) are not encoded by the exact engines; use --engine loma")
    sizes = dict(ctx.temporal_sizes)
    total = ctx.total_cycles
    coords: list[tuple[str, int]] = []
    max_exp: list[int] = []
    for d, s in sizes.items():
        ps = prime_factors(s)
        for p in sorted(set(ps)):
            coords.append((d, p))
            max_exp.append(ps.count(p))
    n_rows = math.prod(e + 1 for e in max_exp)
    n_levels = sum(len(o.chain) for o in ctx.operands)
    if n_rows * n_levels > MAX_TABLE_ROWS:
        raise FormulationTooLarge(f"layer {layer.name}: {n_rows} tiles x {n_levels} levels exceed the exact engines' table limit {MAX_TABLE_ROWS}")
    all_rows = list(itertools.product(*(range(e + 1) for e in max_exp)))
    tiles_of = []
    for row in all_rows:
        t: dict[str, int] = {}
        for (d, p), e in zip(coords, row):
            if e:
                t[d] = t.get(d, 1) * p**e
        tiles_of.append(t)
    products = [math.prod(t.values()) for t in tiles_of]
    costs = [[(_cost(r), _cost(w)) for r, w in o.costs] for o in ctx.operands]
    scale = 1
    for cs in costs:
        for r, w in cs:
            scale = math.lcm(scale, r.denominator, w.denominator)

    def words(o, m: int, direction: int, amount: int, prec: int, n: int) -> int:
        bw = o.ports[m][direction]
        if bw is None:
            raise _port_missing(ctx, o, m, direction)
        return word_count(amount, prec, bw[0], bw[1], n, o.spatial_frac.instances[m + 1])

    int_costs = [[(int(r * scale), int(w * scale)) for r, w in cs] for cs in costs]

    def scaled(o_idx: int, m: int, reads: int, writes: int) -> int:
        r, w = int_costs[o_idx][m]
        return r * reads + w * writes

    elements: list[ChainElement] = []
    operand_elements: list[tuple[int, ...]] = []
    prefix_element: list[int | None] = []
    constant = 0
    for oi, o in enumerate(ctx.operands):
        sp = o.spatial_frac
        n_lv = len(o.chain)
        ir_coords = [i for i, (d, _) in enumerate(coords) if d in o.ir]
        spatial_psum = [any(o.spatial_ir_frac[m + 1 :]) for m in range(n_lv + 1)]
        p_part, p_fin = o.precision, o.final_precision
        ids = []
        for m in range(n_lv - 1):
            energy, elems, ir_left, doubled = [], [], [], []
            full_m = _exact(tile_elements(o, layer, sizes, sp.cum_extent[m]))
            for row, t, prod in zip(all_rows, tiles_of, products):
                raw = tile_elements(o, layer, t, sp.cum_extent[m])
                data = round(raw)
                n = total // prod
                left = any(row[i] < max_exp[i] for i in ir_coords)
                amount_up = data * sp.boost[m + 1]
                if o.is_output:
                    psum_next = left or spatial_psum[m + 1]
                    p = p_part if psum_next else p_fin
                    w_own = words(o, m, RD_UP, data, p, n)
                    own = scaled(oi, m, w_own, words(o, m, WR_DOWN, data, p, n) if psum_next else 0)
                    w_up = words(o, m + 1, WR_UP, amount_up, p, n)
                    above = scaled(oi, m + 1, words(o, m + 1, RD_DOWN, amount_up, p, n) if psum_next else 0, w_up)
                else:
                    own = scaled(oi, m, 0, words(o, m, WR_DOWN, data, o.precision, n))
                    above = scaled(oi, m + 1, words(o, m + 1, RD_DOWN, amount_up, o.precision, n), 0)
                energy.append(own + above)
                ex = _exact(raw)
                elems.append(ex)
                ir_left.append(left)
                doubled.append(o.chain[m].force_double_buffering and ex < full_m)
            # a tile that alone overflows its memory (at the smaller precision) can never be chosen:
            # dropping it shrinks every table and domain without changing the problem
            size, p_min = o.chain[m].size, min(p_part, p_fin)
            keep = [i for i in range(len(all_rows)) if elems[i] * p_min * (2 if doubled[i] else 1) <= size]
            if not keep:
                keep = [0]  # the empty tile: infeasibility is then proven by the capacity constraint
            ids.append(len(elements))
            elements.append(
                ChainElement(
                    oi,
                    m,
                    tuple(all_rows[i] for i in keep),
                    tuple(energy[i] for i in keep),
                    tuple(elems[i] for i in keep),
                    tuple(ir_left[i] for i in keep),
                    tuple(doubled[i] for i in keep),
                    tuple(True for _ in coords),
                )
            )
        operand_elements.append(tuple(ids))
        # level -1: transfers between the innermost level and the array
        if o.is_output:
            psum0 = bool(ir_coords) or spatial_psum[0]
            p = p_part if psum0 else p_fin
            amount = sp.boost[0]
            w_up = words(o, 0, WR_UP, amount, p, total)
            constant += scaled(oi, 0, words(o, 0, RD_DOWN, amount, p, total) if psum0 else 0, w_up)
            prefix_element.append(None)
        else:
            amount = sp.boost[0]
            if ir_coords:
                energy = []
                rows = []
                for row, prod in zip(all_rows, products):
                    if any(row[i] for i in range(len(coords)) if i not in ir_coords):
                        continue
                    rows.append(row)
                    energy.append(scaled(oi, 0, words(o, 0, RD_DOWN, amount, o.precision, total // prod), 0))
                prefix_element.append(len(elements))
                free = tuple(i in ir_coords for i in range(len(coords)))
                elements.append(ChainElement(oi, -1, tuple(rows), tuple(energy), (), (), (), free))
            else:
                constant += scaled(oi, 0, words(o, 0, RD_DOWN, amount, o.precision, total), 0)
                prefix_element.append(None)
    # capacity
    groups = []
    reasons = []
    for mem in ctx.accelerator.memories:
        members = []
        for oi, o in enumerate(ctx.operands):
            if mem not in o.chain:
                continue
            m = o.chain.index(mem)
            n_lv = len(o.chain)
            sp = o.spatial_frac
            ir_temporal = any(d in o.ir for d in sizes)
            alloc_spatial = spatial_ir_above(ctx, o, m)
            flag_el, flag_const = None, True
            if o.is_output and not alloc_spatial:
                if m == 0:
                    flag_const = ir_temporal
                else:
                    flag_el = operand_elements[oi][m - 1]
            full = _exact(tile_elements(o, layer, sizes, sp.cum_extent[m]))
            el = operand_elements[oi][m] if m < n_lv - 1 else None
            prec = (o.precision, o.final_precision) if o.is_output else (o.precision, o.precision)
            members.append(CapacityMember(oi, m, el, full, flag_el, flag_const, prec))
        if members:
            groups.append(CapacityGroup(mem.name, mem.size, tuple(members)))
            # the tops alone (everything stored there) must fit whatever the mapping
            fixed = sum(mb.full_elements * mb.precision[1] for mb in members if mb.element is None)
            if fixed > mem.size:
                reasons.append(f"{mem.name} cannot hold the whole operands stored there ({float(fixed):g} > {mem.size} bits)")
    return TemporalFormulation(
        ctx=ctx,
        coords=tuple(coords),
        max_exp=tuple(max_exp),
        elements=tuple(elements),
        operand_elements=tuple(operand_elements),
        prefix_element=tuple(prefix_element),
        constant_energy=constant,
        cost_scale=scale,
        capacity=tuple(groups),
        infeasible="; ".join(reasons),
    )
