"""What the exact backends share around the solver call: the formulation step, the cutoff, the
certificate (re-evaluation of the returned mapping by the cost model, status, bound), and the results for
objectives they do not encode.

Latency and EDP are not encoded exactly: the energy-optimal mapping and LOMA's best mapping for the
objective are both costed; the better one is returned with status ``feasible`` and a bound proven without a
latency model: every mapping takes at least ``T_tot`` cycles plus the systolic drain (stalls, on- and
off-loading are never negative, spec 6), and its energy is at least the proven optimum ``E*``; so the
latency bound is ``T_tot x cycles per operation + drain`` and the EDP bound ``E* x`` that. A mapping that
reaches its bound is proven optimal (status ``optimal``); otherwise the status is ``feasible`` with the gap.
"""


from __future__ import annotations

import math
from fractions import Fraction
from typing import Callable

from ..cost.model import CostResult, LayerContext, evaluate_temporal
from ..formulation import FormulationTooLarge, FormulationUnsupported, TemporalFormulation, formulate
from ..status import Status
from ..mapping import TemporalMapping
from .base import REL_TOL, EngineOptions, EngineResult, ExactnessError, empty_order, latency_floor, objective_value
from .capacity import capacity_violations
from .loma import better, loma_temporal


def finish_non_energy(
    ctx: LayerContext, options: EngineOptions, tm: TemporalMapping, cost: CostResult, energy_bound: float, stats: dict
) -> EngineResult:
    """Latency/EDP result from the energy optimum (``energy_bound`` proven) and LOMA's best."""
    heuristic = loma_temporal(ctx, options.objective, options.lpf_limit)
    source = "energy optimum"
    if heuristic.cost is not None and better(options.objective, heuristic.cost, cost):
        tm, cost, source = heuristic.temporal, heuristic.cost, "LOMA"
    cycles = float(latency_floor(ctx))
    bound = cycles if options.objective == "latency" else energy_bound * cycles
    value = objective_value(options.objective, cost)
    stats = dict(stats, mapping_from=source)
    if value <= bound * (1 + REL_TOL):
        # the mapping reaches the floor (no stall, no loading time beyond it): proven optimal after all
        return EngineResult(Status.OPTIMAL, tm, cost, value, value, stats=stats, message=f"{options.objective} at its proven floor")
    return EngineResult(
        Status.FEASIBLE,
        tm,
        cost,
        value,
        bound,
        stats=stats,
        message=f"{options.objective} is not encoded exactly: best of the energy optimum and LOMA ({source}); bound T_tot x cycles per op + drain",
    )


def fallback_to_loma(ctx: LayerContext, options: EngineOptions, energy_bound: float | None, stats: dict, why: str) -> EngineResult:
    """The exact solver stopped (time limit) before any solution: LOMA's best mapping is the incumbent,
    with the solver's proven bound; ``unknown`` when LOMA finds nothing either (never "infeasible")."""
    heuristic = loma_temporal(ctx, options.objective, options.lpf_limit)
    if heuristic.cost is None:
        return EngineResult(Status.UNKNOWN, message=f"{why}; LOMA found no mapping either", stats=stats)
    value = objective_value(options.objective, heuristic.cost)
    if options.objective == "energy":
        bound = energy_bound
    else:
        cycles = float(latency_floor(ctx))
        bound = cycles if options.objective == "latency" else (energy_bound or 0.0) * cycles
    bound = None if bound is None else min(bound, value)
    return EngineResult(Status.FEASIBLE, heuristic.temporal, heuristic.cost, value, bound, stats=dict(stats, mapping_from="LOMA"), message=f"{why}: LOMA's mapping with the solver's bound")


def formulation_or_result(ctx: LayerContext, options: EngineOptions) -> TemporalFormulation | EngineResult:
    """The formulation of ``ctx``, or the result when there is nothing to solve (no temporal loop, tables
    too large, a constant part already over capacity)."""
    if not ctx.temporal_sizes:
        return empty_order(ctx, options)
    try:
        form = formulate(ctx)
    except (FormulationTooLarge, FormulationUnsupported) as exc:
        # refusing to build is never a proof: the candidate stays open
        return EngineResult(Status.SKIPPED, message=str(exc))
    if form.infeasible:
        return EngineResult(Status.INFEASIBLE, message=form.infeasible)
    return form


def cutoff_limit(form: TemporalFormulation, options: EngineOptions) -> int | None:
    """Largest scaled objective a spatial candidate may have to beat (or tie) the best so far."""
    if options.cutoff is None or options.objective != "energy":
        return None
    limit = (Fraction(options.cutoff) - Fraction(form.ctx.mac_energy)) * form.cost_scale
    return math.floor(limit * (1 + 1e-12))


def no_solution(options: EngineOptions, stats: dict) -> EngineResult:
    """The solver proved that no mapping fits (or, under a cutoff, that none beats it)."""
    if options.cutoff is not None and options.objective == "energy":
        return EngineResult(Status.PRUNED, bound=options.cutoff, stats=stats, message="cannot beat the best spatial mapping so far")
    return EngineResult(Status.INFEASIBLE, message="no temporal mapping fits the memories (proven)", stats=stats)


def certify(
    form: TemporalFormulation,
    options: EngineOptions,
    tm,
    solver_scaled: int,
    bound_scaled: int,
    proven: bool,
    stats: dict,
    backend: str,
    refine: Callable | None = None,
) -> EngineResult:
    """Re-cost the decoded mapping, check it against the solver's objective, and state the certificate.

    Below a proven optimum the decoded mapping may only be cheaper than the solver's incumbent (the cost
    model's merge-down never raises a term); any other difference, or a capacity violation, is a bug and
    raises :class:`ExactnessError`. ``refine(tm, cost)`` may swap in an equally cheap mapping (tie-break).
    """
    ctx = form.ctx
    violations = capacity_violations(ctx, tm)
    cost = evaluate_temporal(ctx, tm)
    solver_energy = float(form.energy(solver_scaled))
    stats["solver_energy"] = solver_energy
    mismatch = abs(solver_energy - cost.energy) > REL_TOL * max(1.0, abs(cost.energy))
    if violations or (mismatch and (proven or cost.energy > solver_energy)):
        raise ExactnessError(
            f"layer {ctx.layer.name}: {backend} energy {solver_energy!r} != cost model {cost.energy!r}"
            + (f"; capacity violated: {violations}" if violations else "")
        )
    energy_bound = float(form.energy(bound_scaled))
    if proven and refine is not None:
        tm, cost = refine(tm, cost)
    value = objective_value(options.objective, cost)
    if options.objective == "energy":
        # at a proven optimum the bound is the value (the exact rational and the float sum agree to 1e-9)
        return EngineResult(Status.OPTIMAL if proven else Status.FEASIBLE, tm, cost, value, value if proven else min(energy_bound, value), stats=stats)
    return finish_non_energy(ctx, options, tm, cost, energy_bound, stats)
