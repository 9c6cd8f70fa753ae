"""``cpmap sweep SPEC.yaml``: architecture x mapping design-space exploration on Dask."""

from __future__ import annotations

import os
import sys
from pathlib import Path
from typing import Optional

import typer

from .errors import CpmapError, InputError


def sweep(
    spec: Path = typer.Argument(..., help="Sweep spec YAML: accelerator(s), mapping, workloads, engines, objectives, options, grid, zip, memory_library, keep_costs."),
    output_dir: Path = typer.Option(..., "--output-dir", "-o", help="Folder for points.csv, pareto.csv, results/<point>.json, hardware/<id>.yaml and the plots."),
    jobs: Optional[int] = typer.Option(None, "--jobs", "-j", help="Worker processes of the local Dask cluster (default: the cores). Results do not depend on it."),
    scheduler: Optional[str] = typer.Option(None, "--scheduler", help="Address of a running Dask scheduler (tcp://host:8786) instead of a local cluster."),
    quiet: bool = typer.Option(False, "--quiet", "-q", help="No progress bar."),
) -> None:
    """Map the workloads on every hardware variant of the spec (grid x zip of dotted paths into the hardware YAML),
    one Dask task per (variant, workload, engine, objective); write points.csv, pareto.csv, the result JSON of every
    point and the plots.

    Resumable: a point whose result is in OUTPUT_DIR/results is not solved again.

    Exit codes: 1 when some point has a layer that could not be mapped or failed; 2 on bad input (nothing written).
    """
    from .sweep.execute import run_sweep, write_outputs
    from .sweep.spec import load_spec, plan_sweep

    n_jobs = jobs if jobs is not None else (os.cpu_count() or 1)
    bar: dict = {}

    def on_start(done: int, total: int) -> None:
        if not quiet:
            typer.echo(f"{done} of {total} points already done", err=True)

    def progress(n: int, todo: int) -> None:
        if quiet:
            return
        if "bar" not in bar:
            bar["bar"] = typer.progressbar(length=todo, label="points", file=sys.stderr)
            bar["bar"].__enter__()
        if n:
            bar["bar"].update(1)
        if n == todo:
            bar["bar"].__exit__(None, None, None)

    try:
        if n_jobs < 1:
            raise InputError(None, "--jobs", "must be at least 1")
        plan = plan_sweep(load_spec(spec))
        run = run_sweep(plan, output_dir, n_jobs, scheduler, progress, on_start)
        report = write_outputs(plan, output_dir, run)
    except CpmapError as exc:
        typer.echo(f"cpmap: error: {exc}", err=True)
        raise typer.Exit(code=2)
    except KeyboardInterrupt:
        typer.echo(f"\ninterrupted: the finished points are in {output_dir / 'results'}; rerun the same command to resume", err=True)
        raise typer.Exit(code=130)
    for point, message in run.errors.items():
        typer.echo(f"point {point}: error: {message}", err=True)
    typer.echo(
        f"{run.total} points ({len(plan.hardware)} hardware variants"
        + (f", {plan.duplicates} grid points merged as identical hardware" if plan.duplicates else "")
        + f"): {run.already_done} already done, {len(run.solved)} solved now, {len(run.errors)} failed"
    )
    typer.echo(f"Pareto front: {len(report.pareto)} rows (area, energy, latency per workload, engine and objective)")
    for p in report.written:
        typer.echo(f"wrote {p}")
    failed = run.errors or any(r["status"] not in ("optimal", "feasible", "heuristic") for r in report.rows)
    raise typer.Exit(code=1 if failed else 0)
