"""The one signature every mapping engine has: ``engine(ctx, options) -> EngineResult``.

An engine maps the temporal part of one layer for one fixed spatial mapping (bound into ``ctx`` by
:func:`cpmap.cost.model.prepare`). The driver (:mod:`cpmap.solve`) enumerates spatial mappings, calls the
engine for each and keeps the best, so LOMA, the exhaustive enumeration and the exact CP-SAT/MILP
backends are interchangeable.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Callable

from ..cost.model import CostResult, LayerContext, evaluate_temporal
from ..mapping import TemporalMapping
from ..status import Status
from ..cost.capacity import capacity_violations

OBJECTIVES = ("energy", "latency", "edp")

#: the exact engines' tolerance between the solver's objective and the cost model's value
REL_TOL = 1e-9


class ExactnessError(AssertionError):
    """The solver's objective differs from the cost model's value of the returned mapping: a bug, never a
    user error (an internal error of the CLI, not a skipped layer)."""


@dataclass(frozen=True)
class EngineOptions:
    """Search settings shared by all engines (each reads the ones it understands)."""

    objective: str = "energy"
    lpf_limit: int = 6  # LOMA's limit on loop prime factors
    time_limit: float | None = None  # seconds per spatial mapping (exact engines)
    hint: TemporalMapping | None = None  # a starting solution for the exact engines
    max_space: int = 2_000_000  # exhaustive: refuse layers whose space is larger
    #: a known objective value the engine may prune against (best of earlier spatial mappings)
    cutoff: float | None = None
    #: SALSA (ZigZag's defaults): annealing iterations, start temperature, criterion, random seed
    salsa_iterations: int = 1000
    salsa_start_temperature: float = 0.05
    salsa_criterion: str = "energy"
    seed: int = 0
    #: a partial user ``temporal_ordering`` (innermost first; size ``None`` = '*'), entries of dims the layer lacks
    #: already dropped (:class:`cpmap.ordering.TemporalOrdering`). Honoured by loma (ZigZag's positions) and
    #: exhaustive (the block rule); the driver refuses the layer for engines that do not encode it yet, and costs a
    #: complete ordering itself (status ``fixed``) without calling any engine.
    ordering: tuple[tuple[str, int | None], ...] = ()


@dataclass
class EngineResult:
    """Best temporal mapping for one spatial mapping, with its certificate.

    ``status``: ``optimal`` (proven), ``feasible`` (a solution, with a proven ``bound``), ``heuristic``
    (no bound: LOMA), ``fixed`` (a complete user ordering, costed by the driver: its one mapping is its own
    bound), ``infeasible`` (proven: nothing fits), ``pruned`` (proven not better than ``options.cutoff``;
    ``bound`` holds the proof). ``cost`` is always the cost model's value of
    ``temporal``; ``objective_value`` is the objective computed from ``cost``.
    """

    status: Status
    temporal: TemporalMapping | None = None
    cost: CostResult | None = None
    objective_value: float | None = None
    bound: float | None = None
    message: str = ""
    stats: dict = field(default_factory=dict)


Engine = Callable[[LayerContext, EngineOptions], EngineResult]


def objective_value(objective: str, cost: CostResult) -> float:
    """The scalar an engine minimises (ties are broken inside the engines, spec section 7)."""
    if objective == "energy":
        return cost.energy
    if objective == "latency":
        return cost.latency
    if objective == "edp":
        return cost.energy * cost.latency
    raise ValueError(f"unknown objective {objective!r}")


def empty_order(ctx: LayerContext, options: EngineOptions) -> EngineResult:
    """No temporal loop: one mapping, all levels empty."""
    tm = TemporalMapping((), {o.name: tuple(0 for _ in o.chain) for o in ctx.operands})
    if capacity_violations(ctx, tm):
        return EngineResult(Status.INFEASIBLE, message="the spatial tiles do not fit the memories")
    cost = evaluate_temporal(ctx, tm)
    v = objective_value(options.objective, cost)
    # nothing to decide: the single mapping is the optimum for every objective
    stats = {"solver_energy": cost.energy, "solver_latency": cost.latency, "coords": 0}
    return EngineResult(Status.OPTIMAL, tm, cost, v, v, stats=stats)
