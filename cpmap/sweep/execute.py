"""Running a sweep's tasks on Dask distributed, resumably.

One Dask task per (hardware variant, workload, engine, objective): it loads the materialised hardware document
through cpmap's hardware loader, runs :func:`cpmap.solve.solve_problem` (identical layers solved once) in one
process and returns the ``cpmap.result/1`` document. The client writes each result atomically as
``results/<point id>.json`` as soon as it arrives, so a killed sweep leaves only complete results; a rerun
skips every point whose result is there and never rewrites it.

Without a scheduler address the client starts a local cluster of ``jobs`` worker processes (one thread each);
with one it uses that cluster, whose workers must import cpmap and read the spec's files at the same paths.
Every task's result depends only on its inputs, so the results do not depend on the cluster.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from ..errors import CpmapError, InputError
from ..result import SCHEMA, write_text_atomic, write_json_atomic
from .spec import SweepPlan, SweepTask


@dataclass(frozen=True)
class TaskOutcome:
    """What a worker sends back: the result document, or the one-line error that stopped the task."""

    point: str
    result: dict[str, Any] | None
    error: str | None = None


@dataclass
class SweepRun:
    """What happened in one invocation: points already done, points solved now, points that failed."""

    total: int
    already_done: int
    solved: list[str] = field(default_factory=list)
    errors: dict[str, str] = field(default_factory=dict)


def run_task(task: SweepTask) -> TaskOutcome:
    """Solve one task (runs on a Dask worker). Bad input met here is returned, not raised."""
    from ..api import load_problem
    from ..io.hardware_yaml import accelerator_from_data
    from ..result import run_to_json
    from ..solve import solve_problem

    try:
        acc = accelerator_from_data(task.hardware, task.hardware_label)
        problem = load_problem(task.workload, acc, task.mapping)
        run = solve_problem(problem, task.options, list(task.layers) if task.layers else None)
        return TaskOutcome(task.point, run_to_json(run, problem.accelerator))
    except CpmapError as exc:
        return TaskOutcome(task.point, None, str(exc))


def result_path(output_dir: Path, point: str) -> Path:
    return output_dir / "results" / f"{point}.json"


def read_finished(path: Path) -> dict[str, Any] | None:
    """The result document at ``path`` if it is a complete result, else None."""
    try:
        doc = json.loads(path.read_text())
    except (OSError, ValueError):
        return None
    if isinstance(doc, dict) and doc.get("schema") == SCHEMA and isinstance(doc.get("total"), dict):
        return doc
    return None


@contextmanager
def dask_client(jobs: int, scheduler: str | None) -> Iterator[Any]:
    """A Dask client: on the cluster at ``scheduler``, else on a local cluster of ``jobs`` processes."""
    import dask
    from distributed import Client, LocalCluster

    if scheduler:
        try:
            client = Client(scheduler, timeout=dask.config.get("distributed.comm.timeouts.connect"))
        except (OSError, TimeoutError, ValueError) as exc:
            raise InputError(None, "--scheduler", f"cannot connect to {scheduler}: {exc}") from None
        try:
            yield client
        finally:
            client.close()
        return
    cluster = LocalCluster(
        n_workers=jobs,
        threads_per_worker=1,
        processes=True,
        host="127.0.0.1",
        # no dashboard; the scheduler's HTTP endpoint on a free port (not 8787, which another cluster may hold)
        scheduler_kwargs={"dashboard": False, "dashboard_address": "127.0.0.1:0"},
        silence_logs=logging.ERROR,
    )
    try:
        client = Client(cluster)
        try:
            yield client
        finally:
            client.close()
    finally:
        cluster.close()


def hardware_yaml(plan: SweepPlan, hardware_id: str) -> str:
    """The materialised hardware YAML of a variant, with a header saying where it comes from."""
    hw = next(h for h in plan.hardware if h.hardware_id == hardware_id)
    header = [f"# cpmap sweep: hardware variant {hw.hardware_id} of {hw.base.path.name}"]
    header += [f"#   {p} = {json.dumps(v)}" for p, v in hw.values]
    header += [f"#   {mem}: memory library macro {macro}" for mem, macro in hw.macros]
    header.append(f"# area {hw.area.total!r} (memories x instances + MAC array + IMC macro)")
    return "\n".join(header) + "\n" + yaml.safe_dump(hw.document, sort_keys=False)


def run_sweep(
    plan: SweepPlan,
    output_dir: Path,
    jobs: int,
    scheduler: str | None = None,
    progress: Callable[[int, int], None] | None = None,
    on_start: Callable[[int, int], None] | None = None,
) -> SweepRun:
    """Solve every task of ``plan`` not yet in ``output_dir/results``; write each result as it arrives.

    ``on_start(already_done, total)`` is called before any work; ``progress(done, todo)`` once the tasks are
    submitted (``done`` = 0) and after each task.
    """
    finished = {t.point for t in plan.tasks if read_finished(result_path(output_dir, t.point)) is not None}
    todo = [t for t in plan.tasks if t.point not in finished]
    run = SweepRun(total=len(plan.tasks), already_done=len(finished))
    if on_start:
        on_start(run.already_done, run.total)

    def write_hardware() -> None:
        for hw in plan.hardware:
            p = output_dir / "hardware" / f"{hw.hardware_id}.yaml"
            text = hardware_yaml(plan, hw.hardware_id)
            if not p.is_file() or p.read_text() != text:
                write_text_atomic(p, text)

    if not todo:
        write_hardware()
        return run
    with dask_client(jobs, scheduler) as client:
        from distributed import as_completed

        write_hardware()
        futures = [client.submit(run_task, t, key=f"cpmap-sweep-{t.point}", pure=False) for t in todo]
        if progress:
            progress(0, len(todo))
        for n, fut in enumerate(as_completed(futures), start=1):
            outcome: TaskOutcome = fut.result()
            if outcome.result is not None:
                write_json_atomic(result_path(output_dir, outcome.point), outcome.result)
                run.solved.append(outcome.point)
            else:
                run.errors[outcome.point] = outcome.error or "failed"
            fut.release()
            if progress:
                progress(n, len(todo))
    return run


@dataclass(frozen=True)
class SweepReport:
    """The tables of a finished invocation and the files written."""

    rows: list[dict[str, Any]]
    pareto: list[dict[str, Any]]
    comparison: list[dict[str, Any]]
    written: list[Path]


def write_outputs(plan: SweepPlan, output_dir: Path, run: SweepRun) -> SweepReport:
    """points.csv, pareto.csv, comparison.csv (several engines) and the plots, from the result files on disk
    (the resumed points' and this run's alike), rows in the spec's order."""
    from .outputs import comparison_rows, layer_ratios, pareto_rows, point_row, write_tables
    from .plots import pareto_plot, ratio_plot, sensitivity_plot, time_plot

    docs: dict[str, dict[str, Any]] = {}
    rows = []
    for t in plan.tasks:
        doc = read_finished(result_path(output_dir, t.point))
        if doc is not None:
            docs[t.point] = doc
        rows.append(point_row(t, plan.hardware_of(t), doc, run.errors.get(t.point)))
    ratios = layer_ratios(plan, docs)
    comparison = comparison_rows(plan, docs, ratios)
    written = write_tables(output_dir, plan, rows, comparison)
    front = pareto_rows(rows)
    for p in (
        pareto_plot(rows, front, output_dir / "pareto.png"),
        sensitivity_plot(rows, list(plan.spec.parameters), output_dir / "sensitivity.png"),
        ratio_plot(ratios, output_dir / "ratio.png"),
        time_plot(comparison, output_dir / "time.png"),
    ):
        if p is not None:
            written.append(p)
    return SweepReport(rows, front, comparison, written)
