"""The temporal-mapping problem of one layer under one spatial mapping, independent of any solver
(spec cost_model.md section 9; the latency part follows the design note ``latency_exact.md``).

Formulation by *tile chains*. Every cut of every operand is a prefix of one global loop order, so the
temporal tiles at all cuts (vectors of per-dim extents, written as exponents of the primes of the temporal
sizes) are totally ordered by divisibility; conversely any chain of such tiles is realised by an order
that adds, between consecutive tiles, the missing prime factors (:meth:`TemporalFormulation.decode`).

**Elements of the chain.**

* ``CUT`` ``X(o, l)``, per operand ``o`` and non-top level ``l``: the stationary cut tile of the level (the
  top level holds everything);
* ``PREFIX`` ``S(o)``, per input with irrelevant temporal dims: the maximal irrelevant prefix of the order
  (MAC-level stationarity, ``stat_o`` of spec 3.4);
* boundary elements that pin the order around each cut (latency model only): ``ABOVE`` = the cut plus the
  loop directly above it (which must be relevant to ``o``: the cut is stationary; for ``S(o)`` the loop ends
  the irrelevant prefix); ``BELOW`` = the cut minus the loop directly below it, whose class (relevant,
  irrelevant, partially relevant) is the class of the level's top run; ``RUN`` = the start of that maximal
  run of one class (``topr``/``topir`` of spec 3.4 = product of the run); ``RUN_BELOW`` = the run start minus
  the loop below it, of another class (or the run reaches the level's start).

Two tiles one prime factor apart have nothing between them on a chain, so every order realising the chain
has exactly these cuts, prefixes and runs, and every cost term is a function of the element tiles:

* **energy** is separable: every word term of a link anchored at a cut depends only on that cut's tile
  (:func:`~cpmap.cost.movement.link_transfers`); each ``CUT``/``PREFIX`` element carries a table tile ->
  scaled integer energy;
* **capacity** per memory: each member's bits come from its cut's table (:mod:`cpmap.cost.capacity`);
* **latency** (spec 6): each link's period, period count, real cycles, average bandwidth and partial-sum
  presence are columns of its lower cut's table; double buffering needs ``topr`` (``RUN``), the window needs
  ``topir``; ports, window unions, one-shot records and on/off-loading are structural
  (:class:`LatencyStructure`), encoded by the backend.

Without the boundary elements (energy objective alone) the chain optimum is still exact: moving a cut up
over irrelevant loops never raises an energy term, so non-stationary tiles only overestimate.

Tables are built with the cost model's own functions (movement, word counts, capacity, latency terms); costs
per word are exact decimals.
"""

from __future__ import annotations

import itertools
import math
from dataclasses import dataclass, field
from fractions import Fraction

from .cost.capacity import allocation_precision, occupied_bits
from .cost.energy import transfer_words
from .cost.latency import average_bandwidth, loading_minimum, real_cycles
from .cost.model import RD_DOWN, RD_UP, WR_DOWN, WR_UP, LayerContext, OperandContext, port_missing
from .cost.movement import link_transfers, tile_elements
from .errors import EngineRefusal
from .factors import prime_factors
from .mapping import TemporalMapping
from .ordering import TemporalOrdering, block_ends

#: refuse to build a formulation whose tables together exceed this many rows
MAX_TABLE_ROWS = 2_000_000
#: the latency model's window union enumerates the subsets of the links sharing a port
MAX_UNION_LINKS = 4

CUT, PREFIX, ABOVE, BELOW, RUN, RUN_BELOW, BLOCK = "cut", "prefix", "above", "below", "run", "run_below", "block"
#: classes of a coordinate for an operand
RELEVANT, IRRELEVANT, PARTIAL = "r", "ir", "pr"


class FormulationTooLarge(EngineRefusal):
    """The layer's tile tables would be too large for the exact engines."""


class FormulationUnsupported(EngineRefusal):
    """A cost term the formulation does not encode (the engines report the candidate as skipped)."""


@dataclass(frozen=True)
class ChainElement:
    """One tile of the chain.

    ``rows`` are the allowed tiles (indices into :attr:`TemporalFormulation.tiles`) with one value per row in
    each of ``columns`` (``None``: any tile, no table). ``free[i]``: coordinate ``i`` may be nonzero.
    """

    kind: str
    operand: int
    level: int
    rows: tuple[int, ...] | None
    columns: dict[str, tuple[int, ...]] = field(default_factory=dict, hash=False)
    free: tuple[bool, ...] = ()

    def column(self, name: str) -> tuple[int, ...]:
        return self.columns[name]


@dataclass(frozen=True)
class CapacityMember:
    """One operand level stored in a memory: its bits at the partial and at the final allocation precision
    (per row of ``element``, or constant for a top level), and what selects the precision: the ``ir_left``
    column of ``flag_element`` (partial while an O-irrelevant loop is left above the level's start) or
    ``flag_const``."""

    operand: int
    level: int
    element: int | None
    bits_partial: tuple[int, ...] | int  # scaled by the group's ``scale``
    bits_final: tuple[int, ...] | int
    flag_element: int | None
    flag_const: bool


@dataclass(frozen=True)
class CapacityGroup:
    memory: str
    size: int  # bits x ``scale``
    scale: int
    members: tuple[CapacityMember, ...]


@dataclass(frozen=True)
class RunRef:
    """The boundary elements of the top run of one level (``level = M - 1``: the top level, tile = everything)."""

    operand: int
    level: int
    below: int  # BELOW element
    run: int  # RUN element
    run_below: int  # RUN_BELOW element
    lower_cut: int | None  # CUT element of level - 1 (None: the empty tile)
    cut: int | None  # CUT element of the level (None: the top level, every factor)


@dataclass(frozen=True)
class DbMember:
    """One operand level in a double-buffer group: ``db_bits`` (fractional mapping's tile at its stored
    precision; per row of ``cut`` or constant) is divided by ``topr`` of ``run`` (``None``: topr is 1)."""

    operand: int
    level: int
    cut: int | None
    db_bits: tuple[int, ...] | int
    run: RunRef | None


@dataclass(frozen=True)
class DbGroup:
    """A memory whose double-buffer flags are not constant: members in ZigZag's visiting order."""

    memory: str
    size: int
    members: tuple[DbMember, ...]


@dataclass(frozen=True)
class LinkEnd:
    """One end of a link carried by a port: columns ``real``/``busy``/``bwavg``/``present`` of ``name``."""

    name: str
    level: int
    direction: int
    port: int
    record: bool  # takes part in the loading records (not the output's rd_down/wr_down)
    conditional: bool  # present only while partial sums flow (``present`` column)


@dataclass(frozen=True)
class Link:
    """The data-transfer link between level ``index`` and ``index + 1`` of an operand (``-1``: the array).

    Its quantities are columns of ``element`` (the lower cut, or the prefix for an input's array side) or
    constants (``const``) when no decision changes them. ``db`` is the (group, member) of the lower level's
    double-buffer flag (``None``: always double-buffered, or the array); ``run`` the lower level's run (for
    ``topir``; ``None`` when the window is always the whole period).
    """

    operand: int
    index: int
    element: int | None
    const: dict[str, int]
    ends: tuple[LinkEnd, ...]
    db: tuple[int, int] | None
    run: RunRef | None
    always_full: bool


@dataclass(frozen=True)
class PortPlan:
    """A physical port: its links (anchors of the window union) and ends, and the loading-record entries."""

    index: int  # position in the context's port plan (the ``min<index>`` columns)
    name: str
    bw_max: int
    shared_inputs: bool
    links: tuple[int, ...]  # indices into LatencyStructure.links
    ends: tuple[tuple[int, int], ...]  # (link, end index) in ZigZag's duty order
    one_shot_possible: bool


@dataclass(frozen=True)
class LatencyStructure:
    """Everything the latency model needs besides the tables (spec 6)."""

    total: int  # T
    cycles_per_op: int
    drain: int
    scale: int  # Lambda: lcm of the bw_max of ports with possible one-shot records
    links: tuple[Link, ...]
    ports: tuple[PortPlan, ...]
    runs: tuple[RunRef, ...]
    db_groups: tuple[DbGroup, ...]
    #: per input operand: its memory-to-memory links k as ((link of wr_down at k), (link of rd_down at k+1)) record
    #: keys plus the sharing bucket ("indiv", "shared", "half")
    onload: tuple[tuple[int, tuple[tuple[tuple[int, int] | None, tuple[int, int] | None, str], ...]], ...]
    #: the output's links k: (record key of rd_up at k, record key of wr_up at k+1)
    offload: tuple[tuple[tuple[int, int] | None, tuple[int, int] | None], ...]
    #: per input, per port index: the element holding that input's level-0 tile minimum ("min_<port>" column)
    level0: dict[int, int | None]
    minima_const: dict[tuple[int, int], int]


@dataclass(frozen=True)
class OrderBlock:
    """A user temporal_ordering entry: the ``element`` (kind ``BLOCK``) is the prefix of the order up to the end of
    the entry's block, which holds only loops of the coordinates ``coords`` (of the entry's dim), at least one,
    and exactly ``exponents`` of them when the entry gives a size."""

    element: int
    coords: tuple[int, ...]
    exponents: tuple[int, ...] | None  # per coordinate of the formulation, for a sized entry


@dataclass(frozen=True)
class TemporalFormulation:
    """The exact problem of one layer for one spatial mapping (tile chains)."""

    ctx: LayerContext
    coords: tuple[tuple[str, int], ...]  # (dim, prime) per exponent coordinate
    max_exp: tuple[int, ...]
    tiles: tuple[tuple[int, ...], ...]  # every exponent vector (row of every table)
    products: tuple[int, ...]
    classes: tuple[tuple[str, ...], ...]  # per operand, per coordinate: r / ir / pr
    elements: tuple[ChainElement, ...]
    #: per operand: indices of its CUT elements, bottom-up (levels 0..M-2), and of its PREFIX element
    operand_elements: tuple[tuple[int, ...], ...]
    prefix_element: tuple[int | None, ...]
    #: per CUT / PREFIX element index: its ABOVE element (latency model only)
    above: dict[int, int]
    constant_energy: int  # scaled: terms that no decision changes
    cost_scale: int  # energy = (scaled objective) / cost_scale + MAC energy
    capacity: tuple[CapacityGroup, ...]
    latency: LatencyStructure | None
    infeasible: str = ""  # a reason when a constant part already violates capacity
    #: a partial user temporal_ordering: the blocks the order's innermost loops must form, innermost first
    blocks: tuple[OrderBlock, ...] = ()
    ordering: TemporalOrdering = TemporalOrdering()

    def energy(self, scaled: int) -> Fraction:
        return Fraction(scaled, self.cost_scale) + Fraction(self.ctx.mac_energy)

    def known_order(self) -> set[tuple[int, int]]:
        """Pairs ``(a, b)`` of elements whose tiles satisfy ``a <= b`` in every chain (transitively closed):
        an operand's prefix, cuts and the steps above them grow bottom-up; runs lie between their cuts."""
        le: set[tuple[int, int]] = set()
        for oi, ids in enumerate(self.operand_elements):
            seq = [e for e in [self.prefix_element[oi], *ids] if e is not None]
            le |= {(a, b) for a, b in zip(seq, seq[1:])}
            steps = [self.above[e] for e in seq if e in self.above]
            le |= {(a, b) for a, b in zip(steps, steps[1:])}
            le |= {(e, self.above[e]) for e in seq if e in self.above}
        le |= {(a.element, b.element) for a, b in zip(self.blocks, self.blocks[1:])}
        for run in self.latency.runs if self.latency is not None else ():
            for e in (run.below, run.run):
                if run.lower_cut is not None:
                    le.add((run.lower_cut, e))
                if run.cut is not None:
                    le.add((e, run.cut))
            le.add((run.run_below, run.run))
            if run.lower_cut is not None:
                le.add((run.lower_cut, run.run_below))
        succ: dict[int, set[int]] = {}
        for a, b in le:
            succ.setdefault(a, set()).add(b)
        closed: set[tuple[int, int]] = set()
        for a in succ:
            stack, seen = list(succ[a]), set()
            while stack:
                b = stack.pop()
                if b in seen:
                    continue
                seen.add(b)
                stack.extend(succ.get(b, ()))
            closed |= {(a, b) for b in seen if b != a}
        return closed

    def latency_cycles(self, scaled: int) -> Fraction:
        """Latency in cycles from the backend's scaled integer latency."""
        assert self.latency is not None
        return Fraction(scaled, self.latency.scale)

    def row_of(self, tile: tuple[int, ...]) -> int:
        """Index of an exponent vector in :attr:`tiles` (mixed radix, last coordinate fastest)."""
        r = 0
        for v, e in zip(tile, self.max_exp):
            r = r * (e + 1) + v
        return r

    def decode(self, tiles: list[tuple[int, ...]]) -> TemporalMapping:
        """The loop order realising the chain of ``tiles`` (one exponent vector per element), and each
        operand's cuts at its cut tiles."""
        # elements left out of the model (the boundary elements of an energy-only model) have no tile
        distinct = sorted({t for t in tiles if len(t) == len(self.coords)}, key=lambda v: (sum(v), v))
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
        """The element tiles of a mapping in stationary form (cuts moved up over irrelevant loops, the
        boundary elements read off the order), or ``None`` when its loops are not this layer's primes."""
        index = {c: i for i, c in enumerate(self.coords)}
        seq: list[int] = []  # coordinate of each unit loop, innermost first
        for d, s in tm.loops:
            for p in prime_factors(s) if s > 1 else []:
                if (d, p) not in index:
                    return None
                seq.append(index[(d, p)])
        prefix = [[0] * len(self.coords)]
        for i in seq:
            v = list(prefix[-1])
            v[i] += 1
            prefix.append(v)
        if tuple(prefix[-1]) != self.max_exp:
            return None
        # raw cut positions (in unit loops) of the given mapping
        unit_pos = [0]
        for d, s in tm.loops:
            unit_pos.append(unit_pos[-1] + (len(prime_factors(s)) if s > 1 else 0))
        k = len(seq)
        tiles: list[tuple[int, ...]] = [()] * len(self.elements)
        cut_pos: dict[tuple[int, int], int] = {}
        for oi, o in enumerate(self.ctx.operands):
            cls = self.classes[oi]
            prev = 0
            for m in range(len(o.chain)):
                c = unit_pos[tm.cuts[o.name][m]] if m < len(o.chain) - 1 else k
                c = max(c, prev)
                while c < k and cls[seq[c]] == IRRELEVANT:
                    c += 1
                cut_pos[(oi, m)] = c
                prev = c
            run = 0
            while run < k and cls[seq[run]] == IRRELEVANT:
                run += 1
            cut_pos[(oi, -1)] = run
        for e, el in enumerate(self.elements):
            cls = self.classes[el.operand]
            if el.kind == CUT:
                tiles[e] = tuple(prefix[cut_pos[(el.operand, el.level)]])
            elif el.kind == PREFIX:
                tiles[e] = tuple(prefix[cut_pos[(el.operand, -1)]])
        if self.blocks:
            ends = block_ends(self.ordering, tuple((self.coords[i][0], self.coords[i][1]) for i in seq))
            if ends is None:
                return None
            for block, end in zip(self.blocks, ends):
                tiles[block.element] = tuple(prefix[end])
        for base, e in self.above.items():
            el = self.elements[base]
            c = cut_pos[(el.operand, el.level if el.kind == CUT else -1)]
            tiles[e] = tuple(prefix[min(c + 1, k)])
        for run in self.latency.runs if self.latency is not None else ():
            cls = self.classes[run.operand]
            hi = cut_pos[(run.operand, run.level)] if run.cut is not None else k
            lo = cut_pos[(run.operand, run.level - 1)] if run.level > 0 else 0
            if hi == lo:
                below = start = start_below = hi
            else:
                below = hi - 1
                kind = cls[seq[hi - 1]]
                start = hi
                if kind != PARTIAL:
                    while start > lo and cls[seq[start - 1]] == kind:
                        start -= 1
                # the loop below the run's start closes it (none for a partially relevant "run" of length 0)
                start_below = start - 1 if start > lo and kind != PARTIAL else start
            tiles[run.below] = tuple(prefix[below])
            tiles[run.run] = tuple(prefix[start])
            tiles[run.run_below] = tuple(prefix[start_below])
        return tiles


# ------------------------------------------------------------------------------------------------------------
# building
# ------------------------------------------------------------------------------------------------------------


def _cost(x: float) -> Fraction:
    # per-word costs come from decimal YAML values: their shortest repr is the intended decimal
    return Fraction(repr(float(x)))


def _exact(x: float) -> Fraction:
    # tile counts are products of integers and fractional unrollings size/t/E; recover that rational
    return Fraction(x).limit_denominator(10**6)


@dataclass
class _Space:
    """The exponent space of one layer's temporal loop sizes."""

    coords: list[tuple[str, int]]
    max_exp: list[int]
    tiles: list[tuple[int, ...]]
    extents: list[dict[str, int]]
    products: list[int]


def _space(ctx: LayerContext) -> _Space:
    coords: list[tuple[str, int]] = []
    max_exp: list[int] = []
    for d, s in ctx.temporal_sizes.items():
        ps = prime_factors(s)
        for p in sorted(set(ps)):
            coords.append((d, p))
            max_exp.append(ps.count(p))
    n_rows = math.prod(e + 1 for e in max_exp)
    n_levels = sum(len(o.chain) for o in ctx.operands)
    if n_rows * n_levels > MAX_TABLE_ROWS:
        raise FormulationTooLarge(f"layer {ctx.layer.name}: {n_rows} tiles x {n_levels} levels exceed the exact engines' table limit {MAX_TABLE_ROWS}")
    tiles = list(itertools.product(*(range(e + 1) for e in max_exp)))
    extents = []
    for row in tiles:
        t: dict[str, int] = {}
        for (d, p), e in zip(coords, row):
            if e:
                t[d] = t.get(d, 1) * p**e
        extents.append(t)
    return _Space(coords, max_exp, tiles, extents, [math.prod(t.values()) for t in extents])


def _classes(o: OperandContext, coords: list[tuple[str, int]]) -> tuple[str, ...]:
    return tuple(IRRELEVANT if d in o.irrelevant_dims else RELEVANT if d in o.relevant_dims else PARTIAL for d, _ in coords)


@dataclass(frozen=True)
class _Pricing:
    """Each operand level's word prices as integers: the YAML's decimal costs times their common denominator."""

    ctx: LayerContext
    scale: int
    prices: tuple[tuple[tuple[int, int], ...], ...]  # per operand, per level: (read, write)

    @staticmethod
    def of(ctx: LayerContext) -> "_Pricing":
        costs = [[(_cost(r), _cost(w)) for r, w in o.costs] for o in ctx.operands]
        scale = 1
        for cs in costs:
            for r, w in cs:
                scale = math.lcm(scale, r.denominator, w.denominator)
        return _Pricing(ctx, scale, tuple(tuple((int(r * scale), int(w * scale)) for r, w in cs) for cs in costs))

    def words(self, oi: int, level: int, direction: int, transfer) -> int:
        o = self.ctx.operands[oi]
        w = transfer_words(o, level, direction, transfer)
        if w is None:
            raise port_missing(self.ctx, o, level, direction)
        return w

    def link_energy(self, oi: int, link: int, ends) -> int:
        """Scaled energy of the four ends of one link (upper level's rd_down/wr_up, lower level's rd_up/wr_down)."""
        rd_down, wr_up, rd_up, wr_down = ends
        r_up, w_up = self.prices[oi][link + 1]
        e = r_up * self.words(oi, link + 1, RD_DOWN, rd_down) + w_up * self.words(oi, link + 1, WR_UP, wr_up)
        if link >= 0:
            r_lo, w_lo = self.prices[oi][link]
            e += r_lo * self.words(oi, link, RD_UP, rd_up) + w_lo * self.words(oi, link, WR_DOWN, wr_down)
        return e


def _cut_table(ctx: LayerContext, sp: _Space, pricing: _Pricing, oi: int, m: int, latency: bool) -> tuple[dict[str, list[int]], list[Fraction]]:
    """Per tile of the space, the columns of the cut of operand ``oi``'s level ``m`` (the link to level
    ``m + 1``): scaled energy, whether an irrelevant loop is left above, the latency columns; and the tile's
    exact elements (for the capacity rule)."""
    o = ctx.operands[oi]
    n_lv = len(o.chain)
    ir_coords = [i for i, (d, _) in enumerate(sp.coords) if d in o.irrelevant_dims]
    spatial_psum_frac = [any(o.spatial_ir_frac[k + 1 :]) for k in range(n_lv + 1)]
    spatial_psum_int = [any(o.spatial_ir_int[k + 1 :]) for k in range(n_lv + 1)]
    cols: dict[str, list[int]] = {"energy": [], "ir_left": []}
    elems: list[Fraction] = []
    for row, t, prod in zip(sp.tiles, sp.extents, sp.products):
        left = any(row[i] < sp.max_exp[i] for i in ir_coords)
        raw = tile_elements(o, ctx.layer, t, o.spatial_frac.cum_extent[m])
        ends = link_transfers(o, round(raw), o.spatial_frac.boost[m + 1], prod, ctx.total_cycles, o.is_output and (left or spatial_psum_frac[m + 1]))
        cols["energy"].append(pricing.link_energy(oi, m, ends))
        cols["ir_left"].append(int(left))
        elems.append(_exact(raw))
        if latency:
            _latency_columns(cols, ctx, o, m, t, prod, left, spatial_psum_frac, spatial_psum_int)
    return cols, elems


def _array_link(ctx: LayerContext, sp: _Space, pricing: _Pricing, oi: int, latency: bool) -> tuple[int, ChainElement | None, dict[str, int]]:
    """The link between the array and operand ``oi``'s innermost level: its constant scaled energy when no
    decision changes it, else the prefix element (an input's irrelevant prefix sets its period); and its
    constant latency columns."""
    o = ctx.operands[oi]
    total = ctx.total_cycles
    ir_coords = [i for i, (d, _) in enumerate(sp.coords) if d in o.irrelevant_dims]
    boost0 = o.spatial_frac.boost[0]
    if o.is_output:
        psum0 = bool(ir_coords) or any(o.spatial_ir_frac[1:])
        consts = _array_link_columns(ctx, o, 1, bool(ir_coords) or any(o.spatial_ir_int[1:])) if latency else {}
        return pricing.link_energy(oi, -1, link_transfers(o, 1, boost0, 1, total, psum0)), None, consts
    if not ir_coords:
        consts = _array_link_columns(ctx, o, 1, False) if latency else {}
        return pricing.link_energy(oi, -1, link_transfers(o, 1, boost0, 1, total, False)), None, consts
    rows, energy = [], []
    lat_cols: dict[str, list[int]] = {}
    for r, (row, prod) in enumerate(zip(sp.tiles, sp.products)):
        if any(row[i] for i in range(len(sp.coords)) if i not in ir_coords):
            continue
        rows.append(r)
        energy.append(pricing.link_energy(oi, -1, link_transfers(o, 1, boost0, prod, total, False)))
        if latency:
            for k, v in _array_link_columns(ctx, o, prod, False).items():
                lat_cols.setdefault(k, []).append(v)
    free = tuple(i in ir_coords for i in range(len(sp.coords)))
    columns = {"energy": tuple(energy), **{k: tuple(v) for k, v in lat_cols.items()}}
    return 0, ChainElement(PREFIX, oi, -1, tuple(rows), columns, free), {}


def formulate(ctx: LayerContext, latency: bool = False, ordering: TemporalOrdering | None = None) -> TemporalFormulation:
    """Build the tile-chain formulation of ``ctx``; with ``latency`` also the boundary elements, latency
    columns and structure of the uniform latency model; with a partial user ``ordering`` the blocks its
    entries impose on the innermost loops (raises :class:`FormulationTooLarge`, :class:`FormulationUnsupported`)."""
    layer = ctx.layer
    if ctx.imc is not None and ctx.imc.precharge_per_pe:
        # the bitline precharge of cells holding several weights depends on the loop order inside the cells
        raise FormulationUnsupported(f"layer {layer.name}: IMC cells holding several weights (precharge energy) are not encoded by the exact engines; use --engine loma")
    cpo = ctx.cycles_per_op
    if latency and (cpo != int(cpo) or cpo < 1):
        raise FormulationUnsupported(f"layer {layer.name}: {cpo} cycles per operation (not an integer) is not encoded by the exact latency model")
    sp = _space(ctx)
    classes = [_classes(o, sp.coords) for o in ctx.operands]
    pricing = _Pricing.of(ctx)
    elements: list[ChainElement] = []
    operand_elements: list[tuple[int, ...]] = []
    prefix_element: list[int | None] = []
    constant = 0
    # per (operand, level): per row of the full space, the columns of the cut element before filtering
    full_cols: dict[tuple[int, int], dict[str, list[int]]] = {}
    link_consts: dict[tuple[int, int], dict[str, int]] = {}
    for oi, o in enumerate(ctx.operands):
        ids = []
        for m in range(len(o.chain) - 1):
            full_cols[(oi, m)], elems = _cut_table(ctx, sp, pricing, oi, m, latency)
            ids.append(len(elements))
            # placeholder: the rows are filtered by capacity below
            elements.append(ChainElement(CUT, oi, m, None, {"_elements": tuple(elems)}, tuple(True for _ in sp.coords)))  # type: ignore[arg-type]
        operand_elements.append(tuple(ids))
        energy, prefix, consts = _array_link(ctx, sp, pricing, oi, latency)
        constant += energy
        if consts:
            link_consts[(oi, -1)] = consts
        prefix_element.append(len(elements) if prefix is not None else None)
        if prefix is not None:
            elements.append(prefix)

    # capacity: which rows of each cut can be chosen at all, and the per-memory groups
    groups, reasons, keep = _capacity(ctx, sp, elements, operand_elements)
    for e, el in enumerate(elements):
        if el.kind != CUT:
            continue
        cols = full_cols[(el.operand, el.level)]
        rows = keep[e]
        columns = {k: tuple(v[r] for r in rows) for k, v in cols.items() if k != "elements"}
        elements[e] = ChainElement(CUT, el.operand, el.level, tuple(rows), columns, el.free)
    groups = tuple(_scaled_groups(groups, elements))

    above: dict[int, int] = {}
    blocks, block_reason = _blocks(ctx, sp, elements, ordering) if ordering else ((), "")
    if block_reason:
        reasons.append(block_reason)
    structure = None
    if latency:
        structure = _latency_structure(ctx, sp, classes, elements, operand_elements, prefix_element, above, link_consts, full_cols, keep)
    return TemporalFormulation(
        ctx=ctx,
        coords=tuple(sp.coords),
        max_exp=tuple(sp.max_exp),
        tiles=tuple(sp.tiles),
        products=tuple(sp.products),
        classes=tuple(classes),
        elements=tuple(elements),
        operand_elements=tuple(operand_elements),
        prefix_element=tuple(prefix_element),
        above=above,
        constant_energy=constant,
        cost_scale=pricing.scale,
        capacity=groups,
        latency=structure,
        infeasible="; ".join(reasons),
        blocks=blocks,
        ordering=ordering or TemporalOrdering(),
    )


def _blocks(ctx: LayerContext, sp: _Space, elements: list[ChainElement], ordering: TemporalOrdering) -> tuple[tuple[OrderBlock, ...], str]:
    """One chain element per ordering entry (the prefix up to the end of its block); a reason when a sized
    entry cannot be made of the layer's temporal prime factors."""
    every = tuple(True for _ in sp.coords)
    out = []
    need = [0] * len(sp.coords)
    allowed: set[int] = set()
    for dim, size in ordering.entries:
        coords = tuple(i for i, (d, _) in enumerate(sp.coords) if d == dim)
        allowed |= set(coords)
        exps = None
        if size is not None:
            exps = [0] * len(sp.coords)
            rest = size
            for i in coords:
                p = sp.coords[i][1]
                while rest % p == 0:
                    rest //= p
                    exps[i] += 1
            if rest != 1:
                return (), f"the temporal_ordering entry [{dim}, {size}] is not a product of the layer's temporal {dim} factors"
            exps = tuple(exps)
            for i, e in enumerate(exps):
                need[i] += e
        if not coords:
            return (), f"the temporal_ordering entry [{dim}, {'*' if size is None else size}] names a dim with no temporal loop"
        out.append(OrderBlock(len(elements), coords, exps))
        # the prefix up to this block holds factors of the blocks' dims only
        rows = tuple(r for r, t in enumerate(sp.tiles) if all(v == 0 or i in allowed for i, v in enumerate(t)))
        elements.append(ChainElement(BLOCK, -1, -1, rows, {}, every))
    if any(n > m for n, m in zip(need, sp.max_exp)):
        return (), f"the temporal_ordering {ordering} asks for more factors than the layer's temporal loops have"
    return tuple(out), ""


# ------------------------------------------------------------------------------------------------------------
# capacity
# ------------------------------------------------------------------------------------------------------------


@dataclass
class _Member:
    operand: int
    level: int
    element: int | None
    bits: tuple[list[Fraction], list[Fraction]] | tuple[Fraction, Fraction]  # (partial, final) per row or constant
    flag_element: int | None
    flag_const: bool


def _capacity(ctx: LayerContext, sp: _Space, elements: list[ChainElement], operand_elements: list[tuple[int, ...]]):
    """Per memory, its members' bits (the capacity rule of :mod:`cpmap.cost.capacity`); the rows each cut
    may take (a tile that alone overflows its memory at its smallest precision can never be chosen)."""
    layer = ctx.layer
    keep: dict[int, list[int]] = {}
    members_of: dict[int, list[_Member]] = {}
    for oi, o in enumerate(ctx.operands):
        n_lv = len(o.chain)
        ir_temporal = any(d in o.irrelevant_dims for d in ctx.temporal_sizes)
        everything = dict(ctx.temporal_sizes)
        for m, mem in enumerate(o.chain):
            full = _exact(tile_elements(o, layer, everything, o.spatial_frac.cum_extent[m]))
            p_part = allocation_precision(ctx, o, m, True)
            p_fin = allocation_precision(ctx, o, m, False)
            fdb = mem.force_double_buffering
            # the precision follows whether an irrelevant loop is left above the level's start (the cut below)
            flag_el: int | None = None
            flag_const = True
            if p_part != p_fin:
                if m == 0:
                    flag_const = ir_temporal
                else:
                    flag_el = operand_elements[oi][m - 1]
            if m < n_lv - 1:
                e = operand_elements[oi][m]
                elems = elements[e].columns["_elements"]  # type: ignore[index]
                part = [occupied_bits(x, full, p_part, fdb) for x in elems]
                fin = [occupied_bits(x, full, p_fin, fdb) for x in elems]
                keep[e] = [r for r in range(len(sp.tiles)) if min(part[r], fin[r]) <= mem.size] or [0]
                members_of.setdefault(mem.index, []).append(_Member(oi, m, e, (part, fin), flag_el, flag_const))
            else:
                members_of.setdefault(mem.index, []).append(_Member(oi, m, None, (full * p_part, full * p_fin), flag_el, flag_const))
    groups = []
    reasons = []
    for mem in ctx.accelerator.memories:
        members = members_of.get(mem.index)
        if not members:
            continue
        groups.append((mem, members))
        # the tops alone (everything stored there) must fit whatever the mapping
        fixed = sum(min(mb.bits) for mb in members if mb.element is None)  # type: ignore[type-var]
        if fixed > mem.size:
            reasons.append(f"{mem.name} cannot hold the whole operands stored there ({float(fixed):g} > {mem.size} bits)")
    return groups, reasons, keep


def _scaled_groups(groups, elements: list[ChainElement]):
    """Integer capacity groups over the kept rows of each cut (bits x a common denominator)."""
    for mem, members in groups:
        vals: list[Fraction] = []
        for mb in members:
            if mb.element is None:
                vals += list(mb.bits)
            else:
                rows = elements[mb.element].rows
                vals += [mb.bits[0][r] for r in rows] + [mb.bits[1][r] for r in rows]
        scale = math.lcm(*(Fraction(v).denominator for v in vals)) if vals else 1
        out = []
        for mb in members:
            if mb.element is None:
                part, fin = (int(Fraction(v) * scale) for v in mb.bits)
            else:
                rows = elements[mb.element].rows
                part = tuple(int(Fraction(mb.bits[0][r]) * scale) for r in rows)
                fin = tuple(int(Fraction(mb.bits[1][r]) * scale) for r in rows)
            out.append(CapacityMember(mb.operand, mb.level, mb.element, part, fin, mb.flag_element, mb.flag_const))
        yield CapacityGroup(mem.name, mem.size * scale, scale, tuple(out))


# ------------------------------------------------------------------------------------------------------------
# latency
# ------------------------------------------------------------------------------------------------------------

_DIR_NAMES = ("rd_down", "wr_up", "rd_up", "wr_down")


def _link_latency(ctx: LayerContext, o: OperandContext, link: int, data_int: int, period: int, psum_int: bool) -> dict[str, int]:
    """Latency columns of one link for one lower tile (integer spatial mapping, spec 6.3-6.5)."""
    total = ctx.total_cycles
    cpo = int(ctx.cycles_per_op)
    n = total // period
    stored = o.precision if (not o.is_output or psum_int) else o.final_precision
    boost = o.spatial_int.boost[link + 1]
    ends = link_transfers(o, data_int, boost, period, total, o.is_output and psum_int)
    out = {"period": period, "nm1": n - 1, "one_shot": int(n == 1)}
    for (level, direction), transfer in zip(((link + 1, RD_DOWN), (link + 1, WR_UP), (link, RD_UP), (link, WR_DOWN)), ends):
        if level < 0:
            continue
        bw = o.ports[level][direction]
        if bw is None:
            continue
        name = f"{_DIR_NAMES[direction]}{level}"
        present = transfer[1] > 0
        real = real_cycles(transfer, bw[1]) if present else 0
        out[f"{name}_present"] = int(present)
        out[f"{name}_real"] = real
        out[f"{name}_busy"] = real * (n - 1)
        if present and n > 1:
            avg = average_bandwidth(data_int, stored, period, boost if direction in (RD_DOWN, WR_UP) else 1)
            out[f"{name}_bwavg"] = math.ceil(avg / cpo)
        else:
            out[f"{name}_bwavg"] = 0
    if link == 0:
        for pi, (port, _, _) in enumerate(ctx.port_plan):
            out[f"min{pi}"] = loading_minimum(data_int, stored, port.bw_max)
    return out


def _latency_columns(cols: dict[str, list[int]], ctx: LayerContext, o: OperandContext, m: int, t: dict[str, int], prod: int, left: bool, spsum_frac: list[bool], spsum_int: list[bool]) -> None:
    """Append one tile's latency columns to the table of the cut of level ``m`` (link ``m``)."""
    layer = ctx.layer
    # double buffering looks at the fractional mapping's tile at its stored precision (spec 6.2)
    data_frac = round(tile_elements(o, layer, t, o.spatial_frac.cum_extent[m]))
    stored_frac = o.precision if (not o.is_output or left or spsum_frac[m + 1]) else o.final_precision
    cols.setdefault("db_bits", []).append(data_frac * stored_frac)
    data_int = round(tile_elements(o, layer, t, o.spatial_int.cum_extent[m]))
    for k, v in _link_latency(ctx, o, m, data_int, prod, o.is_output and (left or spsum_int[m + 1])).items():
        cols.setdefault(k, []).append(v)


def _array_link_columns(ctx: LayerContext, o: OperandContext, stat: int, psum_int: bool) -> dict[str, int]:
    """Latency columns of the link between the array and level 0 (period ``stat``)."""
    return _link_latency(ctx, o, -1, 1, stat, psum_int)


def _power_of_two(n: int) -> bool:
    return n > 0 and n & (n - 1) == 0


def _latency_structure(ctx, sp, classes, elements, operand_elements, prefix_element, above, link_consts, full_cols, keep) -> LatencyStructure:
    layer = ctx.layer
    n_c = len(sp.coords)
    every = tuple(True for _ in range(n_c))
    for e in range(len(elements)):
        if elements[e].kind in (CUT, PREFIX):
            above[e] = len(elements)
            el = elements[e]
            elements.append(ChainElement(ABOVE, el.operand, el.level, None, {}, every))

    runs: dict[tuple[int, int], RunRef] = {}

    def run_of(oi: int, level: int) -> RunRef:
        if (oi, level) not in runs:
            n_lv = len(ctx.operands[oi].chain)
            ids = []
            for kind in (BELOW, RUN, RUN_BELOW):
                ids.append(len(elements))
                cols = {"period": tuple(sp.products)} if kind == RUN else {}
                elements.append(ChainElement(kind, oi, level, tuple(range(len(sp.tiles))) if kind == RUN else None, cols, every))
            lower = operand_elements[oi][level - 1] if level > 0 else None
            cut = operand_elements[oi][level] if level < n_lv - 1 else None
            runs[(oi, level)] = RunRef(oi, level, ids[0], ids[1], ids[2], lower, cut)
        return runs[(oi, level)]

    # ---- double buffering: memories whose flags are not always true ----
    db_groups: list[DbGroup] = []
    db_of: dict[tuple[int, int], tuple[int, int]] = {}
    for mem in ctx.accelerator.memories:
        members = []
        for oi, o in enumerate(ctx.operands):
            if mem not in o.chain:
                continue
            m = o.chain.index(mem)
            if m < len(o.chain) - 1:
                e = operand_elements[oi][m]
                bits = tuple(full_cols[(oi, m)]["db_bits"][r] for r in keep[e])
                members.append((oi, m, e, bits))
            else:
                data = round(tile_elements(o, layer, dict(ctx.temporal_sizes), o.spatial_frac.cum_extent[m]))
                members.append((oi, m, None, data * o.final_precision))
        if not members:
            continue
        worst = sum(max(b) if isinstance(b, tuple) else b for _, _, _, b in members)
        # every member passes ZigZag's first test (the group's effective use <= 1/2) whatever topr is; at an exact
        # tie only a power-of-two size is free of float rounding
        if 2 * worst < mem.size or (2 * worst == mem.size and _power_of_two(mem.size)):
            continue
        if all(m == len(ctx.operands[oi].chain) - 1 for oi, m, _, _ in members):
            continue  # only top levels: their flags are never used
        gi = len(db_groups)
        out = []
        for k, (oi, m, e, bits) in enumerate(members):
            has_r = any(c == RELEVANT for c in classes[oi])
            out.append(DbMember(oi, m, e, bits, run_of(oi, m) if has_r else None))
            db_of[(oi, m)] = (gi, k)
        db_groups.append(DbGroup(mem.name, mem.size, tuple(out)))

    # ---- links and their ends on ports ----
    links: list[Link] = []
    link_index: dict[tuple[int, int], int] = {}
    for oi, o in enumerate(ctx.operands):
        for lk in range(-1, len(o.chain) - 1):
            if lk >= 0:
                element = operand_elements[oi][lk]
                const: dict[str, int] = {}
            else:
                element = prefix_element[oi]
                const = link_consts.get((oi, -1), {}) if element is None else {}
            db = db_of.get((oi, lk)) if lk >= 0 else None
            run = run_of(oi, lk) if db is not None else None
            link_index[(oi, lk)] = len(links)
            links.append(Link(oi, lk, element, const, (), db, run, lk < 0 or db is None))

    def column_values(li: int, name: str) -> tuple[int, ...]:
        lk = links[li]
        if lk.element is None:
            return (lk.const[name],)
        return elements[lk.element].columns[name]

    ends_of: dict[int, list[LinkEnd]] = {}
    ports: list[PortPlan] = []
    end_key: dict[tuple[int, int, int], tuple[int, int]] = {}
    for pi, (port, shared, members) in enumerate(ctx.port_plan):
        anchors: list[int] = []
        port_ends: list[tuple[int, int]] = []
        for i, m, d in members:
            o = ctx.operands[i]
            lk = m - 1 if d in (RD_DOWN, WR_UP) else m
            if lk > len(o.chain) - 2:
                continue  # the top level's transfers upwards do not exist
            if not o.is_output and d in (RD_UP, WR_UP):
                continue
            li = link_index[(i, lk)]
            name = f"{_DIR_NAMES[d]}{m}"
            if not any(column_values(li, f"{name}_present")):
                continue  # never present (e.g. no partial sums ever flow on this link)
            end = LinkEnd(name, m, d, pi, not (o.is_output and d in (RD_DOWN, WR_DOWN)), o.is_output and d in (RD_DOWN, WR_DOWN))
            ends_of.setdefault(li, []).append(end)
            ei = len(ends_of[li]) - 1
            port_ends.append((li, ei))
            end_key[(i, m, d)] = (li, ei)
            if li not in anchors:
                anchors.append(li)
        if not port_ends:
            continue
        one_shot = any(max(column_values(li, "one_shot")) for li, ei in port_ends if ends_of[li][ei].record)
        ports.append(PortPlan(pi, port.name, port.bw_max, shared, tuple(anchors), tuple(port_ends), bool(one_shot)))
    links = [Link(lk.operand, lk.index, lk.element, lk.const, tuple(ends_of.get(li, ())), lk.db, lk.run, lk.always_full) for li, lk in enumerate(links)]
    scale = 1
    for p in ports:
        if p.one_shot_possible:
            scale = math.lcm(scale, p.bw_max)

    shared_of = {pi: shared for pi, (_, shared, _) in enumerate(ctx.port_plan)}

    def rec(i: int, m: int, d: int) -> tuple[tuple[int, int] | None, bool]:
        key = end_key.get((i, m, d))
        if key is None:
            return None, False
        li, ei = key
        return key, shared_of[links[li].ends[ei].port]

    onload = []
    for i, o in enumerate(ctx.operands):
        if o.is_output:
            continue
        items = []
        for k in range(len(o.chain) - 1):
            a, s1 = rec(i, k, WR_DOWN)
            b, s2 = rec(i, k + 1, RD_DOWN)
            bucket = "indiv" if not s1 and not s2 else "shared" if s1 and s2 else "half"
            items.append((a, b, bucket))
        onload.append((i, tuple(items)))
    out = ctx.operands[0]
    offload = tuple((rec(0, k, RD_UP)[0], rec(0, k + 1, WR_UP)[0]) for k in range(len(out.chain) - 1))
    level0: dict[int, int | None] = {}
    minima_const: dict[tuple[int, int], int] = {}
    for i, o in enumerate(ctx.operands):
        if len(o.chain) > 1:
            level0[i] = operand_elements[i][0]
        else:
            level0[i] = None
            data = round(tile_elements(o, layer, dict(ctx.temporal_sizes), o.spatial_int.cum_extent[0]))
            for pi, (port, _, _) in enumerate(ctx.port_plan):
                minima_const[(i, pi)] = loading_minimum(data, o.final_precision if o.is_output else o.precision, port.bw_max)
    return LatencyStructure(
        total=ctx.total_cycles,
        cycles_per_op=int(ctx.cycles_per_op),
        drain=ctx.systolic_drain,
        scale=scale,
        links=tuple(links),
        ports=tuple(ports),
        runs=tuple(runs.values()),
        db_groups=tuple(db_groups),
        onload=tuple(onload),
        offload=offload,
        level0=level0,
        minima_const=minima_const,
    )
