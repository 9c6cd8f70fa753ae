"""ZigZag's analytical cost model for digital cores, as plain functions (spec cost_model.md sections 3-7).

``prepare`` binds a layer, an accelerator, a spatial mapping and the operand links into a
:class:`LayerContext` (everything that does not depend on the temporal mapping); ``evaluate_temporal``
then costs one temporal mapping. Engines that evaluate millions of loop orders reuse one context.
``evaluate`` does both for a complete :class:`~cpmap.mapping.Mapping`.

Index conventions follow the spec: memory levels ``m = 0..M-1`` per operand (0 = next to the array);
lists that also cover the array carry it at index 0 (``a = m + 1``). Directions: ``rd_down`` (tl, read
out to the level below), ``wr_up`` (fl, written by the level below), ``rd_up`` (th), ``wr_down`` (fh).
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

from ..errors import InputError
from ..hardware import Accelerator, MemoryLevel
from ..imc.layer_cost import ImcLayerCost, imc_layer_cost, precharge_energy
from ..mapping import Mapping, SpatialMapping, TemporalMapping
from ..workload import Layer
from ..zigzag_order import set_order
from .spatial import OperandSpatial, attach_spatial, convert_spatial

DIRECTIONS = ("rd_down", "wr_up", "rd_up", "wr_down")
DIRECTION_TAG = {"rd_down": "tl", "wr_up": "fl", "rd_up": "th", "wr_down": "fh"}
TAG_INDEX = {"tl": 0, "fl": 1, "th": 2, "fh": 3}
RD_DOWN, WR_UP, RD_UP, WR_DOWN = 0, 1, 2, 3


@dataclass(frozen=True)
class OperandContext:
    """Per layer operand: its memory chain, relevance, ports and spatial quantities (both variants)."""

    name: str
    memory_operand: str
    chain: tuple[MemoryLevel, ...]
    is_output: bool
    ir: frozenset[str]
    r: frozenset[str]
    pr: tuple  # relations of the derived dims
    precision: int  # inputs: own precision; output: partial-sum precision
    final_precision: int
    spatial_frac: OperandSpatial
    spatial_int: OperandSpatial
    # per level m, per direction index: (bw_min, bw_max) or None
    ports: tuple[tuple[tuple[int, int] | None, ...], ...]
    costs: tuple[tuple[float, float], ...]  # per level: (r_cost, w_cost)
    r_dims: tuple[str, ...] = ()  # relevant loop dims in layer order
    pr_dims: tuple[tuple, ...] = ()  # (first dim, second dim, full derived size, relation) per derived dim
    #: output only, per spatial variant: an O-ir spatial factor > 1 in su[a] for a = 0..M
    spatial_ir_frac: tuple[bool, ...] = ()
    spatial_ir_int: tuple[bool, ...] = ()


@dataclass(frozen=True, eq=False)
class LayerContext:
    """Everything about (layer, accelerator, spatial mapping, links) that the temporal mapping does not change."""

    layer: Layer
    accelerator: Accelerator
    spatial: SpatialMapping
    links: dict[str, str]
    operands: tuple[OperandContext, ...]
    temporal_sizes: dict[str, int]
    total_cycles: int
    same_spatial_variants: bool
    mac_energy: float
    ideal_cycle: int
    systolic_drain: int
    spatial_frac: dict[str, list]
    spatial_int: dict[str, list]
    #: per physical port (memories in declaration order, ports in order): (port, shared by I1 and I2,
    #: the (operand index, level, direction index) duties of the layer's operands, in ZigZag's order)
    port_plan: tuple = ()
    #: clock cycles per MAC: 1 for digital arrays, ``B_a / B_c`` for bit-serial IMC arrays (scales every cycle count)
    cycles_per_op: float = 1
    #: IMC arrays only: the array energy of this spatial mapping, cycles_per_op and clock (imc_model.md 7.2, 11)
    imc: ImcLayerCost | None = None

    def operand(self, name: str) -> OperandContext:
        for o in self.operands:
            if o.name == name:
                return o
        raise KeyError(name)


@dataclass
class CostResult:
    """Energy (pJ) and latency (cycles) of one mapping, with the breakdowns ZigZag reports."""

    energy: float
    mac_energy: float
    mem_energy: float
    latency: float  # latency_total2
    latency_total0: float
    latency_total1: float
    ideal_cycle: int
    ideal_temporal_cycle: int
    stall_slack: float
    onloading: float
    offloading: float
    systolic_drain: int
    #: operand -> memory name -> energy
    energy_breakdown: dict[str, dict[str, float]] = field(default_factory=dict)
    #: operand -> memory name -> direction -> words
    word_accesses: dict[str, dict[str, dict[str, float]]] = field(default_factory=dict)
    double_buffered: dict[str, list[bool]] = field(default_factory=dict)
    #: cases where ZigZag would raise instead of returning a result (see docs/zigzag-differences.md)
    zigzag_failures: list[str] = field(default_factory=list)
    #: IMC arrays: the clock period (ns; wall time = latency x tclk) and the array energy per component (pJ, detail only)
    tclk_ns: float | None = None
    mac_energy_breakdown: dict[str, float] = field(default_factory=dict)
    #: detail only: per operand, its level splits after the stationarity merge-down (spec 3.4), the levels ZigZag reports
    stationary_cuts: dict[str, tuple[int, ...]] = field(default_factory=dict)
    #: detail only: memory name -> port name -> combined stall (> 0) or slack (< 0) of the port, 0 when idle (spec 6.4)
    port_stall_slack: dict[str, dict[str, float]] = field(default_factory=dict)

    @property
    def edp(self) -> float:
        return self.energy * self.latency

    @property
    def mac_utilization(self) -> dict[str, float]:
        """ZigZag's MAC utilisations: ideal cycles over the ideal temporal cycles (spatial) and over each latency."""
        return {
            "spatial": self.ideal_cycle / self.ideal_temporal_cycle,
            "stalls": self.ideal_cycle / self.latency_total0,
            "stalls_onloading": self.ideal_cycle / self.latency_total1,
            "stalls_onloading_offloading": self.ideal_cycle / self.latency,
        }


# --------------------------------------------------------------------------------------------------------
# context
# --------------------------------------------------------------------------------------------------------


def prepare(layer: Layer, accelerator: Accelerator, spatial: SpatialMapping, links: dict[str, str]) -> LayerContext:
    """Bind the temporal-mapping-independent part of the cost model (spec 3.1-3.3)."""
    frac, integer = convert_spatial(layer, accelerator, spatial)
    same = all(float(a[1]) == float(b[1]) for ad in frac for a, b in zip(frac[ad], integer[ad]))
    operands = []
    for op in layer.operands:
        mop = links.get(op)
        if mop is None:
            raise InputError(None, f"memory_operand_links.{op}", f"layer {layer.name} operand {op} has no memory operand link")
        chain = accelerator.chain(mop)
        if not chain:
            raise InputError(None, f"memory_operand_links.{op}", f"no memory of {accelerator.name} stores {mop} (linked to {op})")
        # ZigZag iterates served dims as a set: the order only changes float rounding, kept for parity
        served = [tuple(set_order(m.served_dimensions, "OADimension")) for m in chain]
        rel = layer.relevance[op]
        ports = []
        for mem in chain:
            row = []
            for d in DIRECTIONS:
                p = mem.port_of(mop, DIRECTION_TAG[d])
                row.append((p.bw_min, p.bw_max) if p is not None else None)
            ports.append(tuple(row))
        is_out = op == layer.operands[0]
        sp_frac = attach_spatial(layer, op, served, frac)
        sp_int = attach_spatial(layer, op, served, integer)
        ir = frozenset(d for d, c in rel.items() if c == "ir")
        operands.append(
            OperandContext(
                name=op,
                memory_operand=mop,
                chain=chain,
                is_output=is_out,
                ir=frozenset(d for d, c in rel.items() if c == "ir"),
                r=frozenset(d for d, c in rel.items() if c == "r"),
                pr=layer.pr_relations(op),
                precision=layer.precision["O"] if is_out else layer.precision[op],
                final_precision=layer.precision["O_final"] if is_out else layer.precision[op],
                spatial_frac=sp_frac,
                spatial_int=sp_int,
                ports=tuple(ports),
                costs=tuple((m.instance.r_cost, m.instance.w_cost) for m in chain),
                r_dims=tuple(d for d in layer.loop_dims if rel.get(d) == "r"),
                pr_dims=tuple((r.first, r.second, layer.derived_size(r.derived), r) for r in layer.pr_relations(op)),
                spatial_ir_frac=tuple(any(f > 1 and d in ir for d, f in lv) for lv in sp_frac.su),
                spatial_ir_int=tuple(any(f > 1 and d in ir for d, f in lv) for lv in sp_int.su),
            )
        )
    n_units = [o.spatial_frac.instances[0] for o in operands]
    if len(set(n_units)) != 1:
        raise AssertionError(f"operands see different active MAC counts {n_units}")

    # Temporal loop sizes: ceil-divide by the fractional unrollings, in the first input operand's order.
    first_input = operands[1] if len(operands) > 1 else operands[0]
    sizes = dict(layer.loop_sizes)
    for level in first_input.spatial_frac.su:
        for ld, f in level:
            if ld in sizes:
                sizes[ld] = math.ceil(sizes[ld] / f)
                if sizes[ld] == 1:
                    del sizes[ld]
    sizes = {d: s for d, s in sizes.items() if s > 1}
    total = math.prod(sizes.values())
    array = accelerator.array
    # IMC: the MAC energy is the array's energy for this spatial mapping, not unit_energy x MACs
    imc = imc_layer_cost(layer, accelerator, spatial) if array.imc is not None else None
    cpo = imc.cycles_per_op if imc is not None else 1
    ideal = math.ceil(math.ceil(layer.total_macs / array.total_units) * cpo)
    drain = 0
    for ad in array.systolic_dimensions if imc is None else ():  # ZigZag's IMC arrays never drain systolically
        dims = [f for ld, f in spatial.factors_on(ad) if ld in layer.loop_sizes]
        if dims:
            drain += max(math.ceil(math.prod(dims)) - 1, 0)
    index_of = {o.memory_operand: i for i, o in enumerate(operands)}
    plan = []
    for mem in accelerator.memories:
        for port, duties in mem.port_duties:
            # "shared by the two input operands" looks at every operand the port serves, linked or not
            shared = {"I1", "I2"} <= {mop for mop, _ in duties}
            members = tuple(
                (index_of[mop], operands[index_of[mop]].chain.index(mem), TAG_INDEX[tag])
                for mop, tag in duties
                if mop in index_of
            )
            plan.append((port, shared, members))
    return LayerContext(
        layer=layer,
        accelerator=accelerator,
        spatial=spatial,
        links=dict(links),
        operands=tuple(operands),
        temporal_sizes=sizes,
        total_cycles=total,
        same_spatial_variants=same,
        mac_energy=imc.energy if imc is not None else array.unit_energy * layer.total_macs,
        ideal_cycle=ideal,
        systolic_drain=drain,
        spatial_frac=frac,
        spatial_int=integer,
        port_plan=tuple(plan),
        cycles_per_op=cpo,
        imc=imc,
    )


def loop_products(loops) -> dict[str, int]:
    """Per dim, the product of its loop sizes (dims whose product is 1 left out)."""
    prod: dict[str, int] = {}
    for d, s in loops:
        if s < 1:
            raise ValueError(f"loop {d} has size {s}")
        prod[d] = prod.get(d, 1) * s
    return {d: s for d, s in prod.items() if s > 1}


def check_temporal(ctx: LayerContext, tm: TemporalMapping) -> None:
    """Raise ``ValueError`` if the temporal mapping does not fit the context (loop products, level splits)."""
    prod = loop_products(tm.loops)
    if prod != ctx.temporal_sizes:
        raise ValueError(f"temporal loops multiply to {prod}, the layer under this spatial mapping needs {ctx.temporal_sizes}")
    for o in ctx.operands:
        cuts = tm.cuts.get(o.name)
        if cuts is None or len(cuts) != len(o.chain):
            raise ValueError(f"operand {o.name} needs {len(o.chain)} memory levels, got {None if cuts is None else len(cuts)}")
        if list(cuts) != sorted(cuts) or cuts[-1] != len(tm.loops) or cuts[0] < 0:
            raise ValueError(f"operand {o.name}: level splits {cuts} are not monotone up to {len(tm.loops)}")


# --------------------------------------------------------------------------------------------------------
# temporal analysis (independent of the spatial variant)
# --------------------------------------------------------------------------------------------------------


@dataclass
class _Temporal:
    stat_cuts: list[int]
    periods: list[int]  # C(m) for m = -1..M-1 (index m+1)
    topr: list[int]  # index m+1, m = -1..M-1
    topir: list[int]
    ext: list[dict[str, int]]  # temporal extents of stationary levels 0..m, index m
    ir_from: list[bool]  # O only: an ir loop at or above stationary level m (m = 0..M), index m


def _temporal(o: OperandContext, loops: tuple[tuple[str, int], ...], prefix: list[int], cuts: tuple[int, ...]) -> _Temporal:
    k_total = len(loops)
    ir = o.ir
    is_ir = [d in ir for d, _ in loops]
    is_r = [d in o.r for d, _ in loops]
    stat_cuts = []
    for c in cuts:
        while c < k_total and is_ir[c]:
            c += 1
        stat_cuts.append(c)
    run = 0
    while run < k_total and is_ir[run]:
        run += 1
    stat = prefix[run]
    periods = [1 if o.is_output else stat] + [prefix[c] for c in stat_cuts]
    topr, topir = [1], [1]
    lo = 0
    for c in stat_cuts:
        tr = ti = 1
        k = c - 1
        while k >= lo and is_r[k]:
            tr *= loops[k][1]
            k -= 1
        k = c - 1
        while k >= lo and is_ir[k]:
            ti *= loops[k][1]
            k -= 1
        topr.append(tr)
        topir.append(ti)
        lo = c
    ext = []
    acc: dict[str, int] = {}
    pos = 0
    for c in stat_cuts:
        while pos < c:
            d, s = loops[pos]
            acc[d] = acc.get(d, 1) * s
            pos += 1
        ext.append(dict(acc))
    ir_from = []
    if o.is_output:
        # ir_from[m]: an O-ir temporal loop at a position >= stat_cuts[m-1]
        last_ir = max((k for k in range(k_total) if is_ir[k]), default=-1)
        bounds = [0] + stat_cuts
        ir_from = [last_ir >= b for b in bounds]
        ir_from[-1] = False
    return _Temporal(stat_cuts, periods, topr, topir, ext, ir_from)


# --------------------------------------------------------------------------------------------------------
# data movement per spatial variant
# --------------------------------------------------------------------------------------------------------


@dataclass
class _Movement:
    data: list[int]  # D(m) for m = -1..M-1 (index m+1)
    stored_prec: list[int]  # index m+1
    # per level m: 4 tuples (period, count, amount, precision)
    dirs: list[list[tuple[int, int, int, int]]]


def tile_elements(o: OperandContext, layer: Layer, t_ext: dict[str, float], s_ext: dict[str, float]) -> float:
    """Elements of operand ``o`` touched by loops with per-dim extents ``t_ext`` x ``s_ext`` (one instance).

    Relevant dims multiply; a derived dim (IX) counts the distinct indices of its relation with the two
    extents truncated to integers, clipped at the full size (spec 1.3). Not rounded: the allocator compares
    it unrounded, the data-movement model rounds it.
    """
    val = 1
    for d in o.r_dims:
        e = t_ext.get(d, 1)
        sp = s_ext.get(d)
        val = val * (e * sp if sp is not None else e)
    for first, second, full, rel in o.pr_dims:
        a = int(t_ext.get(first, 1) * s_ext.get(first, 1))
        b = int(t_ext.get(second, 1) * s_ext.get(second, 1))
        val = val * min(full, rel.footprint(a, b))
    return val


def _movement(o: OperandContext, layer: Layer, t: _Temporal, sp: OperandSpatial, total: int) -> _Movement:
    n_lv = len(o.chain)
    data = [1] + [round(tile_elements(o, layer, t.ext[m], sp.cum_extent[m])) for m in range(n_lv)]
    if o.is_output:
        # psum[m] for m = 0..M: O-ir loop (size > 1) in stationary levels >= m or spatial lists su[m+1..]
        spatial_ir = o.spatial_ir_frac if sp is o.spatial_frac else o.spatial_ir_int
        psum = []
        for m in range(n_lv + 1):
            flag = t.ir_from[m] or any(spatial_ir[m + 1 :])
            psum.append(flag and m < n_lv)
        p_part, p_fin = o.precision, o.final_precision
        stored = [p_part if psum[m + 1] else p_fin for m in range(-1, n_lv)]
        trans = [p_part if f else p_fin for f in psum]
    else:
        stored = [o.precision] * (n_lv + 1)
        psum = trans = None
    dirs = []
    zero = (0, 0, 0, 0)
    for m in range(n_lv):
        below_period = t.periods[m]
        own_period = t.periods[m + 1]
        amount_down = data[m] * sp.boost[m]
        top = m == n_lv - 1
        if o.is_output:
            p_low, p_high = trans[m], trans[m + 1]
            wr_up = (below_period, total // below_period, amount_down, p_low)
            rd_down = wr_up if psum[m] else zero
            rd_up = zero if top else (own_period, total // own_period, data[m + 1], p_high)
            wr_down = rd_up if (psum[m + 1] and not top) else zero
        else:
            p = o.precision
            rd_down = (below_period, total // below_period, amount_down, p)
            wr_down = zero if top else (own_period, total // own_period, data[m + 1], p)
            wr_up = rd_up = zero
        dirs.append([rd_down, wr_up, rd_up, wr_down])
    return _Movement(data, stored, dirs)


# --------------------------------------------------------------------------------------------------------
# evaluation
# --------------------------------------------------------------------------------------------------------


def word_count(amount: int, precision: int, bw_min: int, bw_max: int, periods: int, instances: int) -> int:
    """Word accesses of one direction (spec 5.2): chunks of ``bw_min`` bits per period and instance, each
    costing ``bw_min/bw_max`` of a word, truncated once over the product (ZigZag's float order)."""
    return int(math.ceil((amount * precision) / bw_min) * (bw_min / bw_max) * periods * instances)


def _port_missing(ctx: LayerContext, o: OperandContext, m: int, d: int) -> InputError:
    mem = o.chain[m]
    return InputError(
        None,
        f"memories.{mem.name}.ports",
        f"no port carries {o.memory_operand} '{DIRECTION_TAG[DIRECTIONS[d]]}', needed by layer {ctx.layer.name}",
    )


def evaluate_temporal(ctx: LayerContext, tm: TemporalMapping, detail: bool = True) -> CostResult:
    """Cost of one temporal mapping under the context's spatial mapping (no validity check)."""
    layer = ctx.layer
    loops = tm.loops
    prefix = [1]
    for _, s in loops:
        prefix.append(prefix[-1] * s)
    total = prefix[-1]
    temporal = [_temporal(o, loops, prefix, tm.cuts[o.name]) for o in ctx.operands]
    mv_frac = [_movement(o, layer, t, o.spatial_frac, total) for o, t in zip(ctx.operands, temporal)]
    if ctx.same_spatial_variants:
        mv_int = mv_frac
    else:
        mv_int = [_movement(o, layer, t, o.spatial_int, total) for o, t in zip(ctx.operands, temporal)]

    # ---- energy (spec 5) ----
    mem_energy = 0
    breakdown: dict[str, dict[str, float]] = {}
    words_out: dict[str, dict[str, dict[str, float]]] = {}
    for o, mv in zip(ctx.operands, mv_frac):
        inst = o.spatial_frac.instances
        for m in range(len(o.chain)):
            words = [0, 0, 0, 0]
            for d in range(4):
                period, n, amount, prec = mv.dirs[m][d]
                if amount == 0 or prec == 0:
                    continue
                bw = o.ports[m][d]
                if bw is None:
                    raise _port_missing(ctx, o, m, d)
                words[d] = word_count(amount, prec, bw[0], bw[1], n, inst[m + 1])
            r_cost, w_cost = o.costs[m]
            e = (words[RD_UP] * r_cost + words[RD_DOWN] * r_cost) + (words[WR_DOWN] * w_cost + words[WR_UP] * w_cost)
            mem_energy += e
            if detail:
                name = o.chain[m].name
                breakdown.setdefault(o.name, {})[name] = e
                words_out.setdefault(o.name, {})[name] = dict(zip(DIRECTIONS, words))
    mac_energy = ctx.mac_energy
    precharge = 0.0
    if ctx.imc is not None and ctx.imc.precharge_per_pe:  # cells holding several weights: temporal-dependent
        w = next(i for i, o in enumerate(ctx.operands) if o.name == ctx.imc.weight_operand)
        _, n, amount, _ = mv_frac[w].dirs[0][RD_DOWN]
        precharge = precharge_energy(ctx.imc, layer, tm.levels(ctx.imc.weight_operand)[0], amount * n)
        mac_energy += precharge
    energy = mem_energy + mac_energy

    # ---- latency (spec 6) ----
    lat = _latency(ctx, temporal, mv_frac, mv_int, total)
    ss_total, onload, offload, db, failures, ss_by_port = lat
    if ctx.imc is not None and ctx.imc.zigzag_failures:
        failures = [*failures, *ctx.imc.zigzag_failures]
    ideal_temporal = total * ctx.cycles_per_op
    lat0 = ideal_temporal + ss_total
    lat1 = lat0 + onload
    lat2 = lat1 + offload + ctx.systolic_drain
    return CostResult(
        energy=energy,
        mac_energy=mac_energy,
        mem_energy=mem_energy,
        latency=lat2,
        latency_total0=lat0,
        latency_total1=lat1,
        ideal_cycle=ctx.ideal_cycle,
        ideal_temporal_cycle=ideal_temporal,
        stall_slack=ss_total,
        onloading=onload,
        offloading=offload,
        systolic_drain=ctx.systolic_drain,
        energy_breakdown=breakdown,
        word_accesses=words_out,
        double_buffered=db,
        zigzag_failures=failures,
        tclk_ns=ctx.imc.tclk_ns if ctx.imc is not None else None,
        mac_energy_breakdown=dict(ctx.imc.breakdown.as_dict(), local_bl_precharging=precharge) if ctx.imc is not None and detail else {},
        stationary_cuts={o.name: tuple(t.stat_cuts) for o, t in zip(ctx.operands, temporal)} if detail else {},
        port_stall_slack=_ports_by_memory(ctx, ss_by_port) if detail else {},
    )


def _ports_by_memory(ctx: LayerContext, ss_by_port: list[float]) -> dict[str, dict[str, float]]:
    """Name the per-port values of ``_latency`` (one per entry of ``ctx.port_plan``, same order)."""
    names = [(mem.name, port.name) for mem in ctx.accelerator.memories for port, _ in mem.port_duties]
    out: dict[str, dict[str, float]] = {}
    for (mem, port), v in zip(names, ss_by_port):
        out.setdefault(mem, {})[port] = v
    return out


def _double_buffer_flags(ctx: LayerContext, temporal: list[_Temporal], mv_frac: list[_Movement]) -> dict[str, list[bool]]:
    """DB(o, m) for m = -1..M-1 (index m+1) from effective utilisations, shared memories by priority (6.2)."""
    eff: dict[str, list[float]] = {}
    shared: dict[int, float] = {}
    for o, t, mv in zip(ctx.operands, temporal, mv_frac):
        row = []
        for m, mem in enumerate(o.chain):
            bits = mv.data[m + 1] * mv.stored_prec[m + 1]
            e = (bits // t.topr[m + 1]) / mem.size
            row.append(e)
            shared[mem.index] = shared.get(mem.index, 0) + e
        eff[o.name] = row
    # the individual sums start from each member's own value, summed in group order
    flags: dict[str, list[bool]] = {}
    for o in ctx.operands:
        out = [False]
        for m, mem in enumerate(o.chain):
            e_sh = shared[mem.index]
            e = eff[o.name][m]
            if e_sh <= 0.5:
                out.append(True)
            elif e <= 1 - e_sh:
                out.append(True)
                shared[mem.index] = e_sh + e
            else:
                out.append(False)
        flags[o.name] = out
    return flags


def _latency(ctx: LayerContext, temporal: list[_Temporal], mv_frac: list[_Movement], mv_int: list[_Movement], total: int):
    db = _double_buffer_flags(ctx, temporal, mv_frac)
    cpo = ctx.cycles_per_op
    flags = [db[o.name] for o in ctx.operands]
    real: dict[tuple[int, int, int], int] = {}
    allowed: dict[tuple[int, int, int], int] = {}

    def real_allowed(i: int, m: int, d: int) -> tuple[int, int]:
        """Real cycles (full-width port) and allowed window of one DTL end (6.3)."""
        key = (i, m, d)
        if key not in real:
            period, n, amount, prec = mv_int[i].dirs[m][d]
            low = m + 1 if d >= RD_UP else m  # index a of the DTL's lower memory (rd_up, wr_down: this one)
            window = period if flags[i][low] else int(period / temporal[i].topir[low])
            allowed[key] = math.ceil(window * cpo)
            bw = ctx.operands[i].ports[m][d]
            real[key] = math.ceil(amount * prec / bw[1]) if bw is not None else 0
        return real[key], allowed[key]

    # ---- stall / slack per port (6.4) ----
    ss_ports = [0]
    ss_by_port: list[float] = []  # one per port of the plan, 0 for idle ports (reported, not used below)
    for port, shared, members in ctx.port_plan:
        acts = []
        for i, m, d in members:
            period, n, amount, prec = mv_int[i].dirs[m][d]
            if n == 0:
                continue
            r, a = real_allowed(i, m, d)
            acts.append((math.ceil(period * cpo), a, n, (r - a) * (n - 1), a * (n - 1)))
        if len(acts) == 1:
            ss_ports.append(acts[0][3])
        elif acts:
            pos = sum(x[3] for x in acts if x[3] > 0)
            neg = sum(x[3] for x in acts if x[3] <= 0)
            muw = sum(x[4] for x in acts)
            ss_ports.append(pos + max(0, neg + muw - _window_union(acts)))
        ss_by_port.append(ss_ports[-1] if acts else 0)
    ss_total = max(ss_ports)

    # ---- on/off-loading records (6.5) ----
    failures: list[str] = []
    rec: dict[tuple[int, int, int], tuple[float, bool]] = {}
    out_mop = ctx.operands[0].memory_operand
    t_comp = math.ceil(total * cpo) + ss_total
    for port, is_shared, members in ctx.port_plan:
        g1, g2 = [], []
        for i, m, d in members:
            if ctx.operands[i].memory_operand == out_mop and d in (RD_DOWN, WR_DOWN):
                continue
            n = mv_int[i].dirs[m][d][1]
            if n == 0:
                continue
            real_allowed(i, m, d)
            (g1 if n == 1 else g2).append((i, m, d))
        if g1:
            b_avg = sum(math.ceil(_bw_avg(ctx.operands[i], temporal[i], mv_int[i], m, d) / cpo) for i, m, d in g2)
            surplus = max(0, ((port.bw_max - b_avg) / port.bw_max) * t_comp)
            tot = [real[x] for x in g1]
            mins = [math.ceil(mv_int[i].data[1] * mv_int[i].stored_prec[1] / port.bw_max) for i, _, _ in g1]
            remaining, below = reduce_ordered(tot, mins, surplus)
            if below:
                failures.append(f"reduce_ordered: one-shot transfer below its minimum on port {port.name}")
            for x, v in zip(g1, remaining):
                rec[x] = (v, is_shared)
        for x in g2:
            rec[x] = (real[x], is_shared)
    indiv: dict[int, float] = {}
    half: dict[int, float] = {}
    shared_part: dict[int, float] = {}
    input_idx = [i for i, o in enumerate(ctx.operands) if not o.is_output]
    for i in input_idx:
        indiv[i] = half[i] = shared_part[i] = 0
        for k in range(len(ctx.operands[i].chain) - 1):
            v1, s1 = rec.get((i, k, WR_DOWN), (0, False))
            v2, s2 = rec.get((i, k + 1, RD_DOWN), (0, False))
            x = max(v1, v2)
            if not s1 and not s2:
                indiv[i] += x
            elif s1 and s2:
                shared_part[i] += x
            else:
                half[i] = x
    if len(input_idx) == 1:
        onload = indiv[input_idx[0]]
    elif len(input_idx) >= 2:
        a, b = input_idx[0], input_idx[1]
        onload = min(
            shared_part[a] + max(shared_part[b] + half[b] + indiv[b], half[a] + indiv[a]),
            shared_part[b] + max(shared_part[a] + half[a] + indiv[a], half[b] + indiv[b]),
        )
    else:
        onload = 0
    offload = 0
    out = ctx.operands[0]
    for k in range(len(out.chain) - 1):
        offload += max(rec.get((0, k, RD_UP), (0, False))[0], rec.get((0, k + 1, WR_UP), (0, False))[0])
    return ss_total, onload, offload, db, failures, ss_by_port


def _bw_avg(o: OperandContext, t: _Temporal, mv: _Movement, m: int, d: int) -> int:
    """Average required bandwidth of a direction, from the stored precision of the moved level (4.3).

    The boost multiplies after the division, as ZigZag does: it matters for the truncation.
    """
    if mv.dirs[m][d][1] == 0:
        return 0
    if d in (RD_DOWN, WR_UP):
        return int((mv.data[m] * mv.stored_prec[m] / t.periods[m]) * o.spatial_int.boost[m])
    return int(mv.data[m + 1] * mv.stored_prec[m + 1] / t.periods[m + 1])


def _window_union(acts: list[tuple[int, int, int, int, int]]) -> int:
    """Length of the union of the periodic updating windows of the activities sharing a port (6.4).

    Activity ``i`` occupies slots ``t`` with ``t mod P_i < A_i``; the union is counted over one period of the
    longest activity and scaled by its period count. The periods are prefix products of one loop list, so
    they nest; the count uses that nesting instead of marking every slot (periods reach millions).
    """
    for p, a, n, _, _ in acts:
        if p == a:
            return p * n
    p_max, n_max = 0, 0
    windows: dict[int, int] = {}
    for p, a, n, _, _ in acts:
        if p > p_max:
            p_max, n_max = p, n
        windows[p] = max(windows.get(p, 0), min(a, p))
    periods = sorted(windows)
    if any(p_max % p for p in periods):  # not nested: count slot by slot
        return sum(1 for t in range(p_max) if any(t % p < a for p, a, _, _, _ in acts)) * n_max

    def covered(j: int, x: int) -> int:
        """Slots in [0, x) covered by the activities of the j+1 shortest periods."""
        if j < 0 or x <= 0:
            return 0
        p, w = periods[j], windows[periods[j]]
        q, r = divmod(x, p)
        per_period = w + covered(j - 1, p) - covered(j - 1, w)
        head = min(r, w)
        return q * per_period + head + covered(j - 1, r) - covered(j - 1, head)

    return covered(len(periods) - 1, p_max) * n_max


def reduce_ordered(costs: list[float], minima: list[float], surplus: float) -> tuple[list[float], bool]:
    """Shorten the largest transfers first, each to its own minimum, until the surplus is used (6.5).

    Returns the remaining cycles and whether some entry ends below its minimum (ZigZag asserts there).
    """
    if surplus <= 0 or not costs:
        return list(costs), False
    order = sorted(range(len(costs)), key=lambda i: costs[i], reverse=True)
    out = list(costs)
    for i in order:
        if surplus <= 0:
            break
        r = min(max(0.0, out[i] - minima[i]), surplus)
        out[i] -= r
        surplus -= r
    return out, any(v < mn for v, mn in zip(out, minima))


def evaluate(layer: Layer, accelerator: Accelerator, mapping: Mapping) -> CostResult:
    """Cost of a complete mapping; raises ``ValueError`` if it does not fit the layer."""
    ctx = prepare(layer, accelerator, mapping.spatial, mapping.operand_links)
    check_temporal(ctx, mapping.temporal)
    return evaluate_temporal(ctx, mapping.temporal)
