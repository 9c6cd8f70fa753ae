"""Capacity validity of a complete temporal mapping (spec 3.5): the same tiles and precision rule as the
allocator, but for any per-operand level split, not only the greedy one."""

from __future__ import annotations

from ..cost.model import LayerContext, tile_elements
from ..mapping import TemporalMapping
from .allocator import allocator_precision


def _ext(loops) -> dict[str, float]:
    out: dict[str, float] = {}
    for d, s in loops:
        out[d] = out[d] * s if d in out else s
    return out


def capacity_violations(ctx: LayerContext, tm: TemporalMapping) -> list[str]:
    """Memories whose per-instance content exceeds their size; empty when the mapping is valid.

    Per memory: the sum over the operands stored there of tile bits (spatial loops served at or below the
    level + temporal loops of levels 0..m) at the allocator's precision; partial tiles of a
    ``force_double_buffering`` memory count twice. Top memories hold everything by construction of ``cuts``.
    """
    layer = ctx.layer
    used: dict[int, float] = {}
    for o in ctx.operands:
        cuts = tm.cuts[o.name]
        start = 0
        for m, mem in enumerate(o.chain):
            prec = allocator_precision(ctx, o, start, m, tm.loops)
            bits = tile_elements(o, layer, _ext(tm.loops[: cuts[m]]), o.spatial_frac.cum_extent[m]) * prec
            if mem.force_double_buffering and cuts[m] < len(tm.loops):
                full = tile_elements(o, layer, _ext(tm.loops), o.spatial_frac.cum_extent[m]) * prec
                if bits < full:
                    bits *= 2
            used[mem.index] = used.get(mem.index, 0) + bits
            start = cuts[m]
    return [
        f"{mem.name}: {used[mem.index]:g} > {mem.size} bits"
        for mem in ctx.accelerator.memories
        if mem.index in used and used[mem.index] > mem.size
    ]
