"""Command line: ``cpmap solve``, ``cpmap evaluate`` (more commands join as the engines land).

Exit codes (spec interfaces.md): 0 success, 1 a layer could not be mapped, 2 bad input (one line on
stderr naming the file, the field and the problem; no traceback).
"""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Optional

import typer

from .errors import CpmapError

app = typer.Typer(
    add_completion=False,
    no_args_is_help=True,
    help="cpmap: map DNN layers onto accelerators with ZigZag's cost model, and prove the mapping optimal.",
)


@app.callback()
def _root() -> None:
    """cpmap: map DNN layers onto accelerators with ZigZag's cost model, and prove the mapping optimal."""


def _fail(exc: Exception) -> None:
    typer.echo(f"cpmap: error: {exc}", err=True)
    raise typer.Exit(code=2)


@app.command()
def evaluate(
    workload: Path = typer.Argument(..., help="ONNX model or ZigZag workload YAML."),
    accelerator: Path = typer.Option(..., "--accelerator", "-a", help="ZigZag hardware YAML."),
    mapping: Optional[Path] = typer.Option(
        None, "--mapping", "-m", help="ZigZag mapping YAML (memory-operand links; spatial mapping and full temporal_ordering when no --mapping-file)."
    ),
    mapping_file: Optional[Path] = typer.Option(None, "--mapping-file", "-f", help="Result JSON whose per-layer 'mapping' objects are costed."),
    layers: Optional[str] = typer.Option(None, "--layers", help="Comma-separated layer names (default: all)."),
    data_locality: Optional[bool] = typer.Option(
        None, "--data-locality/--no-data-locality", help="Inter-layer data locality (prune memories above where a layer's data may stay). Default: on for IMC accelerators, as ZigZag."
    ),
    output: Optional[Path] = typer.Option(None, "--output", "-o", help="Write the result JSON here."),
) -> None:
    """Cost given mappings with cpmap's cost model (no search): energy, latency and their breakdowns."""
    from .api import evaluate_problem, load_problem
    from .report import format_table
    from .result import run_to_json, write_json_atomic

    try:
        problem = load_problem(workload, accelerator, mapping)
        run = evaluate_problem(problem, mapping_file, layers.split(",") if layers else None, data_locality)
        doc = run_to_json(run, problem.accelerator)
        if output is not None:
            write_json_atomic(output, doc)
    except CpmapError as exc:
        _fail(exc)
    typer.echo(format_table(run))
    if output is not None:
        typer.echo(f"wrote {output}")


@app.command()
def solve(
    workload: Path = typer.Argument(..., help="ONNX model or ZigZag workload YAML."),
    accelerator: Path = typer.Option(..., "--accelerator", "-a", help="ZigZag hardware YAML."),
    mapping: Optional[Path] = typer.Option(
        None, "--mapping", "-m", help="ZigZag mapping YAML: memory-operand links, spatial mapping (complete = used as given) or hints."
    ),
    objective: str = typer.Option("energy", "--objective", help="energy | latency | edp (ties broken as ZigZag does)."),
    engine: str = typer.Option("cpsat", "--engine", "-e", help="loma (ZigZag's heuristic) | exhaustive (enumeration, small layers) | cpsat | milp (exact, with a certificate)."),
    time_limit: Optional[float] = typer.Option(None, "--time-limit", help="Seconds per spatial mapping for the exact engines (best so far + proven gap)."),
    layers: Optional[str] = typer.Option(None, "--layers", help="Comma-separated layer names (default: all)."),
    jobs: int = typer.Option(1, "--jobs", "-j", help="Layers solved in parallel processes (results do not depend on it)."),
    lpf_limit: int = typer.Option(6, "--lpf-limit", help="LOMA: maximum number of loop prime factors (ZigZag's merging rule)."),
    spatial_mappings: int = typer.Option(3, "--spatial-mappings", help="Spatial mappings generated per layer when the mapping file does not fix one (ZigZag's default 3)."),
    mixed_spatial: bool = typer.Option(False, "--mixed-spatial", help="Also generate mixed unrollings (several layer dims on one array dim)."),
    max_space: int = typer.Option(2_000_000, "--max-space", help="exhaustive: refuse layers with more mappings than this."),
    loma_hint: bool = typer.Option(False, "--loma-hint", help="cpsat: start from LOMA's best mapping (useful with --time-limit)."),
    data_locality: Optional[bool] = typer.Option(
        None, "--data-locality/--no-data-locality", help="Inter-layer data locality (prune memories above where a layer's data may stay). Default: on for IMC accelerators and with --mixed-spatial, as ZigZag."
    ),
    output: Optional[Path] = typer.Option(None, "--output", "-o", help="Write the result JSON here."),
    quiet: bool = typer.Option(False, "--quiet", "-q", help="No progress bar."),
) -> None:
    """Map every layer (or --layers) and print status, objective, bound, gap, energy, latency, seconds.

    Layers of identical shape are solved once. Exit code 1 when a layer could not be mapped (the others are
    still reported), 2 on bad input.
    """
    from .api import load_problem
    from .report import format_table
    from .result import run_to_json, write_json_atomic
    from .solve import SolveOptions, exit_code, solve_problem

    try:
        problem = load_problem(workload, accelerator, mapping)
        options = SolveOptions(
            engine=engine,
            objective=objective,
            time_limit=time_limit,
            lpf_limit=lpf_limit,
            nb_spatial_mappings=spatial_mappings,
            mixed_spatial=mixed_spatial,
            jobs=jobs,
            max_space=max_space,
            loma_hint=loma_hint,
            data_locality=data_locality,
        )
        names = layers.split(",") if layers else None
        run = solve_problem(problem, options, names, None if quiet else _progress_bar(f"{engine} {objective}"))
        doc = run_to_json(run, problem.accelerator)
        if output is not None:
            write_json_atomic(output, doc)
    except CpmapError as exc:
        _fail(exc)
    typer.echo(format_table(run))
    for r in run.layers:
        if r.message:
            typer.echo(f"{r.name}: {r.status}: {r.message}")
    if output is not None:
        typer.echo(f"wrote {output}")
    raise typer.Exit(code=exit_code(run))


@app.command()
def pareto(
    workload: Path = typer.Argument(..., help="ONNX model or ZigZag workload YAML."),
    accelerator: Path = typer.Option(..., "--accelerator", "-a", help="ZigZag hardware YAML."),
    mapping: Optional[Path] = typer.Option(None, "--mapping", "-m", help="ZigZag mapping YAML (links, spatial mapping or hints)."),
    layers: Optional[str] = typer.Option(None, "--layers", help="Comma-separated layer names (default: all)."),
    spatial_mappings: int = typer.Option(3, "--spatial-mappings", help="Spatial mappings generated per layer when the mapping file does not fix one (as solve)."),
    mixed_spatial: bool = typer.Option(False, "--mixed-spatial", help="Also generate mixed unrollings."),
    jobs: int = typer.Option(1, "--jobs", "-j", help="Layers solved in parallel processes (results do not depend on it)."),
    time_limit: Optional[float] = typer.Option(None, "--time-limit", help="Seconds per spatial mapping for the walk (an unfinished front is reported feasible)."),
    data_locality: Optional[bool] = typer.Option(None, "--data-locality/--no-data-locality", help="Inter-layer data locality (as solve)."),
    output: Optional[Path] = typer.Option(None, "--output", "-o", help="Write the fronts as JSON (schema cpmap.pareto/1)."),
    plot: Optional[Path] = typer.Option(None, "--plot", help="Draw the layer fronts and the network front (PNG or SVG by suffix)."),
    quiet: bool = typer.Option(False, "--quiet", "-q", help="No progress bar."),
) -> None:
    """The exact energy-latency Pareto front of every layer (each point proven, with its mapping) and of the network.

    A layer's status is optimal when its front is proven complete. Each point's mapping can be costed again
    with `cpmap evaluate --mapping-file` (one point per layer: the JSON's points are cpmap.result/1 mappings).
    """
    from .api import load_problem
    from .pareto import pareto_problem, pareto_to_json, plot_fronts
    from .result import write_json_atomic
    from .solve import SolveOptions

    try:
        problem = load_problem(workload, accelerator, mapping)
        options = SolveOptions(
            engine="cpsat", objective="energy", time_limit=time_limit, nb_spatial_mappings=spatial_mappings,
            mixed_spatial=mixed_spatial, jobs=jobs, data_locality=data_locality,
        )
        names = layers.split(",") if layers else None
        layer_fronts, network = pareto_problem(problem, options, names, None if quiet else _progress_bar("pareto"))
        doc = pareto_to_json(problem, layer_fronts, network)
        if output is not None:
            write_json_atomic(output, doc)
        if plot is not None:
            plot_fronts(layer_fronts, network, str(plot), f"{problem.workload_name} on {problem.accelerator.name}: energy-latency Pareto fronts")
    except CpmapError as exc:
        _fail(exc)
    for lf in layer_fronts:
        ends = f"{lf.points[0].energy:.10g} pJ / {lf.points[0].latency:.10g} cc ... {lf.points[-1].energy:.10g} pJ / {lf.points[-1].latency:.10g} cc" if lf.points else "-"
        typer.echo(f"{lf.name}  {lf.status}  {len(lf.points)} points  {ends}  {lf.solve_seconds:.2f} s")
    typer.echo(f"network: {len(network)} points" + (f", {network[0].energy:.12g} pJ / {network[0].latency:.10g} cc ... {network[-1].energy:.12g} pJ / {network[-1].latency:.10g} cc" if network else ""))
    for path in (output, plot):
        if path is not None:
            typer.echo(f"wrote {path}")
    raise typer.Exit(code=0 if all(lf.points for lf in layer_fronts) else 1)


def _progress_bar(label: str):
    """A progress callback drawing a bar on stderr (created at the first call, closed at the last)."""
    state: dict = {}

    def progress(done: int, total: int, name: str) -> None:
        if "bar" not in state:
            state["bar"] = typer.progressbar(length=total, label=label, file=sys.stderr)
            state["bar"].__enter__()
        state["bar"].update(1)
        if done == total:
            state["bar"].__exit__(None, None, None)

    return progress


from .cli_imc import imc as _imc  # noqa: E402  (cpmap imc HW.yaml [--json] | cpmap imc validate)

app.command("imc")(_imc)

from .cli_compare import compare as _compare  # noqa: E402  (cpmap compare WORKLOAD -a HW.yaml --engines ...)

app.command("compare")(_compare)

from .cli_sweep import sweep as _sweep  # noqa: E402  (cpmap sweep SPEC.yaml -o DIR [--jobs N] [--scheduler ADDRESS])

app.command("sweep")(_sweep)


def main() -> None:  # pragma: no cover - console entry point
    app()


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
