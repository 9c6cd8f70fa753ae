"""``cpmap pareto``: the exact energy-latency Pareto front of every layer and of the network.

Per layer and spatial candidate, the exact engine walks the front from the energy end
(:func:`cpmap.engines.cpsat.pareto_front`): each point minimises the energy among the mappings strictly
faster than the previous point, then the latency among the mappings of that energy; both are proven, so
every non-dominated (energy, latency) pair of the candidate's mapping space is found, each with a mapping.
The layer's front is the non-dominated union over its candidates (the same spatial candidates as
``cpmap solve``); its status is ``optimal`` when every candidate's walk finished, else ``feasible``.

The network front is the exact non-dominated set of the sums of one point per layer (identical layers
counted as often as they occur): the fronts are combined layer by layer, keeping only non-dominated partial
sums, which is exact because a dominated partial sum stays dominated whatever is added to it.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from typing import Any, Callable

from .api import Problem
from .cost.model import CostResult, prepare
from .engines.base import EngineOptions
from .engines.certificate import formulation_or_result
from .engines.cpsat import Deadline, pareto_front
from .mapping import Mapping
from .result import mapping_to_json
from .ordering import ordering_for_layer
from .solve import SolveOptions, fixed_order_result, layer_groups, run_tasks
from .status import Status

SCHEMA = "cpmap.pareto/1"


@dataclass
class FrontPoint:
    energy: float
    latency: float
    mapping: Mapping | None = None
    cost: CostResult | None = None


@dataclass
class LayerFront:
    name: str
    status: Status
    points: list[FrontPoint]
    solve_seconds: float = 0.0
    message: str = ""
    notes: list[str] = field(default_factory=list)


def non_dominated(points: list[FrontPoint]) -> list[FrontPoint]:
    """The points no other point matches or beats in both energy and latency, sorted by energy (the first
    of equal points is kept)."""
    out: list[FrontPoint] = []
    for p in sorted(points, key=lambda p: (p.energy, p.latency)):
        if not out or p.latency < out[-1].latency:
            out.append(p)
    return out


def layer_front(task: tuple) -> LayerFront:
    """The front of one layer over its spatial candidates (a task of :func:`cpmap.solve.layer_groups`)."""
    problem, layer, candidates, options = task
    t0 = time.perf_counter()
    constraints = problem.constraints(layer)
    links = dict(constraints.operand_links)
    ordering = ordering_for_layer(constraints.temporal_ordering, layer)
    points: list[FrontPoint] = []
    complete = True
    messages, notes = [], []
    for sm in candidates:
        ctx = prepare(layer, problem.accelerator, sm, links)
        fixed = ordering.complete_order(ctx.temporal_sizes)
        if fixed is not None:  # a complete user ordering: its one mapping is the candidate's front
            form = fixed_order_result(ctx, fixed, "energy")
        else:
            form = formulation_or_result(ctx, EngineOptions(objective="energy", ordering=ordering.entries), latency=True)
        if not hasattr(form, "latency"):  # an EngineResult: nothing to walk (one mapping, refused or infeasible)
            r = form
            if r.cost is not None:
                points.append(FrontPoint(r.cost.energy, r.cost.latency, Mapping(sm, r.temporal, links), r.cost))
            if r.status not in (Status.OPTIMAL, Status.INFEASIBLE, Status.FIXED):
                complete = False
                messages.append(f"spatial mapping {sm.as_dict()}: {r.status}: {r.message}")
            notes.append(f"spatial {sm.as_dict()}: {r.status}")
            continue
        walk, finished = pareto_front(form, Deadline(options.time_limit))
        found = len(walk)
        points += [FrontPoint(p.cost.energy, p.cost.latency, Mapping(sm, p.temporal, links), p.cost) for p in walk]
        complete = complete and finished
        if not finished:
            messages.append(f"spatial mapping {sm.as_dict()}: the walk did not finish within the time limit")
        notes.append(f"spatial {sm.as_dict()}: {found} points" + ("" if finished else " (incomplete)"))
    front = non_dominated(points)
    if not front:
        status = Status.INFEASIBLE if complete else Status.UNKNOWN
    else:
        status = Status.OPTIMAL if complete else Status.FEASIBLE
    return LayerFront(layer.name, status, front, time.perf_counter() - t0, "; ".join(messages), notes)


def network_front(fronts: list[list[FrontPoint]], limit: int = 100_000) -> list[FrontPoint]:
    """The non-dominated sums of one point per front (exact; ``limit`` guards the partial sums' size)."""
    acc = [FrontPoint(0.0, 0.0)]
    for front in fronts:
        if not front:
            return []
        sums = [FrontPoint(a.energy + p.energy, a.latency + p.latency) for a in acc for p in front]
        acc = non_dominated(sums)
        if len(acc) > limit:
            raise ValueError(f"the network front has more than {limit} points")
    return acc


def pareto_problem(
    problem: Problem,
    options: SolveOptions,
    layer_names: list[str] | None = None,
    progress: Callable[[int, int, str], None] | None = None,
    child_processes: bool = False,
) -> tuple[list[LayerFront], list[FrontPoint]]:
    """Every selected layer's front (identical layers solved once) and the network's front."""
    selected, groups, tasks = layer_groups(problem, options, layer_names)
    solved: list[LayerFront] = run_tasks(tasks, layer_front, options.jobs, progress, child_processes)
    by_name: dict[str, LayerFront] = {}
    for members, res in zip(groups, solved):
        for j, layer in enumerate(members):
            by_name[layer.name] = res if j == 0 else LayerFront(layer.name, res.status, res.points, 0.0, res.message, [*res.notes, f"same front as {members[0].name}: solved once"])
    layers = [by_name[l.name] for l in selected]
    return layers, network_front([lf.points for lf in layers])


def pareto_to_json(problem: Problem, layers: list[LayerFront], network: list[FrontPoint]) -> dict[str, Any]:
    """Schema ``cpmap.pareto/1``: per layer its status and points (energy pJ, latency cycles, the mapping in
    the form of ``cpmap.result/1``, so a point can be handed to ``cpmap evaluate --mapping-file``)."""
    out_layers = []
    for lf in layers:
        entry: dict[str, Any] = {
            "name": lf.name,
            "status": lf.status,
            "points": [{"energy": p.energy, "latency": p.latency, "mapping": mapping_to_json(p.mapping, problem.accelerator)} for p in lf.points if p.mapping is not None],
            "solve_seconds": round(lf.solve_seconds, 6),
        }
        if lf.message:
            entry["message"] = lf.message
        if lf.notes:
            entry["notes"] = lf.notes
        out_layers.append(entry)
    return {
        "schema": SCHEMA,
        "accelerator": problem.accelerator.name,
        "workload": problem.workload_name,
        "layers": out_layers,
        "network": {"points": [{"energy": p.energy, "latency": p.latency} for p in network]},
    }


def plot_fronts(layers: list[LayerFront], network: list[FrontPoint], path: str, title: str) -> None:
    """Small multiples of the layer fronts and the network front (matplotlib; PNG or SVG by the suffix)."""
    from .plot import pareto_fronts_figure

    fronts = [(f"{lf.name} ({lf.status})", [(p.energy, p.latency) for p in lf.points]) for lf in layers if lf.points]
    fig = pareto_fronts_figure(fronts, [(p.energy, p.latency) for p in network], title)
    fig.savefig(path, dpi=130)
