"""Lower bounds of a spatial candidate's optimum that need no search: what prunes the spatial space.

Every bound here holds for every temporal mapping of the candidate (the layer context), so a candidate whose
bound exceeds the best value found so far cannot win and is pruned with a proof.

* **Latency**: the temporal cycles times cycles per operation plus the systolic drain; stalls, on- and
  off-loading are never negative (spec 6).
* **Energy**: the MAC energy; the traffic between the array and each operand's innermost level at its least
  (an input is read once per ``T / stat`` cycles, and ``stat`` is at most the product of the operand's
  irrelevant temporal loops; the output's array traffic does not depend on the temporal mapping); and, on every
  link between two memory levels, each element of the operand crossing it once (a level refilled ``T / P``
  times with ``D`` elements moves ``D T / P`` elements, at least the whole operand, because the loops above its
  tile multiply its footprint by at most their product), in words without the rounding up and less the one
  word the cost model's final truncation may take off.
* **EDP**: the product of the two.
"""

from __future__ import annotations

import math

from .cost.context import RD_DOWN, RD_UP, WR_DOWN, WR_UP, LayerContext
from .cost.energy import transfer_words
from .cost.movement import link_transfers, tile_elements


def latency_floor(ctx: LayerContext) -> float:
    """Cycles no temporal mapping of ``ctx`` can beat."""
    return ctx.total_cycles * ctx.cycles_per_op + ctx.systolic_drain


def energy_floor(ctx: LayerContext) -> float:
    """pJ no temporal mapping of ``ctx`` can beat (see the module docstring)."""
    total = ctx.total_cycles
    energy = float(ctx.mac_energy)
    for o in ctx.operands:
        sp = o.spatial_frac
        if o.is_output:
            psum0 = any(d in o.irrelevant_dims for d in ctx.temporal_sizes) or any(o.spatial_ir_frac[1:])
            ends = link_transfers(o, 1, sp.boost[0], 1, total, psum0)
        else:
            stat = math.prod(s for d, s in ctx.temporal_sizes.items() if d in o.irrelevant_dims)
            ends = link_transfers(o, 1, sp.boost[0], stat, total, False)
        r_cost, w_cost = o.costs[0]
        energy += r_cost * (transfer_words(o, 0, RD_DOWN, ends[0]) or 0) + w_cost * (transfer_words(o, 0, WR_UP, ends[1]) or 0)
        precision = o.final_precision if o.is_output else o.precision
        if o.is_output:
            precision = min(o.precision, o.final_precision)
        for link in range(len(o.chain) - 1):
            full = tile_elements(o, ctx.layer, dict(ctx.temporal_sizes), sp.cum_extent[link])
            if o.is_output:  # results go up once: read from the lower level, written into the upper one
                lower, upper = (link, RD_UP), (link + 1, WR_UP)
            else:  # data comes down once: read from the upper level, written into the lower one
                lower, upper = (link, WR_DOWN), (link + 1, RD_DOWN)
            for (level, direction), amount in ((lower, full), (upper, full * sp.boost[link + 1])):
                bw = o.ports[level][direction]
                if bw is None:
                    continue
                cost = o.costs[level][0 if direction in (RD_DOWN, RD_UP) else 1]
                # the word count truncates its product once (spec 5.2): up to one word below the exact value
                energy += cost * max(0.0, amount * precision / bw[1] * sp.instances[level + 1] - 1)
    return energy


def floor(ctx: LayerContext, objective: str) -> float:
    """The candidate's lower bound for ``objective`` (energy, latency or edp)."""
    if objective == "energy":
        return energy_floor(ctx)
    if objective == "latency":
        return latency_floor(ctx)
    if objective == "edp":
        return energy_floor(ctx) * latency_floor(ctx)
    raise ValueError(f"unknown objective {objective!r}")
