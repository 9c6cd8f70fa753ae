"""What the exact engines return for the latency and EDP objectives, which they do not encode exactly.

The energy-optimal mapping and LOMA's best mapping for the objective are both costed; the better one is
returned with status ``feasible`` and a bound that is proven without a latency model: every mapping
takes at least ``T_tot`` cycles plus the systolic drain (stalls, on- and off-loading are never negative,
spec 6), and its energy is at least the proven energy optimum ``E*``. So the latency bound is
``T_tot + drain`` and the EDP bound ``E* x (T_tot + drain)``.
"""

from __future__ import annotations

from ..cost.model import CostResult, LayerContext
from ..mapping import TemporalMapping
from .base import EngineOptions, EngineResult, objective_value
from .loma import better, loma_temporal


def finish_non_energy(
    ctx: LayerContext, options: EngineOptions, tm: TemporalMapping, cost: CostResult, energy_bound: float, stats: dict
) -> EngineResult:
    """Latency/EDP result from the energy optimum (``energy_bound`` proven) and LOMA's best."""
    heuristic = loma_temporal(ctx, options.objective, options.lpf_limit)
    source = "energy optimum"
    if heuristic.cost is not None and better(options.objective, heuristic.cost, cost):
        tm, cost, source = heuristic.temporal, heuristic.cost, "LOMA"
    cycles = float(ctx.total_cycles + ctx.systolic_drain)
    bound = cycles if options.objective == "latency" else energy_bound * cycles
    value = objective_value(options.objective, cost)
    stats = dict(stats, mapping_from=source)
    return EngineResult(
        "feasible",
        tm,
        cost,
        value,
        min(bound, value),
        stats=stats,
        message=f"{options.objective} is not encoded exactly: best of the energy optimum and LOMA ({source}); bound from T_tot + drain",
    )


def fallback_to_loma(ctx: LayerContext, options: EngineOptions, energy_bound: float | None, stats: dict, why: str) -> EngineResult:
    """The exact solver stopped (time limit) before any solution: LOMA's best mapping is the incumbent,
    with the solver's proven bound; ``unknown`` when LOMA finds nothing either (never "infeasible")."""
    heuristic = loma_temporal(ctx, options.objective, options.lpf_limit)
    if heuristic.cost is None:
        return EngineResult("unknown", message=f"{why}; LOMA found no mapping either", stats=stats)
    value = objective_value(options.objective, heuristic.cost)
    if options.objective == "energy":
        bound = energy_bound
    else:
        cycles = float(ctx.total_cycles + ctx.systolic_drain)
        bound = cycles if options.objective == "latency" else (energy_bound or 0.0) * cycles
    bound = None if bound is None else min(bound, value)
    return EngineResult("feasible", heuristic.temporal, heuristic.cost, value, bound, stats=dict(stats, mapping_from="LOMA"), message=f"{why}: LOMA's mapping with the solver's bound")
