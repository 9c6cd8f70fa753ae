"""The mapper driver: for every layer, spatial candidates -> engine per candidate -> best mapping + certificate.

Layers of identical shape (and identical mapping constraints) are solved once. Layers run in parallel
processes with ``jobs > 1``; every layer's result depends only on its own inputs, so the outcome is the
same for any ``jobs``.

Certificates over several spatial candidates: the layer's bound is the minimum over the candidates of
each candidate's proven bound (an optimal candidate's bound is its value; a pruned candidate's bound is
at least the cutoff it was pruned against). So "optimal" means optimal over the spatial mappings the
generator produced (ZigZag's candidates, spec 8.4) or the one the user fixed, with every temporal mapping
(loop order and per-operand memory levels) of each.
"""

from __future__ import annotations

import math
import time
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Callable

from .api import Problem, _select, for_layer, load_problem, locality_accelerators, with_accelerator_path
from .cost.model import LayerContext, evaluate_temporal, prepare
from .engines import engine_info, get_engine
from .engines.allocator import AllocationError, allocate
from .bounds import floor
from .engines.base import OBJECTIVES, EngineOptions, EngineResult, objective_value
from .engines.loma import better, loma_temporal
from .errors import EngineRefusal, InputError
from .mapping import Mapping, SpatialMapping
from .ordering import ordering_for_layer
from .result import LayerResult, RunResult
from .spatial_generation import all_spatial_mappings, generate_spatial_mappings
from .status import UNMAPPED, Status, settles_candidate
from .workers import run_in_processes
from .workload import Layer

@dataclass(frozen=True)
class SolveOptions:
    """What ``cpmap solve`` lets a user choose."""

    engine: str = "cpsat"
    objective: str = "energy"
    time_limit: float | None = None
    lpf_limit: int = 6
    #: spatial candidates per layer when the mapping file leaves array dims free: ZigZag's best N, None for the
    #: whole spatial space (the exact engines prove optimality over all of it), or "auto": the whole space for
    #: the exact engines, ZigZag's 3 for the heuristics (their parity with ZigZag stays exact)
    nb_spatial_mappings: int | None | str = "auto"

    @property
    def spatial_count(self) -> int | None:
        """The number of spatial candidates asked for (None: the whole space), "auto" resolved by the engine."""
        if self.nb_spatial_mappings == "auto":
            return None if engine_info(self.engine).exact else 3
        return self.nb_spatial_mappings  # type: ignore[return-value]
    mixed_spatial: bool = False
    jobs: int = 1
    max_space: int = 2_000_000
    #: cpsat: start from LOMA's best mapping and bound the search by its value (a LOMA run per candidate;
    #: measured 5-7x faster latency proofs on ResNet-18). None: on for latency and EDP, off for energy
    loma_hint: bool | None = None
    #: inter-layer data locality (spec 8.5); None = as ZigZag: on for IMC accelerators or mixed spatial mappings
    data_locality: bool | None = None
    #: SALSA: iterations per spatial mapping, start temperature, criterion (energy | latency), seed
    salsa_iterations: int = 1000
    salsa_start_temperature: float = 0.05
    salsa_criterion: str = "energy"
    seed: int = 0

    def engine_options(self) -> EngineOptions:
        return EngineOptions(
            objective=self.objective,
            lpf_limit=self.lpf_limit,
            time_limit=self.time_limit,
            max_space=self.max_space,
            salsa_iterations=self.salsa_iterations,
            salsa_start_temperature=self.salsa_start_temperature,
            salsa_criterion=self.salsa_criterion,
            seed=self.seed,
        )


def check_options(options: SolveOptions) -> None:
    """Reject bad settings before any work starts (exit 2 in the CLI)."""
    info = engine_info(options.engine)
    get_engine(options.engine)  # an engine that cannot load stops the run here, not in a worker
    if options.objective not in OBJECTIVES:
        raise InputError(None, "--objective", f"unknown objective {options.objective!r} (choose from {', '.join(OBJECTIVES)})")
    if options.objective not in info.objectives:
        raise InputError(None, "--objective", f"the {info.name} engine does not encode {options.objective} ({', '.join(info.objectives)} only); use --engine cpsat")
    if options.jobs < 1:
        raise InputError(None, "--jobs", "must be at least 1")
    if options.time_limit is not None and not (math.isfinite(options.time_limit) and options.time_limit > 0):
        raise InputError(None, "--time-limit", f"must be a positive number of seconds, got {options.time_limit}")
    if options.lpf_limit < 1:
        raise InputError(None, "--lpf-limit", "must be at least 1")
    if options.nb_spatial_mappings not in (None, "auto") and (not isinstance(options.nb_spatial_mappings, int) or options.nb_spatial_mappings < 1):
        raise InputError(None, "--spatial-mappings", "must be at least 1 (or all)")
    if options.max_space < 1:
        raise InputError(None, "--max-space", "must be at least 1")
    if options.salsa_iterations < 0:
        raise InputError(None, "--salsa-iterations", "must be at least 0")
    if not options.salsa_start_temperature > 0:
        raise InputError(None, "--salsa-start-temperature", "must be positive")
    if options.salsa_criterion not in ("energy", "latency"):
        raise InputError(None, "--salsa-criterion", f"unknown criterion {options.salsa_criterion!r} (choose from energy, latency)")
    if options.seed < 0:
        raise InputError(None, "--seed", "must be at least 0")


def spatial_candidates(problem: Problem, layer: Layer, options: SolveOptions) -> list[SpatialMapping]:
    """The spatial mappings tried for a layer: the user's if complete, else ZigZag's generator (spec 8.4), its
    best ``nb_spatial_mappings`` or, with ``None``, the whole space (:func:`all_spatial_mappings`)."""
    c = problem.constraints(layer)
    mixed = options.mixed_spatial or problem.accelerator.array.imc is not None  # ZigZag's IMC flow always mixes
    if options.spatial_count is None:
        return all_spatial_mappings(layer, problem.accelerator, c, mixed, problem.mapping_file.path, workload_dims=problem.workload_dims)
    return generate_spatial_mappings(
        layer,
        problem.accelerator,
        c,
        nb_mappings=options.spatial_count,
        mixed=mixed,
        path=problem.mapping_file.path,
        workload_dims=problem.workload_dims,
    )


def fixed_order_result(ctx: LayerContext, order: tuple[tuple[str, int], ...], objective: str) -> EngineResult:
    """A complete user ordering: the loop nest as given, split into memory levels by LOMA's allocator and costed
    (ZigZag does the same, searching nothing). Status ``fixed``; its value is its own bound (a one-mapping space)."""
    try:
        tm = allocate(ctx, order)
    except AllocationError as exc:
        return EngineResult(Status.INFEASIBLE, message=f"the complete temporal_ordering does not fit the memories: {exc}")
    cost = evaluate_temporal(ctx, tm)
    value = objective_value(objective, cost)
    return EngineResult(Status.FIXED, tm, cost, value, value)


@dataclass
class _Search:
    """The state of one layer's search over its spatial candidates."""

    best: EngineResult | None = None
    best_sm: SpatialMapping | None = None
    bounds: list = field(default_factory=list)
    proven: bool = True  # every candidate settled so far
    fixed_only: bool = True  # every candidate's loop nest was fixed by a complete ordering
    messages: list = field(default_factory=list)
    notes: list = field(default_factory=list)
    statuses: list = field(default_factory=list)
    solved: int = 0
    pruned_by_bound: int = 0
    equivalent: int = 0


def solve_layer(problem: Problem, layer: Layer, candidates: list[SpatialMapping], options: SolveOptions) -> LayerResult:
    """Run the engine on every spatial candidate of one layer and keep the best by the objective.

    The layer is ``optimal`` only when every candidate is settled (solved to optimality, proven infeasible,
    pruned by the solver under a cutoff, or pruned by a valid floor, :data:`cpmap.status.SETTLED`). A
    candidate the engine refused (``skipped``) or left open (``unknown``, ``feasible``) contributes a valid
    lower bound instead: the engine's own when it has one, else the candidate's floor (:mod:`cpmap.bounds`).

    Over the whole spatial space (``nb_spatial_mappings=None``) the exact engines run a branch and bound: after
    ZigZag's own candidates (good incumbents), the others in increasing order of their floor; a candidate
    whose floor is above the best value found cannot win and is pruned unsolved (the floor is its proof), and
    candidates whose contexts are equal (the same problem up to the naming of array dims) are solved once.
    The exhaustive engine, the ground truth, solves every candidate.

    A user ``temporal_ordering`` that is complete for a candidate fixes its loop nest (costed, not searched:
    status ``fixed``); a partial one is passed to the engine (``EngineOptions.ordering``), and the layer is
    ``skipped`` by engines that do not honour it.
    """
    t0 = time.perf_counter()
    info = engine_info(options.engine)
    exact = info.exact
    constraints = problem.constraints(layer)
    links = dict(constraints.operand_links)
    ordering = ordering_for_layer(constraints.temporal_ordering, layer)
    if ordering and not info.orderings:
        return LayerResult(
            layer.name,
            dict(layer.loop_sizes),
            Status.SKIPPED,
            message=(
                f"the mapping file's temporal_ordering {ordering} is partial for this layer and the {options.engine} "
                f"engine does not encode orderings; use --engine loma or exhaustive"
            ),
        )
    whole_space = options.spatial_count is None
    contexts = [prepare(layer, problem.accelerator, sm, links) for sm in candidates]
    order = list(range(len(candidates)))
    floors: list[float | None] = [None] * len(candidates)
    branch_and_bound = whole_space and exact and options.engine != "exhaustive"
    if branch_and_bound:
        floors = [floor(ctx, options.objective) for ctx in contexts]
        head = order[:3]  # ZigZag's own candidates first: good incumbents early
        order = head + sorted(order[3:], key=lambda i: floors[i])
    state = _Search()
    seen: dict[str, Status] = {}
    for i in order:
        sm, ctx = candidates[i], contexts[i]
        if branch_and_bound and state.best is not None and _beyond(options.objective, floors[i], state.best.objective_value):
            state.pruned_by_bound += 1
            state.bounds.append(floors[i])
            continue
        key = _context_key(ctx) if branch_and_bound else None
        if key is not None and key in seen:
            state.equivalent += 1  # settled exactly as the equal candidate solved before it
            state.proven = state.proven and settles_candidate(seen[key])
            continue
        r = _solve_candidate(problem, ctx, options, ordering, state)
        if key is not None:
            seen[key] = r.status
        _record(state, sm, r, options, exact, ctx)
    seconds = time.perf_counter() - t0
    space = {
        "kind": "all" if whole_space else "candidates",
        "size": len(candidates),
        "solved": state.solved,
        "pruned_by_bound": state.pruned_by_bound,
        "equivalent": state.equivalent,
    }
    best = state.best
    if best is None:
        msg = "; ".join(state.messages) if state.messages else "no spatial mapping is possible on this array"
        # infeasible only when proven for every candidate; refused candidates make the layer skipped, a
        # solver stopped by the time limit unknown
        if state.proven:
            status = Status.INFEASIBLE
        elif Status.SKIPPED in state.statuses:
            status = Status.SKIPPED
        else:
            status = Status.UNKNOWN
        return LayerResult(layer.name, dict(layer.loop_sizes), status, message=msg, solve_seconds=seconds, notes=state.notes, spatial_space=space)
    value = objective_value(options.objective, best.cost)
    if state.fixed_only:
        bound, gap, status = None, None, Status.FIXED
    elif exact:
        bound = min([value, *state.bounds])
        status = Status.OPTIMAL if state.proven and bound >= value else Status.FEASIBLE
        gap = 0.0 if value == 0 else (value - bound) / value
    else:
        bound, gap, status = None, None, Status.HEURISTIC
    return LayerResult(
        name=layer.name,
        loop_sizes=dict(layer.loop_sizes),
        status=status,
        mapping=Mapping(state.best_sm, best.temporal, links),
        cost=best.cost,
        objective_value=value,
        bound=bound,
        gap=gap,
        solve_seconds=seconds,
        message="; ".join(state.messages) if status != Status.OPTIMAL else "",
        notes=state.notes if len(state.notes) > 1 else [],
        spatial_space=space,
    )


def _beyond(objective: str, lower: float, best: float) -> bool:
    """A candidate with this floor cannot beat (or, for energy and latency, tie: the tie rule then looks at the
    other objective) the best value; a relative margin covers the floor's float sums."""
    if objective == "edp":
        return lower >= best * (1 + 1e-9)
    return lower > best * (1 + 1e-9)


def _context_key(ctx: LayerContext) -> str:
    """Everything the cost of a temporal mapping depends on, not the names of the array dims: two candidates
    with the same key have the same temporal mappings at the same costs."""
    return repr((ctx.operands, sorted(ctx.temporal_sizes.items()), ctx.mac_energy, ctx.ideal_cycle, ctx.systolic_drain, ctx.cycles_per_op, ctx.port_plan, ctx.imc))


def _solve_candidate(problem: Problem, ctx: LayerContext, options: SolveOptions, ordering, state: _Search) -> EngineResult:
    """One spatial candidate: its fixed loop nest (a complete ordering), or the engine's result with the
    cutoff of the best so far, the LOMA hint/witness and the LOMA fallback of the registry's policy."""
    info = engine_info(options.engine)
    fixed = ordering.complete_order(ctx.temporal_sizes)
    if fixed is not None:
        try:
            return fixed_order_result(ctx, fixed, options.objective)
        except InputError as exc:  # bad input only a layer's costing meets (a port it needs is missing)
            raise with_accelerator_path(exc, problem) from None
    state.fixed_only = False
    eopts = replace(options.engine_options(), ordering=ordering.entries)
    if info.exact and state.best is not None:
        eopts = replace(eopts, cutoff=state.best.objective_value)
    if options.engine == "cpsat" and (options.loma_hint if options.loma_hint is not None else options.objective != "energy"):
        eopts = replace(eopts, hint=loma_temporal(ctx, options.objective, options.lpf_limit, ordering=ordering).temporal)
    try:
        r = get_engine(options.engine)(ctx, eopts)
    except InputError as exc:  # bad input only a layer's costing meets (a port it needs is missing)
        raise with_accelerator_path(exc, problem) from None
    except EngineRefusal as exc:  # e.g. the exhaustive engine refusing a space too large
        r = EngineResult(Status.SKIPPED, message=str(exc))
    if r.cost is None and r.status in (Status.SKIPPED, Status.UNKNOWN) and info.loma_fallback:
        r = _loma_fallback(ctx, options, r, ordering)
    return r


def _record(state: _Search, sm: SpatialMapping, r: EngineResult, options: SolveOptions, exact: bool, ctx: LayerContext) -> None:
    """Fold one candidate's result into the layer's search."""
    state.solved += 1
    state.statuses.append(r.status)
    state.proven = state.proven and settles_candidate(r.status)
    state.notes.append(f"spatial {sm.as_dict()}: {r.status}" + (f" {r.objective_value:.10g}" if r.objective_value is not None else ""))
    if r.message and r.status != Status.OPTIMAL:
        state.messages.append(f"spatial mapping {sm.as_dict()}: {r.message}")
    if r.status == Status.INFEASIBLE:
        return
    if r.bound is not None:
        state.bounds.append(r.bound)
    elif exact and r.status != Status.PRUNED:
        state.bounds.append(floor(ctx, options.objective))
    if r.cost is not None and (state.best is None or better(options.objective, r.cost, state.best.cost)):
        state.best, state.best_sm = r, sm


def _loma_fallback(ctx, options: SolveOptions, r: EngineResult, ordering) -> EngineResult:
    """The exact engine left this candidate without a mapping (refused, or stopped before any solution):
    LOMA's mapping stands in (under the user's ordering), with the engine's proven bound or the candidate's
    floor; never a proof."""
    found = loma_temporal(ctx, options.objective, options.lpf_limit, ordering=ordering)
    if found.cost is None:
        return r
    value = objective_value(options.objective, found.cost)
    bound = r.bound if r.bound is not None else floor(ctx, options.objective)
    return EngineResult(
        Status.FEASIBLE,
        found.temporal,
        found.cost,
        value,
        min(bound, value),
        message=f"{r.status}: {r.message}; LOMA's mapping used",
        stats=dict(r.stats, mapping_from="LOMA"),
    )


def _solve_task(args):
    problem, layer, candidates, options = args
    return solve_layer(problem, layer, candidates, options)


def layer_groups(problem: Problem, options: SolveOptions, layer_names: list[str] | None) -> tuple[list[Layer], list[list[Layer]], list[tuple]]:
    """The selected layers, grouped by identical shape (each group is solved once), and one task per group:
    ``(problem as the layer sees it, representative layer, spatial candidates, options)``.

    Spatial candidates are made here, in this process: bad input must stop the run before anything is solved.
    """
    check_options(options)
    selected = _select(problem, layer_names)
    accs = locality_accelerators(problem, options.data_locality, options.mixed_spatial)
    groups: dict[tuple, list[Layer]] = {}
    for layer in selected:
        c = problem.constraints(layer)
        key = (layer.shape_key(), c.name, tuple(sorted(c.operand_links.items())))
        # with data locality, equal layers may sit on different (pruned) hierarchies
        key += tuple((m.name, m.operands) for m in for_layer(problem, accs, layer).accelerator.memories)
        groups.setdefault(key, []).append(layer)
    tasks = []
    for members in groups.values():
        rep = members[0]
        lp = for_layer(problem, accs, rep)
        tasks.append((lp, rep, spatial_candidates(lp, rep, options), options))
    return selected, list(groups.values()), tasks


def run_tasks(tasks: list[tuple], fn: Callable, jobs: int, progress: Callable[[int, int, str], None] | None = None, child_processes: bool = False) -> list:
    """``fn(task)`` for every task, results in task order. With ``jobs > 1``, or ``child_processes`` (what the
    CLI asks for), the tasks run in worker processes and this process only waits, so a Ctrl-C stops the run at
    once (:mod:`cpmap.workers`); the results are the same either way."""
    finished: list[int] = []

    def on_done(i: int) -> None:
        finished.append(i)
        if progress:
            progress(len(finished), len(tasks), tasks[i][1].name)

    if child_processes or (jobs > 1 and len(tasks) > 1):
        return run_in_processes(fn, tasks, jobs, on_done)
    results = []
    for i, t in enumerate(tasks):
        results.append(fn(t))
        on_done(i)
    return results


def solve_problem(
    problem: Problem,
    options: SolveOptions,
    layer_names: list[str] | None = None,
    progress: Callable[[int, int, str], None] | None = None,
    child_processes: bool = False,
) -> RunResult:
    """Map every selected layer; identical layers are solved once and the result copied under each name.

    Bad mapping constraints of any layer raise :class:`InputError` before any layer is solved. With
    ``jobs > 1``, or ``child_processes`` (what the CLI asks for), the layers are solved in worker processes
    and this process only waits, so a Ctrl-C stops the run at once (:mod:`cpmap.workers`); the results are
    the same either way.
    """
    selected, groups, tasks = layer_groups(problem, options, layer_names)
    solved: list[LayerResult] = run_tasks(tasks, _solve_task, options.jobs, progress, child_processes)
    by_name: dict[str, LayerResult] = {}
    for members, res in zip(groups, solved):
        for j, layer in enumerate(members):
            if j == 0:
                by_name[layer.name] = res
            else:
                copy = replace(res, name=layer.name, solve_seconds=0.0, notes=[*res.notes, f"same shape as {members[0].name}: solved once"])
                by_name[layer.name] = copy
    return RunResult(
        problem.accelerator.name,
        problem.workload_name,
        options.objective,
        options.engine,
        [by_name[l.name] for l in selected],
        problem.skipped_nodes,
    )


def solve(
    workload: str | Path,
    accelerator: str | Path,
    mapping: str | Path | None = None,
    *,
    engine: str = "cpsat",
    objective: str = "energy",
    layers: list[str] | None = None,
    jobs: int = 1,
    time_limit: float | None = None,
    lpf_limit: int = 6,
    nb_spatial_mappings: int | None | str = "auto",
    mixed_spatial: bool = False,
    data_locality: bool | None = None,
    seed: int = 0,
    salsa_iterations: int = 1000,
    progress: Callable[[int, int, str], None] | None = None,
) -> RunResult:
    """Load the inputs and map every layer (or ``layers``) with ``engine``; see :func:`solve_problem`."""
    problem = load_problem(workload, accelerator, mapping)
    options = SolveOptions(
        engine=engine,
        objective=objective,
        time_limit=time_limit,
        lpf_limit=lpf_limit,
        nb_spatial_mappings=nb_spatial_mappings,
        mixed_spatial=mixed_spatial,
        jobs=jobs,
        data_locality=data_locality,
        seed=seed,
        salsa_iterations=salsa_iterations,
    )
    return solve_problem(problem, options, layers, progress)


def exit_code(run: RunResult) -> int:
    """1 when some layer could not be mapped (interfaces.md), else 0."""
    return 1 if any(r.status in UNMAPPED for r in run.layers) else 0


