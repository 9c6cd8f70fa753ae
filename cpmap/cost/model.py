"""ZigZag's analytical cost model for digital and IMC cores, as plain functions (spec cost_model.md sections 3-7).

The model is split by concern: :mod:`.context` binds what the temporal mapping does not change
(:func:`prepare`), :mod:`.movement` derives the transfers of a temporal mapping (the data-movement rule),
:mod:`.energy` counts and costs word accesses, :mod:`.latency` holds the uniform latency model, and
:mod:`.capacity` the capacity rule. This module puts them together: :func:`evaluate_temporal` costs one
temporal mapping under a prepared context, :func:`evaluate` a complete :class:`~cpmap.mapping.Mapping`.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from ..hardware import Accelerator
from ..imc.layer_cost import precharge_energy
from ..mapping import Mapping, TemporalMapping
from ..workload import Layer
from .context import (  # noqa: F401  (re-exported: the cost model's public names)
    DIRECTION_TAG,
    DIRECTIONS,
    RD_DOWN,
    RD_UP,
    TAG_INDEX,
    WR_DOWN,
    WR_UP,
    LayerContext,
    OperandContext,
    check_temporal,
    loop_products,
    port_missing,
    prepare,
)
from .energy import transfer_words, word_count  # noqa: F401
from .latency import latency_terms, reduce_ordered, window_union  # noqa: F401
from .movement import link_transfers, movement, stationary_view, tile_elements  # noqa: F401


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


def evaluate_temporal(ctx: LayerContext, tm: TemporalMapping, detail: bool = True) -> CostResult:
    """Cost of one temporal mapping under the context's spatial mapping (no validity check)."""
    layer = ctx.layer
    loops = tm.loops
    prefix = [1]
    for _, s in loops:
        prefix.append(prefix[-1] * s)
    total = prefix[-1]
    views = [stationary_view(o, loops, prefix, tm.cuts[o.name]) for o in ctx.operands]
    mv_frac = [movement(o, layer, t, o.spatial_frac, total) for o, t in zip(ctx.operands, views)]
    if ctx.same_spatial_variants:
        mv_int = mv_frac
    else:
        mv_int = [movement(o, layer, t, o.spatial_int, total) for o, t in zip(ctx.operands, views)]

    # ---- energy (spec 5) ----
    mem_energy = 0
    breakdown: dict[str, dict[str, float]] = {}
    words_out: dict[str, dict[str, dict[str, float]]] = {}
    for o, mv in zip(ctx.operands, mv_frac):
        for m in range(len(o.chain)):
            words = [0, 0, 0, 0]
            for d in range(4):
                w = transfer_words(o, m, d, mv.dirs[m][d])
                if w is None:
                    raise port_missing(ctx, o, m, d)
                words[d] = w
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
    lat = latency_terms(ctx, views, mv_frac, mv_int, total)
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
        stationary_cuts={o.name: tuple(t.stat_cuts) for o, t in zip(ctx.operands, views)} if detail else {},
        port_stall_slack=_ports_by_memory(ctx, ss_by_port) if detail else {},
    )


def _ports_by_memory(ctx: LayerContext, ss_by_port: list[float]) -> dict[str, dict[str, float]]:
    """Name the per-port values of the latency model (one per entry of ``ctx.port_plan``, same order)."""
    names = [(mem.name, port.name) for mem in ctx.accelerator.memories for port, _ in mem.port_duties]
    out: dict[str, dict[str, float]] = {}
    for (mem, port), v in zip(names, ss_by_port):
        out.setdefault(mem, {})[port] = v
    return out


def evaluate(layer: Layer, accelerator: Accelerator, mapping: Mapping) -> CostResult:
    """Cost of a complete mapping; raises ``ValueError`` if it does not fit the layer."""
    ctx = prepare(layer, accelerator, mapping.spatial, mapping.operand_links)
    check_temporal(ctx, mapping.temporal)
    return evaluate_temporal(ctx, mapping.temporal)
