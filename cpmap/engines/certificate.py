"""What the exact backends share around their solver calls: building the formulation (or the result when
there is nothing to solve), and the check of every solution against the cost model.

A backend's claim is only as good as this check: each decoded mapping is re-costed by the cost model, must
fit the memories, and the model's energy (and latency, when the model states it) may never exceed the cost
model's value of the same mapping (:func:`check_solution`). A model value *below* the re-costed one is
allowed only for a relaxed model, whose backend then cuts the assignment off and searches on; a value above
it means the model is too strict, which would silently void "optimal": :class:`ExactnessError`.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from fractions import Fraction

from ..cost.capacity import capacity_violations
from ..cost.model import CostResult, LayerContext, evaluate_temporal
from ..errors import EngineRefusal
from ..formulation import TemporalFormulation, formulate
from ..mapping import TemporalMapping
from ..ordering import TemporalOrdering
from ..status import Status
from .base import REL_TOL, EngineOptions, EngineResult, ExactnessError, empty_order


@dataclass
class Point:
    """A solution: the element tiles, the decoded mapping, the cost model's result, and the model's exact
    energy (pJ) and latency (cycles) of it."""

    tiles: list[tuple[int, ...]]
    temporal: TemporalMapping
    cost: CostResult
    energy: Fraction
    latency: Fraction


def formulation_or_result(ctx: LayerContext, options: EngineOptions, latency: bool) -> TemporalFormulation | EngineResult:
    """The formulation of ``ctx``, or the result when there is nothing to solve: no temporal loop (one
    mapping), a formulation the engine refuses (``skipped``: never a proof), or a constant part already over
    capacity (``infeasible``, proven)."""
    if not ctx.temporal_sizes:
        return empty_order(ctx, options)
    try:
        form = formulate(ctx, latency=latency, ordering=TemporalOrdering(options.ordering))
    except EngineRefusal as exc:
        # refusing to build is never a proof: the candidate stays open
        return EngineResult(Status.SKIPPED, message=str(exc))
    if form.infeasible:
        return EngineResult(Status.INFEASIBLE, message=form.infeasible)
    return form


def no_solution(options: EngineOptions) -> EngineResult:
    """The solver proved that no mapping fits (or, under a cutoff, that none reaches it)."""
    if options.cutoff is not None:
        return EngineResult(Status.PRUNED, bound=options.cutoff, message="cannot beat the best spatial mapping so far")
    return EngineResult(Status.INFEASIBLE, message="no temporal mapping fits the memories (proven)")


def energy_limit(form: TemporalFormulation, energy: Fraction | float) -> int:
    """Largest scaled energy of a mapping whose energy is at most ``energy`` pJ (a cutoff or a tie)."""
    return math.floor((Fraction(energy) - Fraction(form.ctx.mac_energy)) * form.cost_scale * (1 + Fraction(1, 10**12)))


def latency_limit(form: TemporalFormulation, latency: Fraction | float) -> int:
    """Largest scaled latency of a mapping whose latency is at most ``latency`` cycles."""
    return math.floor(Fraction(latency) * form.latency.scale * (1 + Fraction(1, 10**12)))  # type: ignore[union-attr]


def check_solution(form: TemporalFormulation, tiles: list[tuple[int, ...]], energy_scaled: int, latency_scaled: int | None, backend: str) -> Point:
    """Decode and re-cost one solution; raise :class:`ExactnessError` when it does not fit the memories or
    when the model states more energy or latency than the cost model for the same mapping."""
    ctx = form.ctx
    tm = form.decode(tiles)
    violations = capacity_violations(ctx, tm)
    if violations:
        raise ExactnessError(f"layer {ctx.layer.name}: {backend}'s mapping violates capacity: {violations}")
    cost = evaluate_temporal(ctx, tm)
    energy = form.energy(energy_scaled)
    latency = form.latency_cycles(latency_scaled) if latency_scaled is not None else Fraction(cost.latency)
    if model_above(energy, cost.energy) or (latency_scaled is not None and model_above(latency, cost.latency)):
        raise ExactnessError(
            f"layer {ctx.layer.name}: {backend} energy {float(energy)!r} / latency {float(latency)!r} above the cost model's "
            f"{cost.energy!r} / {cost.latency!r} for the same mapping"
        )
    return Point(tiles, tm, cost, energy, latency)


def model_above(model_value: Fraction, cost_value: float) -> bool:
    """The model's value exceeds the cost model's beyond the float tolerance of the cost model."""
    return float(model_value) - cost_value > REL_TOL * max(1.0, abs(cost_value))


def scaled_value(form: TemporalFormulation, cost: CostResult, objective: str) -> Fraction:
    """The cost model's value of ``objective`` ('energy' or 'latency') in the model's integer units."""
    if objective == "energy":
        return (Fraction(cost.energy) - Fraction(form.ctx.mac_energy)) * form.cost_scale
    return Fraction(cost.latency) * form.latency.scale  # type: ignore[union-attr]


def agrees(model_value: int, true_value: Fraction) -> bool:
    """The re-costed value equals the model's (the model was exact for this mapping)."""
    return true_value <= model_value * (1 + REL_TOL) + Fraction(1, 10**9)
