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


REPORT_HELP = (
    "Write ZigZag's views of the result in this folder: loop_nests.txt (loop nest per layer, per-port stall/slack, "
    "utilisation), energy_breakdown, latency_breakdown (per layer and network) and memory_hierarchy, as PNG and SVG."
)


def _views(problem, run, print_nests: bool, report: Optional[Path], data_locality: Optional[bool], mixed: bool) -> tuple[str, list[Path]]:
    """The loop nests to print (``--layers`` runs) and the files of ``--report`` (written here)."""
    if not print_nests and report is None:
        return "", []
    from .views import layer_views, loop_nests_report, write_report

    views = layer_views(problem, run, data_locality, mixed)
    text = loop_nests_report(views) if print_nests else ""
    paths = write_report(views, run, problem.accelerator, report) if report is not None else []
    return text, paths


def _echo_views(written: tuple[str, list[Path]]) -> None:
    text, paths = written
    if text:
        typer.echo("")
        typer.echo(text.rstrip("\n"))
    if paths:
        typer.echo(f"report: {', '.join(str(p) for p in paths)}")


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
    report: Optional[Path] = typer.Option(None, "--report", help=REPORT_HELP),
) -> None:
    """Cost given mappings with cpmap's cost model (no search): energy, latency and their breakdowns.

    With --layers, each layer's loop nest (ZigZag's layout) and per-port stall/slack are printed too.
    """
    from .api import evaluate_problem, load_problem
    from .report import format_table
    from .result import run_to_json, write_json_atomic

    try:
        problem = load_problem(workload, accelerator, mapping)
        run = evaluate_problem(problem, mapping_file, layers.split(",") if layers else None, data_locality)
        doc = run_to_json(run, problem.accelerator)
        if output is not None:
            write_json_atomic(output, doc)
        written = _views(problem, run, bool(layers), report, data_locality, False)
    except CpmapError as exc:
        _fail(exc)
    typer.echo(format_table(run))
    _echo_views(written)
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
    report: Optional[Path] = typer.Option(None, "--report", help=REPORT_HELP),
    quiet: bool = typer.Option(False, "--quiet", "-q", help="No progress bar."),
) -> None:
    """Map every layer (or --layers) and print status, objective, bound, gap, energy, latency, seconds.

    Layers of identical shape are solved once. A mapping-file entry with a complete temporal_ordering fixes the
    layer's loop nest (status 'fixed', costed as ZigZag does); a partial one restricts the search (loma,
    exhaustive; cpsat and milp skip such a layer for now). With --layers, each layer's loop nest (ZigZag's
    layout) and per-port stall/slack are printed too. Exit code 1 when a layer could not be mapped (the others
    are still reported), 2 on bad input.
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
        if quiet:
            run = solve_problem(problem, options, names)
        else:
            bar_state: dict = {}

            def progress(done: int, total: int, name: str) -> None:
                if "bar" not in bar_state:
                    bar_state["bar"] = typer.progressbar(length=total, label=f"{engine} {objective}", file=sys.stderr)
                    bar_state["bar"].__enter__()
                bar_state["bar"].update(1)
                if done == total:
                    bar_state["bar"].__exit__(None, None, None)

            run = solve_problem(problem, options, names, progress)
        doc = run_to_json(run, problem.accelerator)
        if output is not None:
            write_json_atomic(output, doc)
        written = _views(problem, run, bool(layers), report, data_locality, mixed_spatial)
    except CpmapError as exc:
        _fail(exc)
    typer.echo(format_table(run))
    _echo_views(written)
    for r in run.layers:
        if r.message:
            typer.echo(f"{r.name}: {r.status}: {r.message}")
    if output is not None:
        typer.echo(f"wrote {output}")
    raise typer.Exit(code=exit_code(run))


from .cli_imc import imc as _imc  # noqa: E402  (cpmap imc HW.yaml [--json] | cpmap imc validate)

app.command("imc")(_imc)

from .cli_compare import compare as _compare  # noqa: E402  (cpmap compare WORKLOAD -a HW.yaml --engines ...)

app.command("compare")(_compare)


def main() -> None:  # pragma: no cover - console entry point
    app()


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
