"""``cpmap compare``: the engines side by side on the same layers (CSV, result JSONs, PNG/SVG chart)."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Optional

import typer

from .errors import CpmapError, InputError


def compare(
    workload: Path = typer.Argument(..., help="ONNX model or ZigZag workload YAML."),
    accelerator: Path = typer.Option(..., "--accelerator", "-a", help="ZigZag hardware YAML."),
    mapping: Optional[Path] = typer.Option(None, "--mapping", "-m", help="ZigZag mapping YAML (links, spatial mapping or hints)."),
    engines: str = typer.Option("cpsat,loma", "--engines", help="Comma-separated engines, run in this order (cpsat, milp, loma, salsa, exhaustive)."),
    objective: str = typer.Option("energy", "--objective", help="energy | latency | edp."),
    layers: Optional[str] = typer.Option(None, "--layers", help="Comma-separated layer names (default: all)."),
    jobs: int = typer.Option(1, "--jobs", "-j", help="Layers solved in parallel processes."),
    time_limit: Optional[float] = typer.Option(None, "--time-limit", help="Seconds per spatial mapping for the exact engines."),
    lpf_limit: int = typer.Option(6, "--lpf-limit", help="LOMA: maximum number of loop prime factors."),
    salsa_iterations: int = typer.Option(1000, "--salsa-iterations", help="salsa: annealing iterations per spatial mapping (ZigZag's 1000)."),
    salsa_start_temperature: float = typer.Option(0.05, "--salsa-start-temperature", help="salsa: start temperature T0, cooled as T0 x 0.995^k (ZigZag's 0.05)."),
    salsa_criterion: str = typer.Option("energy", "--salsa-criterion", help="salsa: energy (ZigZag's) | latency (without on/off-loading)."),
    seed: int = typer.Option(0, "--seed", help="salsa: random seed."),
    spatial_mappings: str = typer.Option("auto", "--spatial-mappings", help="Spatial mappings per layer: a count, 'all', or 'auto' (all for the exact engines, whose optimum is then the reference over the whole space; 3 for loma, as ZigZag)."),
    output_dir: Path = typer.Option(
        Path("compare_out"), "--output-dir", "-o", help="Folder for compare.csv, <engine>.json, compare.png and compare.svg (checked before any work)."
    ),
) -> None:
    """Run several engines on the same layers and report how far each is from the proven optimum.

    Per layer the reference is the best proven optimum (an exact engine's 'optimal' result), else the best
    value found. Writes compare.csv (one row per layer and engine, with the ratio to the reference), the
    result JSON of every engine and compare.png / compare.svg (the ratios per layer, drawn with matplotlib).
    Exit codes: 0 done, 2 bad input, 3 internal error, 130 interrupted (nothing written).
    """
    from .api import load_problem
    from .cli import layer_names, spatial_option
    from .compare import compare_problem, summary, write_outputs
    from .result import check_output_dir
    from .solve import SolveOptions, check_options

    try:
        names = [e.strip() for e in engines.split(",") if e.strip()]
        if not names:
            raise InputError(None, "--engines", "no engine given")
        if len(set(names)) != len(names):
            raise InputError(None, "--engines", f"engine {next(e for e in names if names.count(e) > 1)!r} is listed twice")
        options = SolveOptions(
            objective=objective, time_limit=time_limit, lpf_limit=lpf_limit, nb_spatial_mappings=spatial_option(spatial_mappings), jobs=jobs,
            salsa_iterations=salsa_iterations, salsa_start_temperature=salsa_start_temperature,
            salsa_criterion=salsa_criterion, seed=seed,
        )
        for e in names:
            check_options(SolveOptions(**{**options.__dict__, "engine": e}))
        check_output_dir(output_dir, "--output-dir", ["compare.csv", "compare.svg", *(f"{e}.json" for e in names)])
        selected = layer_names(layers)
        problem = load_problem(workload, accelerator, mapping)
        runs = {}
        for e in names:
            if sys.stderr.isatty():  # progress for a person watching, not lines in a log
                typer.echo(f"running {e} ...", err=True)
            runs.update(compare_problem(problem, [e], options, selected, child_processes=True))
    except CpmapError as exc:
        typer.echo(f"cpmap: error: {exc}", err=True)
        raise typer.Exit(code=2)
    try:
        written = write_outputs(runs, problem, output_dir)
    except OSError as exc:
        typer.echo(f"cpmap: error: {InputError(output_dir, '--output-dir', f'cannot write: {exc.strerror or exc}')}", err=True)
        raise typer.Exit(code=2)
    from .cli import print_skipped_nodes

    print_skipped_nodes(problem.skipped_nodes)
    typer.echo(summary(runs))
    for p in written:
        typer.echo(f"wrote {p}")
