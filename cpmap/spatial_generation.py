"""Spatial mappings: ZigZag's capacity limiting of unrollings (spec cost_model.md section 8.4 step 6).

Generation of candidate spatial mappings (steps 1-5) lives here as well.
"""

from __future__ import annotations

import math

from .hardware import Accelerator, MemoryLevel
from .mapping import SpatialMapping
from .workload import Layer
from .zigzag_order import set_order


def innermost_memories(accelerator: Accelerator) -> list[MemoryLevel]:
    """Memories with no memory below them for any operand they store (graph nodes without predecessor)."""
    return [m for m in accelerator.memories if all(accelerator.chain(op)[0] is m for op in m.operands)]


def limit_by_capacity(layer: Layer, accelerator: Accelerator, spatial: SpatialMapping, links: dict[str, str]) -> SpatialMapping:
    """Shrink unrollings whose per-instance data does not fit the innermost memories (ZigZag step 6).

    For each innermost memory and linked operand, the product of the unrollings (over the memory's served
    dims) of the dims that are not irrelevant for the operand must not exceed ``size / precision``
    elements; the largest factor is decremented until it fits (never below 1). New factors are assigned
    by old value, as ZigZag does, so equal old factors get equal new factors.
    """
    mapping = {ad: dict(dims) for ad, dims in spatial.unrollings}
    mem_to_layer = {m: o for o, m in links.items() if o in layer.operands}
    for mem in innermost_memories(accelerator):
        for mop in mem.operands:
            op = mem_to_layer.get(mop)
            if op is None:
                continue
            precision = layer.precision["O"] if op == "O" else layer.precision[op]
            irrelevant = {d for d, c in layer.relevance[op].items() if c == "ir"}
            # ZigZag walks these as sets; their iteration order decides which factor shrinks on ties
            served = set_order(mem.served_dimensions, "OADimension")
            inserted: list[str] = []
            total = 1
            for ad in served:
                for ld, f in mapping.get(ad, {}).items():
                    if ld not in irrelevant:
                        inserted.append(ld)
                        total *= f
            capacity = mem.size / precision if precision > 0 else math.inf
            if capacity >= total:
                continue
            limited = set_order(inserted, "LayerDim")
            factors = [mapping[ad][ld] for ld in limited for ad in served if ld in mapping.get(ad, {})]
            new = list(factors)
            while math.prod(new) > capacity and any(f > 1 for f in new):
                new[new.index(max(new))] -= 1
            remap = dict(zip(factors, new))
            for ad in mem.served_dimensions:
                if ad in mapping:
                    mapping[ad] = {ld: remap[f] if ld in limited else f for ld, f in mapping[ad].items()}
    return SpatialMapping(tuple((ad, tuple(d.items())) for ad, d in mapping.items()))
