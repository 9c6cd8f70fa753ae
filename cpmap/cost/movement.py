"""Data movement of one temporal mapping (spec cost_model.md sections 3.4 and 4).

Two steps, both pure functions:

* :func:`stationary_view`: per operand, the stationarity merge-down of the level splits (every cut moves up
  over the run of operand-irrelevant loops directly above it), the periods ``C(m)``, the top-relevant and
  top-irrelevant run products of each level and the temporal extents of each stationary level;
* :func:`link_transfers`: **the** data-movement rule. A data-transfer link joins level ``l`` and level
  ``l + 1`` of an operand (``l = -1``: the array); everything it moves depends on one tile, the lower
  level's (its elements, its period, whether partial sums still flow). The cost model builds every
  operand's four directions per level from it (:func:`movement`), and the exact formulation builds its
  per-tile tables from it, so the two can never disagree.
"""

from __future__ import annotations

from dataclasses import dataclass

from ..workload import Layer
from .context import OperandContext
from .spatial import OperandSpatial

#: one direction of one level: (period in cycles, period count, amount per period in elements, precision in bits)
Transfer = tuple[int, int, int, int]
NO_TRANSFER: Transfer = (0, 0, 0, 0)


@dataclass
class StationaryView:
    """One operand's temporal quantities after the stationarity merge-down (spec 3.4)."""

    stat_cuts: list[int]
    periods: list[int]  # C(m) for m = -1..M-1 (index m+1)
    top_relevant: list[int]  # topr: product of the relevant run directly below each stationary cut, index m+1
    top_irrelevant: list[int]  # topir: idem for the irrelevant run
    ext: list[dict[str, int]]  # temporal extents of stationary levels 0..m, index m
    ir_from: list[bool]  # O only: an ir loop at or above stationary level m (m = 0..M), index m


def stationary_view(o: OperandContext, loops: tuple[tuple[str, int], ...], prefix: list[int], cuts: tuple[int, ...]) -> StationaryView:
    """Merge-down, periods, run products and extents of ``o`` under ``loops`` split at ``cuts``."""
    k_total = len(loops)
    ir = o.irrelevant_dims
    is_ir = [d in ir for d, _ in loops]
    is_r = [d in o.relevant_dims for d, _ in loops]
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
    return StationaryView(stat_cuts, periods, topr, topir, ext, ir_from)


def tile_elements(o: OperandContext, layer: Layer, t_ext: dict[str, float], s_ext: dict[str, float]) -> float:
    """Elements of operand ``o`` touched by loops with per-dim extents ``t_ext`` x ``s_ext`` (one instance).

    Relevant dims multiply; a derived dim (IX) counts the distinct indices of its relation with the two
    extents truncated to integers, clipped at the full size (spec 1.3). Not rounded: the capacity rule
    compares it unrounded, the data-movement model rounds it.
    """
    val = 1
    for d in o.relevant_in_layer_order:
        e = t_ext.get(d, 1)
        sp = s_ext.get(d)
        val = val * (e * sp if sp is not None else e)
    for first, second, full, rel in o.partially_relevant:
        a = int(t_ext.get(first, 1) * s_ext.get(first, 1))
        b = int(t_ext.get(second, 1) * s_ext.get(second, 1))
        val = val * min(full, rel.footprint(a, b))
    return val


def link_transfers(o: OperandContext, data_low: int, boost_up: int, period: int, total: int, carries_psums: bool) -> tuple[Transfer, Transfer, Transfer, Transfer]:
    """The four ends of one data-transfer link of ``o`` (spec 4.3), from the lower level's tile.

    ``data_low``: elements of the lower level's tile (one instance; 1 at the array), ``boost_up``: the fan-out
    boost of the upper level, ``period``: the lower level's period, ``carries_psums``: the output's partial
    sums still flow on this link (``psum`` of the upper level). Returns, in direction order, the upper level's
    ``rd_down`` and ``wr_up`` and the lower level's ``rd_up`` and ``wr_down``; absent directions are
    :data:`NO_TRANSFER`. Output transfers use the partial precision while partial sums flow, else the final.
    """
    n = total // period
    if o.is_output:
        p = o.precision if carries_psums else o.final_precision
        up = (period, n, data_low * boost_up, p)
        low = (period, n, data_low, p)
        return (up if carries_psums else NO_TRANSFER, up, low, low if carries_psums else NO_TRANSFER)
    p = o.precision
    return ((period, n, data_low * boost_up, p), NO_TRANSFER, NO_TRANSFER, (period, n, data_low, p))


@dataclass
class Movement:
    data: list[int]  # D(m) for m = -1..M-1 (index m+1)
    stored_prec: list[int]  # index m+1
    #: per level m, per direction index (rd_down, wr_up, rd_up, wr_down): a :data:`Transfer`
    dirs: list[list[Transfer]]


def psum_flags(o: OperandContext, view: StationaryView, spatial_ir: tuple[bool, ...]) -> list[bool]:
    """Output only: ``psum(m)`` for m = 0..M (spec 4.2): an O-irrelevant loop (temporal, at or above stationary
    level m, or spatial in ``unrollings[m+1..]``) is still to come; ``psum(M)`` is false."""
    n_lv = len(o.chain)
    return [(view.ir_from[m] or any(spatial_ir[m + 1 :])) and m < n_lv for m in range(n_lv + 1)]


def movement(o: OperandContext, layer: Layer, view: StationaryView, sp: OperandSpatial, total: int) -> Movement:
    """Every transfer of ``o`` under one spatial variant (fractional for energy, integer for latency)."""
    n_lv = len(o.chain)
    data = [1] + [round(tile_elements(o, layer, view.ext[m], sp.cum_extent[m])) for m in range(n_lv)]
    if o.is_output:
        psum = psum_flags(o, view, o.spatial_ir_frac if sp is o.spatial_frac else o.spatial_ir_int)
        p_part, p_fin = o.precision, o.final_precision
        stored = [p_part if psum[m + 1] else p_fin for m in range(-1, n_lv)]
    else:
        psum = [False] * (n_lv + 1)
        stored = [o.precision] * (n_lv + 1)
    dirs: list[list[Transfer]] = [[NO_TRANSFER] * 4 for _ in range(n_lv)]
    for link in range(-1, n_lv - 1):
        rd_down, wr_up, rd_up, wr_down = link_transfers(o, data[link + 1], sp.boost[link + 1], view.periods[link + 1], total, psum[link + 1])
        dirs[link + 1][0], dirs[link + 1][1] = rd_down, wr_up
        if link >= 0:
            dirs[link][2], dirs[link][3] = rd_up, wr_down
    return Movement(data, stored, dirs)
