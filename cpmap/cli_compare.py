"""``cpmap compare``: the engines side by side on the same layers (CSV, result JSONs, PNG/SVG chart)."""

from __future__ import annotations

from pathlib import Path
from typing import Optional

import typer

from .errors import CpmapError, InputError


def compare(
    workload: Path = typer.Argument(..., help="ONNX model or ZigZag workload YAML."),
    accelerator: Path = typer.Option(..., "--accelerator", "-a", help="ZigZag hardware YAML."),
    mapping: Optional[Path] = typer.Option(None, "--mapping", "-m", help="ZigZag mapping YAML (links, spatial mapping or hints)."),
    engines: str = typer.Option("cpsat,loma", "--engines", help="Comma-separated engines, run in this order (cpsat, milp, loma, exhaustive)."),
    objective: str = typer.Option("energy", "--objective", help="energy | latency | edp."),
    layers: Optional[str] = typer.Option(None, "--layers", help="Comma-separated layer names (default: all)."),
    jobs: int = typer.Option(1, "--jobs", "-j", help="Layers solved in parallel processes."),
    time_limit: Optional[float] = typer.Option(None, "--time-limit", help="Seconds per spatial mapping for the exact engines."),
    lpf_limit: int = typer.Option(6, "--lpf-limit", help="LOMA: maximum number of loop prime factors."),
    spatial_mappings: int = typer.Option(3, "--spatial-mappings", help="Spatial mappings generated per layer (same for every engine)."),
    output_dir: Path = typer.Option(Path("compare_out"), "--output-dir", "-o", help="Folder for compare.csv, <engine>.json, compare.png and compare.svg."),
) -> None:
    """Run several engines on the same layers and report how far each is from the proven optimum.

    Per layer the reference is the best proven optimum (an exact engine's 'optimal' result), else the best
    value found. Writes compare.csv (one row per layer and engine, with the ratio to the reference), the
    result JSON of every engine and compare.png / compare.svg (the ratios per layer, drawn with matplotlib).
    """
    from .api import load_problem
    from .compare import compare_problem, summary, write_outputs
    from .solve import SolveOptions, check_options

    try:
        names = [e.strip() for e in engines.split(",") if e.strip()]
        if not names:
            raise InputError(None, "--engines", "no engine given")
        problem = load_problem(workload, accelerator, mapping)
        options = SolveOptions(
            objective=objective, time_limit=time_limit, lpf_limit=lpf_limit, nb_spatial_mappings=spatial_mappings, jobs=jobs
        )
        for e in names:
            check_options(SolveOptions(**{**options.__dict__, "engine": e}))
        runs = {}
        for e in names:
            typer.echo(f"running {e} ...", err=True)
            runs.update(compare_problem(problem, [e], options, layers.split(",") if layers else None))
        written = write_outputs(runs, problem, output_dir)
    except CpmapError as exc:
        typer.echo(f"cpmap: error: {exc}", err=True)
        raise typer.Exit(code=2)
    typer.echo(summary(runs))
    for p in written:
        typer.echo(f"wrote {p}")
