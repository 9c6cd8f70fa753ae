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
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Callable

from .api import Problem, _select, for_layer, load_problem, locality_accelerators, with_accelerator_path
from .cost.model import prepare
from .engines.base import OBJECTIVES, EngineOptions, EngineResult, objective_value
from .engines.loma import better, loma_temporal
from .errors import CpmapError, InputError
from .mapping import Mapping, SpatialMapping
from .result import LayerResult, RunResult
from .spatial_generation import generate_spatial_mappings
from .workers import run_in_processes
from .workload import Layer

ENGINES = ("cpsat", "milp", "loma", "exhaustive")
EXACT_ENGINES = ("cpsat", "milp", "exhaustive")


def get_engine(name: str):
    """The engine function of that name (imported lazily: solver backends load heavy libraries)."""
    if name == "loma":
        from .engines.loma import loma

        return loma
    if name == "exhaustive":
        from .engines.exhaustive import exhaustive

        return exhaustive
    if name == "cpsat":
        from .engines.cpsat import cpsat

        return cpsat
    if name == "milp":
        try:
            from .engines.milp import milp
        except ModuleNotFoundError:
            raise InputError(None, "--engine", "the milp engine is not available yet (work in progress); use cpsat, exhaustive or loma") from None
        return milp
    raise InputError(None, "--engine", f"unknown engine {name!r} (choose from {', '.join(ENGINES)})")


@dataclass(frozen=True)
class SolveOptions:
    """What ``cpmap solve`` lets a user choose."""

    engine: str = "cpsat"
    objective: str = "energy"
    time_limit: float | None = None
    lpf_limit: int = 6
    nb_spatial_mappings: int = 3
    mixed_spatial: bool = False
    jobs: int = 1
    threads: int = 1
    max_space: int = 2_000_000
    #: exact engines: start from LOMA's best mapping (costs a LOMA run per candidate; measured not to
    #: shorten proofs on ResNet-18, useful with a --time-limit)
    loma_hint: bool = False
    #: inter-layer data locality (spec 8.5); None = as ZigZag: on for IMC accelerators or mixed spatial mappings
    data_locality: bool | None = None

    def engine_options(self) -> EngineOptions:
        return EngineOptions(
            objective=self.objective,
            lpf_limit=self.lpf_limit,
            time_limit=self.time_limit,
            threads=self.threads,
            max_space=self.max_space,
        )


def check_options(options: SolveOptions) -> None:
    """Reject bad settings before any work starts (exit 2 in the CLI)."""
    if options.engine not in ENGINES:
        raise InputError(None, "--engine", f"unknown engine {options.engine!r} (choose from {', '.join(ENGINES)})")
    get_engine(options.engine)  # an engine that cannot load stops the run here, not in a worker
    if options.objective not in OBJECTIVES:
        raise InputError(None, "--objective", f"unknown objective {options.objective!r} (choose from {', '.join(OBJECTIVES)})")
    if options.jobs < 1:
        raise InputError(None, "--jobs", "must be at least 1")
    if options.time_limit is not None and not (math.isfinite(options.time_limit) and options.time_limit > 0):
        raise InputError(None, "--time-limit", f"must be a positive number of seconds, got {options.time_limit}")
    if options.lpf_limit < 1:
        raise InputError(None, "--lpf-limit", "must be at least 1")
    if options.nb_spatial_mappings < 1:
        raise InputError(None, "--spatial-mappings", "must be at least 1")
    if options.max_space < 1:
        raise InputError(None, "--max-space", "must be at least 1")


def spatial_candidates(problem: Problem, layer: Layer, options: SolveOptions) -> list[SpatialMapping]:
    """The spatial mappings tried for a layer: the user's if complete, else ZigZag's generator (spec 8.4)."""
    c = problem.constraints(layer)
    return generate_spatial_mappings(
        layer,
        problem.accelerator,
        c,
        nb_mappings=options.nb_spatial_mappings,
        mixed=options.mixed_spatial or problem.accelerator.array.imc is not None,  # ZigZag's IMC flow always mixes
        path=problem.mapping_file.path,
        workload_dims=problem.workload_dims,
    )


def solve_layer(problem: Problem, layer: Layer, candidates: list[SpatialMapping], options: SolveOptions) -> LayerResult:
    """Run the engine on every spatial candidate of one layer and keep the best by the objective."""
    t0 = time.perf_counter()
    engine = get_engine(options.engine)
    exact = options.engine in EXACT_ENGINES
    links = dict(problem.constraints(layer).operand_links)
    best: EngineResult | None = None
    best_sm: SpatialMapping | None = None
    bounds: list[float] = []
    proven = True  # every candidate solved to optimality, proven infeasible, or pruned by a proven bound
    messages: list[str] = []
    notes: list[str] = []
    for i, sm in enumerate(candidates):
        ctx = prepare(layer, problem.accelerator, sm, links)
        eopts = options.engine_options()
        if exact and best is not None:
            eopts = replace(eopts, cutoff=best.objective_value)
        if options.loma_hint and options.engine == "cpsat":
            eopts = replace(eopts, hint=loma_temporal(ctx, options.objective, options.lpf_limit).temporal)
        try:
            r = engine(ctx, eopts)
        except InputError as exc:  # bad input only a layer's costing meets (a port it needs is missing)
            raise with_accelerator_path(exc, problem) from None
        except CpmapError as exc:  # e.g. the exhaustive engine refusing a space too large
            return LayerResult(layer.name, dict(layer.loop_sizes), "skipped", message=str(exc), solve_seconds=time.perf_counter() - t0)
        proven = proven and r.status in ("optimal", "infeasible", "pruned")
        notes.append(f"spatial {sm.as_dict()}: {r.status}" + (f" {r.objective_value:.10g}" if r.objective_value is not None else ""))
        if r.status in ("infeasible", "unknown"):
            messages.append(f"spatial mapping {sm.as_dict()}: {r.message}")
            continue
        if r.bound is not None:
            bounds.append(r.bound)
        if r.cost is not None and (best is None or better(options.objective, r.cost, best.cost)):
            best, best_sm = r, sm
    seconds = time.perf_counter() - t0
    if best is None:
        msg = "; ".join(messages) if messages else "no spatial mapping is possible on this array"
        # infeasible only when proven for every candidate; a solver stopped by the time limit is "unknown"
        status = "infeasible" if proven else "unknown"
        return LayerResult(layer.name, dict(layer.loop_sizes), status, message=msg, solve_seconds=seconds, notes=notes)
    value = objective_value(options.objective, best.cost)
    if exact:
        bound = min([value, *bounds])
        status = "optimal" if proven and bound >= value else "feasible"
        gap = 0.0 if value == 0 else (value - bound) / value
    else:
        bound, gap, status = None, None, "heuristic"
    mapping = Mapping(best_sm, best.temporal, links)
    return LayerResult(
        name=layer.name,
        loop_sizes=dict(layer.loop_sizes),
        status=status,
        mapping=mapping,
        cost=best.cost,
        objective_value=value,
        bound=bound,
        gap=gap,
        solve_seconds=seconds,
        notes=notes if len(candidates) > 1 else [],
    )


def _solve_task(args):
    problem, layer, candidates, options = args
    return solve_layer(problem, layer, candidates, options)


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
    # spatial candidates first, in this process: bad input must stop the run before anything is solved
    tasks = []
    for members in groups.values():
        rep = members[0]
        lp = for_layer(problem, accs, rep)
        tasks.append((lp, rep, spatial_candidates(lp, rep, options), options))
    finished: list[int] = []

    def on_done(i: int) -> None:
        finished.append(i)
        if progress:
            progress(len(finished), len(tasks), tasks[i][1].name)

    solved: list[LayerResult]
    if child_processes or (options.jobs > 1 and len(tasks) > 1):
        solved = run_in_processes(_solve_task, tasks, options.jobs, on_done)
    else:
        solved = []
        for i, t in enumerate(tasks):
            solved.append(_solve_task(t))
            on_done(i)
    by_name: dict[str, LayerResult] = {}
    for members, res in zip(groups.values(), solved):
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
    nb_spatial_mappings: int = 3,
    mixed_spatial: bool = False,
    data_locality: bool | None = None,
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
    )
    return solve_problem(problem, options, layers, progress)


def exit_code(run: RunResult) -> int:
    """1 when some layer could not be mapped (interfaces.md), else 0."""
    return 1 if any(r.status in ("infeasible", "skipped", "unknown") for r in run.layers) else 0


