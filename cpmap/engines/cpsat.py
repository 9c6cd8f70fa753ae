"""The exact engine on CP-SAT: energy, latency, EDP and the energy-latency Pareto front, proven.

The model (:mod:`cpmap.engines.cpsat_model`) states the cost model's energy and, with its boundary
elements, ZigZag's uniform latency exactly. The engine runs *phases* on it, each a CP-SAT minimisation
whose every solution is decoded, re-costed by the cost model and compared (:func:`_minimise`):

* ``energy``: minimise the energy on the small energy-only model (``E*``), then the latency among the
  mappings of energy ``E*`` on the latency model (ZigZag's tie rule, proven);
* ``latency``: minimise the latency (``L*``), then the energy among the mappings of latency ``L*``;
* ``edp``: the Pareto walk from the energy end (:func:`pareto_front`) until no later point can beat the
  best product: a point of energy at least ``E_next`` and latency at least ``L*`` has ``EDP >= E_next L*``;
* the front itself (``cpmap pareto``): every point of the walk, each a proven lexicographic optimum.

Re-costing is also the safety net of any relaxed term (a window union of more than
:data:`~cpmap.formulation.MAX_UNION_LINKS` links, float ties of ZigZag's double-buffer test): when the
re-costed value is above the model's, the assignment is cut off and the phase goes on; the phase is proven
once the model's optimum reaches the best re-costed value. A model value above the re-costed one means the
model is too strict, a bug: :class:`~cpmap.engines.base.ExactnessError`.

The solver runs one deterministic worker with a fixed search, so a layer gets the same mapping on any
machine and with any ``--jobs``; with a time limit the incumbent may depend on machine speed.
"""

from __future__ import annotations

import math
import time
from dataclasses import dataclass, field
from fractions import Fraction

from ortools.sat.python import cp_model

from ..bounds import latency_floor
from ..cost.capacity import capacity_violations
from ..cost.model import LayerContext, check_temporal, evaluate_temporal
from ..errors import EngineRefusal
from ..formulation import TemporalFormulation
from ..mapping import TemporalMapping
from ..status import Status
from .base import EngineOptions, EngineResult, ExactnessError, objective_value
from .certificate import Point, agrees, check_solution, energy_limit, formulation_or_result, latency_limit, no_solution, scaled_value
from .cpsat_model import ChainModel, ModelTooLarge

#: verify-and-cut rounds per phase before a relaxed model gives up proving (status feasible)
MAX_CUTS = 200


@dataclass
class Phase:
    """Outcome of one minimisation: ``point`` (or None), ``proven`` optimum, ``bound`` (model units)."""

    point: Point | None
    proven: bool
    infeasible: bool
    bound: int | None
    stats: dict = field(default_factory=dict)


class Deadline:
    def __init__(self, seconds: float | None):
        self.end = None if seconds is None else time.perf_counter() + seconds

    def left(self) -> float | None:
        return None if self.end is None else max(0.01, self.end - time.perf_counter())

    def over(self) -> bool:
        return self.end is not None and time.perf_counter() >= self.end


def _minimise(
    model: ChainModel,
    objective: str,
    deadline: Deadline,
    limit: int | None = None,
    hint: TemporalMapping | None = None,
    assumptions: tuple = (),
    witness: TemporalMapping | None = None,
) -> Phase:
    """Minimise ``objective`` ('energy' or 'latency', model units) under ``limit`` (``<=``), re-costing
    every solution; cut and continue while the model's value is below the re-costed one.

    The phase's own constraints (the limit, cuts) hold only while its literal is assumed, so one model
    serves several phases (lexicographic solves, the Pareto walk); ``assumptions`` are literals of earlier
    constraints the phase must respect. ``witness`` is a valid mapping known to meet them (LOMA's, or the
    previous phase's): its value bounds the search from above (measured 5-7x faster latency proofs), and a
    model that rejects it, or proves an optimum above it, is too strict: :class:`ExactnessError`.
    """
    form = model.form
    expr = model.energy if objective == "energy" else model.latency
    m = model.m
    active = m.new_bool_var("phase")
    m.clear_objective()
    m.minimize(expr)
    if limit is not None:
        m.add(expr <= limit).only_enforce_if(active)
    m.clear_hints()
    if hint is not None:
        model.add_hint(hint)
    witness_value: Fraction | None = None
    if witness is not None:
        witness_value = scaled_value(form, evaluate_temporal(form.ctx, witness, detail=False), objective)
        m.add(expr <= math.floor(witness_value * (1 + Fraction(1, 10**12)))).only_enforce_if(active)
        if hint is None:
            model.add_hint(witness)
    m.clear_assumptions()
    m.add_assumptions([active, *assumptions])
    best: Point | None = None
    best_value: Fraction | None = None
    stats: dict = {"branches": 0, "cuts": 0}
    bound = None
    for _ in range(MAX_CUTS + 1):
        solver = cp_model.CpSolver()
        solver.parameters.search_branching = cp_model.FIXED_SEARCH
        solver.parameters.num_workers = 1  # deterministic: the same mapping on any machine, any --jobs
        solver.parameters.random_seed = 0
        if model.with_latency:
            # CP-SAT's presolve loops for tens of seconds on the latency model's max terms (measured 50 s of a
            # 55 s proof on ResNet-18 layer1.0/conv1, tpu_like); the search itself needs none of it
            solver.parameters.cp_model_presolve = False
        left = deadline.left()
        if left is not None:
            solver.parameters.max_time_in_seconds = left
        status = solver.solve(m)
        if status == cp_model.MODEL_INVALID:  # a term beyond 64-bit integers: refused, never a proof
            raise ModelTooLarge(f"layer {form.ctx.layer.name}: the CP-SAT model is invalid ({m.validate()})")
        stats["branches"] += solver.num_branches
        stats["solver_status"] = solver.status_name(status)
        if status == cp_model.INFEASIBLE:
            if best is None and witness_value is not None and (limit is None or witness_value <= limit):
                raise ExactnessError(f"layer {form.ctx.layer.name}: the exact model excludes a valid mapping of {objective} {float(witness_value)} (model units): {witness}")
            # nothing (else) below the limit: the incumbent, if any, is optimal
            return Phase(best, best is not None, best is None, None if best is None else bound, stats)
        if status not in (cp_model.OPTIMAL, cp_model.FEASIBLE):
            return Phase(best, False, False, None, stats)
        tiles = model.tiles(solver)
        value = round(solver.objective_value)
        e_scaled = solver.value(model.energy) if not isinstance(model.energy, int) else model.energy
        l_scaled = None
        if model.latency is not None:
            l_scaled = solver.value(model.latency) if not isinstance(model.latency, int) else model.latency
        point = check_solution(form, tiles, e_scaled, l_scaled, "CP-SAT")
        true_value = scaled_value(form, point.cost, objective)
        bound = math.floor(solver.best_objective_bound + 1e-6) if status == cp_model.OPTIMAL else math.ceil(solver.best_objective_bound - 1e-6)
        if best is None or true_value < best_value:
            best, best_value = point, true_value
        if status == cp_model.OPTIMAL and agrees(value, true_value):
            return Phase(best, True, False, value, stats)
        if status != cp_model.OPTIMAL:
            return Phase(best, False, False, bound, stats)
        # the model under-estimated this mapping (a relaxed term): cut it off, look strictly below the best
        stats["cuts"] += 1
        model.forbid(tiles, active)
        m.add(expr <= math.ceil(best_value) - 1).only_enforce_if(active)
    return Phase(best, False, False, bound, stats)


def _lexicographic(form: TemporalFormulation, primary: str, deadline: Deadline, cutoff: float | None, hint: TemporalMapping | None) -> tuple[Phase, Phase | None]:
    """Minimise ``primary``, then the other objective among the primary optima (ZigZag's tie rules)."""
    secondary = "latency" if primary == "energy" else "energy"
    if primary == "energy":
        first_model = ChainModel(form, latency=False)
        limit = energy_limit(form, cutoff) if cutoff is not None else None
    else:
        first_model = ChainModel(form, latency=True)
        limit = latency_limit(form, cutoff) if cutoff is not None else None
    witness = hint if hint is not None and _valid(form, hint) else None
    first = _minimise(first_model, primary, deadline, limit, hint, witness=witness)
    if not first.proven or first.point is None or deadline.over():
        return first, None
    model = first_model if primary == "latency" else ChainModel(form, latency=True)
    tie = model.m.new_bool_var("tie")
    if primary == "energy":
        model.m.add(model.energy <= energy_limit(form, first.point.energy)).only_enforce_if(tie)
    else:
        model.m.add(model.latency <= latency_limit(form, first.point.latency)).only_enforce_if(tie)
    second = _minimise(model, secondary, deadline, None, None, (tie,), witness=first.point.temporal)
    return first, second


def _valid(form: TemporalFormulation, tm: TemporalMapping) -> bool:
    """A mapping of this layer and spatial mapping that fits the memories (a witness for the bounds)."""
    try:
        check_temporal(form.ctx, tm)
    except ValueError:
        return False
    # a mapping the model can state (its loops are this layer's primes and it meets a partial user ordering)
    return not capacity_violations(form.ctx, tm) and form.encode(tm) is not None


def pareto_front(form: TemporalFormulation, deadline: Deadline, stop=None) -> tuple[list[Point], bool]:
    """The energy-latency Pareto front from the energy end: each point minimises the energy among the mappings
    faster than the previous point, then the latency among those of that energy (both proven).

    ``stop(next_energy, points)`` may end the walk early (EDP: no later point can win). Returns the points and
    whether the front is complete (proven).
    """
    model = ChainModel(form, latency=True)
    points: list[Point] = []
    while True:
        if not points:
            # the energy end: the small energy-only model proves E* fastest
            first = _minimise(ChainModel(form, latency=False), "energy", deadline)
        else:
            first = _minimise(model, "energy", deadline, None, points[-1].temporal)
        if first.infeasible:
            return points, True
        if not first.proven or first.point is None:
            return points, False
        if stop is not None and stop(first.point.energy, points):
            return points, True
        tie = model.m.new_bool_var("tie")
        model.m.add(model.energy <= energy_limit(form, first.point.energy)).only_enforce_if(tie)
        second = _minimise(model, "latency", deadline, None, None, (tie,), witness=first.point.temporal)
        if not second.proven or second.point is None:
            return points, False
        points.append(second.point)
        # every later point is strictly faster (latencies are multiples of 1/Lambda)
        model.m.add(model.latency <= latency_limit(form, second.point.latency) - 1)


def cpsat(ctx: LayerContext, options: EngineOptions) -> EngineResult:
    """The exact engine: the optimum of ``options.objective`` (with ZigZag's tie rules) over every temporal
    mapping of ``ctx``, proven, or the best found with a proven bound under a time limit."""
    t0 = time.perf_counter()
    deadline = Deadline(options.time_limit)
    if options.cutoff is not None and options.objective in ("energy", "edp"):
        # a candidate that must beat a cutoff: first the cheap relaxation (innermost levels decided, the rest at
        # their least energy); if even it cannot reach the cutoff, the candidate is pruned with that proof
        energy_form = formulation_or_result(ctx, options, latency=False)
        if isinstance(energy_form, EngineResult):
            return energy_form
        if _relaxation_prunes(energy_form, options, deadline):
            return EngineResult(Status.PRUNED, bound=options.cutoff, message="the innermost-levels relaxation cannot beat the best spatial mapping so far", stats={"relaxation": True})
    form = formulation_or_result(ctx, options, latency=True)
    if isinstance(form, EngineResult):
        return form
    stats: dict = {"coords": len(form.coords), "elements": len(form.elements)}
    try:
        if options.objective == "edp":
            result = _edp(form, deadline, options, stats)
        else:
            result = _single(form, deadline, options, stats)
    except EngineRefusal as exc:
        return EngineResult(Status.SKIPPED, message=str(exc))
    result.stats = dict(stats, **result.stats, seconds=time.perf_counter() - t0)
    return result


def _relaxation_prunes(form: TemporalFormulation, options: EngineOptions, deadline: Deadline) -> bool:
    """The innermost-levels relaxation has no solution within the cutoff (energy; EDP through the latency
    floor: a mapping of energy E takes at least ``latency_floor`` cycles, so its EDP is at least E times it)."""
    limit_pj = options.cutoff if options.objective == "energy" else options.cutoff / latency_floor(form.ctx)
    model = ChainModel(form, latency=False, max_level=0)
    model.m.add(model.energy <= energy_limit(form, limit_pj))
    solver = cp_model.CpSolver()
    solver.parameters.num_workers = 1
    solver.parameters.random_seed = 0
    left = deadline.left()
    if left is not None:
        solver.parameters.max_time_in_seconds = left
    return solver.solve(model.m) == cp_model.INFEASIBLE


def _single(form: TemporalFormulation, deadline: Deadline, options: EngineOptions, stats: dict) -> EngineResult:
    objective = options.objective
    first, second = _lexicographic(form, objective, deadline, options.cutoff, options.hint)
    stats["phases"] = [first.stats] + ([second.stats] if second is not None else [])
    if first.infeasible:
        return no_solution(options)
    bound = _bound_value(form, objective, first.bound)
    if first.point is None:
        return EngineResult(Status.UNKNOWN, bound=bound, message=f"no solution within the time limit ({first.stats.get('solver_status')})")
    point = second.point if second is not None and second.point is not None else first.point
    value = objective_value(objective, point.cost)
    stats.update(solver_energy=float(point.energy), solver_latency=float(point.latency))
    message = ""
    if first.proven and (second is None or not second.proven):
        message = f"{objective} proven; the {'latency' if objective == 'energy' else 'energy'} tie-break was not proven within the time limit"
    if first.proven:
        return EngineResult(Status.OPTIMAL, point.temporal, point.cost, value, value, message=message)
    return EngineResult(Status.FEASIBLE, point.temporal, point.cost, value, None if bound is None else min(bound, value), message="time limit: best mapping found with the solver's proven bound")


def _bound_value(form: TemporalFormulation, objective: str, bound: int | None) -> float | None:
    if bound is None:
        return None
    if objective == "energy":
        return float(form.energy(bound))
    return float(form.latency_cycles(bound))


def _edp(form: TemporalFormulation, deadline: Deadline, options: EngineOptions, stats: dict) -> EngineResult:
    """The EDP optimum by a Pareto walk with a stopping bound (no product of scaled integers in CP-SAT)."""
    witness = options.hint if options.hint is not None and _valid(form, options.hint) else None
    fastest = _minimise(ChainModel(form, latency=True), "latency", deadline, witness=witness)
    if fastest.infeasible:
        return EngineResult(Status.INFEASIBLE, message="no temporal mapping fits the memories (proven)")
    if not fastest.proven or fastest.point is None:
        return EngineResult(Status.UNKNOWN, message="no latency floor within the time limit")
    l_min = fastest.point.latency
    cutoff = Fraction(options.cutoff) if options.cutoff is not None else None

    def stop(next_energy: Fraction, points: list[Point]) -> bool:
        # every later point has energy >= next_energy and latency >= l_min
        targets = [p.energy * p.latency for p in points] + ([cutoff] if cutoff is not None else [])
        return bool(targets) and next_energy * l_min >= min(targets)

    front, complete = pareto_front(form, deadline, stop)
    best = min(front, key=lambda p: p.energy * p.latency) if front else None
    e_min = front[0].energy if front else None
    stats["front_points"] = len(front)
    if best is None:
        if complete and cutoff is not None:
            return EngineResult(Status.PRUNED, bound=float(cutoff), message="cannot beat the best spatial mapping so far")
        return EngineResult(Status.UNKNOWN, message="no EDP point within the time limit")
    value = objective_value("edp", best.cost)
    stats.update(solver_energy=float(best.energy), solver_latency=float(best.latency))
    if cutoff is not None and best.energy * best.latency >= cutoff and complete:
        return EngineResult(Status.PRUNED, bound=float(cutoff), message="cannot beat the best spatial mapping so far")
    if complete:
        return EngineResult(Status.OPTIMAL, best.temporal, best.cost, value, value)
    bound = min(value, float(e_min * l_min)) if e_min is not None else None
    return EngineResult(Status.FEASIBLE, best.temporal, best.cost, value, bound, message="time limit: the Pareto walk did not finish")
