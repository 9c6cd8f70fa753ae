"""LOMA's greedy memory allocator: one loop order -> per-operand memory-level splits (spec 8.2).

Memories are visited bottom-up; each takes, per operand it stores, the prefix of the still unallocated
loops that fits its capacity (per instance, including the spatial loops it serves) and minimises
``remaining iterations x tile bits`` summed over the operands sharing it; the top memory takes the rest.
"""

from __future__ import annotations

import math
from itertools import product

from ..cost.capacity import allocation_precision, occupied_bits
from ..cost.model import LayerContext, OperandContext, tile_elements
from ..mapping import TemporalMapping


class AllocationError(Exception):
    """The loop order does not fit the memories (ZigZag silently skips such orderings)."""


def _add(ext: dict[str, float], loops) -> dict[str, float]:
    out = dict(ext)
    for d, s in loops:
        out[d] = out[d] * s if d in out else s
    return out


def allocate(ctx: LayerContext, order: tuple[tuple[str, int], ...], even: bool = False) -> TemporalMapping:
    """Split ``order`` (innermost first) into memory levels for every operand; raise :class:`AllocationError`."""
    layer = ctx.layer
    ops_by_mem = {o.memory_operand: o for o in ctx.operands}
    # per operand: loops held so far (temporal + spatial extents), next unallocated position, level index
    held: dict[str, dict[str, float]] = {}
    start: dict[str, int] = {}
    level: dict[str, int] = {}
    cuts: dict[str, list[int]] = {}
    for o in ctx.operands:
        held[o.name] = _add({}, o.spatial_frac.unrollings[0])
        start[o.name] = 0
        level[o.name] = 0
        cuts[o.name] = []
    n_loops = len(order)
    suffix = [1] * (n_loops + 1)
    for k in range(n_loops - 1, -1, -1):
        suffix[k] = suffix[k + 1] * order[k][1]
    for mem in ctx.accelerator.memories:
        members: list[OperandContext] = [ops_by_mem[mop] for mop in mem.operands if mop in ops_by_mem]
        if not members:
            continue
        capacity = mem.size
        fdb = mem.force_double_buffering
        sizes: list[list[float]] = []
        offsets: list[int] = []
        scores: list[list[float]] = []
        for o in members:
            s0 = start[o.name]
            prec = allocation_precision(ctx, o, level[o.name], any(d in o.irrelevant_dims for d, _ in order[s0:]))
            cand: list[float] = []
            ext = held[o.name]
            full = tile_elements(o, layer, _add(ext, order[s0:]), {})
            for i in range(n_loops - s0 + 1):
                if i:
                    ext = _add(ext, order[s0 + i - 1 : s0 + i])
                bits = occupied_bits(tile_elements(o, layer, ext, {}), full, prec, fdb)
                if bits <= capacity:
                    cand.append(bits)
                else:
                    if i == 0:
                        raise AllocationError(f"{mem.name} cannot hold the {o.name} tile of the levels below")
                    break
            top = o.chain[-1] is mem
            if top:
                offsets.append(len(cand) - 1)
                cand = [cand[-1]]
                scores.append([0])
            else:
                offsets.append(0)
                scores.append([suffix[s0 + i] * b for i, b in enumerate(cand)])
            sizes.append(cand)
        best: tuple[int, ...] | None = None
        best_score = math.inf
        first = True
        for combo in product(*(range(len(c)) for c in sizes)):
            total = sum(sizes[j][i] for j, i in enumerate(combo))
            if total > capacity:
                if first:
                    raise AllocationError(f"{mem.name} cannot hold the tiles of the levels below together")
                first = False
                continue
            first = False
            score = sum(scores[j][i] for j, i in enumerate(combo))
            idx = tuple(i + offsets[j] for j, i in enumerate(combo))
            if score <= best_score and (not even or _even_ok(members, idx, start)):
                best_score, best = score, idx
        if best is None:
            best = tuple(0 for _ in members)
        for o, take in zip(members, best):
            s0 = start[o.name]
            lv = level[o.name]
            held[o.name] = _add(_add(held[o.name], order[s0 : s0 + take]), o.spatial_frac.unrollings[lv + 1])
            start[o.name] = s0 + take
            cuts[o.name].append(s0 + take)
            level[o.name] = lv + 1
            if o.chain[-1] is mem and start[o.name] != n_loops:
                raise AllocationError(f"top memory {mem.name} cannot hold all of {o.name}")
    return TemporalMapping(tuple(order), {o: tuple(c) for o, c in cuts.items()})


def _even_ok(members: list[OperandContext], idx: tuple[int, ...], start: dict[str, int]) -> bool:
    """Even mapping: no loop position is allocated here by one operand and left for above by another."""
    ends = [start[o.name] + i for o, i in zip(members, idx)]
    return not any(i > 0 and e > min(ends) for i, e in zip(idx, ends))
