"""The capacity rule (spec cost_model.md 3.5), defined once: what one operand level occupies in its memory.

Per memory and instance, the sum over the operands stored there of the level's tile (spatial loops served at
or below the level + temporal loops of levels ``0..m``, unrounded elements) times the allocation precision,
doubled for a ``force_double_buffering`` memory unless the tile is already everything. The allocation
precision of the output is the partial-sum precision while an O-irrelevant loop is left above the level
(temporal, or spatial above it), else the final precision. LOMA's allocator, the capacity check of complete
mappings, the exhaustive engine and the exact formulation all call these functions.
"""

from __future__ import annotations

from ..mapping import TemporalMapping
from .context import LayerContext, OperandContext
from .movement import tile_elements


def spatial_ir_above(ctx: LayerContext, o: OperandContext, level: int) -> bool:
    """An irrelevant dim of ``o`` (of size > 1 in the layer) is unrolled above ``level``.

    ZigZag checks dim names, not factor sizes: a spatial ir dim unrolled once still counts.
    """
    sizes = ctx.layer.loop_sizes
    return any(d in o.irrelevant_dims and sizes.get(d, 1) > 1 for su in o.spatial_frac.unrollings[level + 1 :] for d, _ in su)


def allocation_precision(ctx: LayerContext, o: OperandContext, level: int, temporal_ir_left: bool) -> int:
    """Precision (bits per element) of ``o``'s tile at ``level`` in the capacity rule.

    ``temporal_ir_left``: an O-irrelevant temporal loop sits above the level's start (outputs only).
    """
    if not o.is_output:
        return o.precision
    if temporal_ir_left or spatial_ir_above(ctx, o, level):
        return o.precision
    return o.final_precision


def occupied_bits(elements: float, full_elements: float, precision: int, force_double_buffering: bool) -> float:
    """Bits the level takes: its tile at ``precision``, twice in a memory that forces double buffering
    while the tile is not yet all of ``full_elements`` (what is left to store at this level)."""
    bits = elements * precision
    if force_double_buffering and elements < full_elements:
        bits *= 2
    return bits


def _extents(loops) -> dict[str, float]:
    out: dict[str, float] = {}
    for d, s in loops:
        out[d] = out[d] * s if d in out else s
    return out


def capacity_violations(ctx: LayerContext, tm: TemporalMapping) -> list[str]:
    """Memories whose per-instance content exceeds their size under ``tm``; empty when the mapping fits.

    Any per-operand level split is checked (not only the allocator's); top memories hold everything.
    """
    layer = ctx.layer
    used: dict[int, float] = {}
    everything = _extents(tm.loops)
    for o in ctx.operands:
        cuts = tm.cuts[o.name]
        start = 0
        for m, mem in enumerate(o.chain):
            ir_left = any(d in o.irrelevant_dims for d, _ in tm.loops[start:])
            prec = allocation_precision(ctx, o, m, ir_left)
            tile = tile_elements(o, layer, _extents(tm.loops[: cuts[m]]), o.spatial_frac.cum_extent[m])
            full = tile_elements(o, layer, everything, o.spatial_frac.cum_extent[m])
            used[mem.index] = used.get(mem.index, 0) + occupied_bits(tile, full, prec, mem.force_double_buffering)
            start = cuts[m]
    return [
        f"{mem.name}: {used[mem.index]:g} > {mem.size} bits"
        for mem in ctx.accelerator.memories
        if mem.index in used and used[mem.index] > mem.size
    ]
