"""Command line: ``cpmap solve``, ``evaluate``, ``compare``, ``imc``.

Exit codes: 0 success; 1 some layer could not be mapped (the others are still reported); 2 bad input (one
line on stderr naming the file, the field and the problem; nothing written); 3 internal error (one line; the
traceback with ``--debug``); 130 interrupted (Ctrl-C; worker processes ended, nothing written).
"""

from __future__ import annotations

import sys
import traceback
from pathlib import Path
from typing import Any, Optional, Sequence

import typer
from typer.core import TyperGroup

from .errors import CpmapError, InputError

EXIT_OK, EXIT_UNMAPPED, EXIT_BAD_INPUT, EXIT_INTERNAL, EXIT_INTERRUPTED = 0, 1, 2, 3, 130
DEBUG_FLAG = "--debug"

#: click's base exception (typer vendors its own copy of click in recent versions: found, not imported by name)
_ClickException = next(c for c in typer.BadParameter.__mro__ if c.__name__ == "ClickException")


class _Interrupted(Exception):
    """A KeyboardInterrupt carried past typer, which would turn it into a silent exit."""


class CpmapGroup(TyperGroup):
    """The ``cpmap`` command group with cpmap's exit codes and one-line messages for every way a run can end."""

    def invoke(self, ctx: Any) -> Any:
        try:
            return super().invoke(ctx)
        except KeyboardInterrupt:
            raise _Interrupted() from None

    def main(
        self,
        args: Sequence[str] | None = None,
        prog_name: str | None = None,
        complete_var: str | None = None,
        standalone_mode: bool = True,
        **extra: Any,
    ) -> Any:
        argv = list(sys.argv[1:] if args is None else args)
        argv, debug = _take_debug_flag(argv)
        try:
            rv = super().main(argv, prog_name, complete_var, standalone_mode=False, **extra)
            code = rv if isinstance(rv, int) else EXIT_OK
        except _ClickException as exc:  # a bad option value, a missing argument, an unknown command
            if type(exc).__name__ == "NoArgsIsHelpError":  # plain `cpmap`: the help, not an error
                typer.echo(exc.format_message())
                code = EXIT_OK
            else:
                typer.echo(f"cpmap: error: {' '.join(exc.format_message().split())}", err=True)
                code = EXIT_BAD_INPUT
        except (_Interrupted, KeyboardInterrupt, typer.Abort):
            typer.echo("cpmap: interrupted", err=True)
            code = EXIT_INTERRUPTED
        except CpmapError as exc:
            typer.echo(f"cpmap: error: {' '.join(str(exc).split())}", err=True)
            code = EXIT_BAD_INPUT
        except Exception as exc:  # noqa: BLE001 - every other exception is a bug of cpmap: say so in one line
            if debug:
                traceback.print_exc()
            message = " ".join(f"{type(exc).__name__}: {exc}".split())
            hint = "" if debug else f"; rerun with {DEBUG_FLAG} for the traceback"
            typer.echo(f"cpmap: internal error: {message}{hint}", err=True)
            code = EXIT_INTERNAL
        if standalone_mode:
            sys.exit(code)
        return code


def _take_debug_flag(argv: list[str]) -> tuple[list[str], bool]:
    """``--debug`` is accepted anywhere before a ``--`` (the message tells to rerun "with --debug")."""
    end = argv.index("--") if "--" in argv else len(argv)
    debug = DEBUG_FLAG in argv[:end]
    if debug:
        argv = [DEBUG_FLAG] + [a for a in argv[:end] if a != DEBUG_FLAG] + argv[end:]
    return argv, debug


app = typer.Typer(
    cls=CpmapGroup,
    add_completion=False,
    no_args_is_help=True,
    pretty_exceptions_enable=False,
    help=(
        "cpmap: map DNN layers onto accelerators with ZigZag's cost model, and prove the mapping optimal.\n\n"
        "Exit codes: 0 success; 1 some layer could not be mapped (the others are reported); 2 bad input (one line "
        "on stderr naming the file, the field and the problem; nothing written); 3 internal error (one line; "
        "--debug shows the traceback); 130 interrupted by Ctrl-C (nothing written)."
    ),
)


@app.callback()
def _root(
    debug: bool = typer.Option(False, DEBUG_FLAG, help="On an internal error (exit 3), print the traceback. Accepted anywhere on the line."),
) -> None:
    """cpmap: map DNN layers onto accelerators with ZigZag's cost model, and prove the mapping optimal."""


def _fail(exc: Exception) -> None:
    typer.echo(f"cpmap: error: {exc}", err=True)
    raise typer.Exit(code=EXIT_BAD_INPUT)


def layer_names(text: Optional[str]) -> list[str] | None:
    """The ``--layers`` list (None: all layers); an empty name is bad input."""
    if text is None:
        return None
    names = text.split(",")
    if any(not n for n in names):
        raise InputError(None, "--layers", f"empty layer name in {text!r}")
    return names


def write_output(path: Path, doc: dict, option: str = "--output") -> None:
    """The result JSON, written atomically; a failure this late (disk full, removed folder) is one line."""
    from .result import write_json_atomic

    try:
        write_json_atomic(path, doc)
    except OSError as exc:
        _fail(InputError(path, option, f"cannot write: {exc.strerror or exc}"))


def print_skipped_nodes(skipped: Sequence[Any]) -> None:
    """One stderr note per kind of ONNX node that is not costed (the result JSON lists every node)."""
    from .io.onnx_import import skipped_summary

    for line in skipped_summary(list(skipped)):
        typer.echo(f"cpmap: note: {line}", err=True)


class _ProgressBar:
    """The solve progress bar on stderr, drawn only on a terminal (in a log it would be noise before a result)."""

    def __init__(self, label: str) -> None:
        self.label = label
        self.bar: Any = None

    def __call__(self, done: int, total: int, name: str) -> None:
        if self.bar is None:
            self.bar = typer.progressbar(length=total, label=self.label, file=sys.stderr)
            self.bar.__enter__()
        self.bar.update(1)
        if done == total:
            self.bar.__exit__(None, None, None)


def progress_bar(label: str, quiet: bool) -> Optional[_ProgressBar]:
    return None if quiet or not sys.stderr.isatty() else _ProgressBar(label)


SPATIAL_HELP = (
    "Spatial mappings per layer where the mapping file leaves array dims free: ZigZag's best N, 'all' (the whole "
    "spatial space: ZigZag's candidates without the cut; the exact engines prove optimality over it), or 'auto': "
    "all for the exact engines, 3 (ZigZag's default) for loma."
)


def spatial_option(text: str) -> int | None | str:
    """``--spatial-mappings``: a count >= 1, ``all`` (None) or ``auto``."""
    if text.strip().lower() == "all":
        return None
    if text.strip().lower() == "auto":
        return "auto"
    try:
        n = int(text)
    except ValueError:
        raise InputError(None, "--spatial-mappings", f"expected a count, 'all' or 'auto', got {text!r}") from None
    if n < 1:
        raise InputError(None, "--spatial-mappings", "must be at least 1 (or all)")
    return n


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
    mapping_file: Optional[Path] = typer.Option(
        None, "--mapping-file", "-f", help="Result JSON whose per-layer 'mapping' objects are costed (every selected layer needs one)."
    ),
    layers: Optional[str] = typer.Option(None, "--layers", help="Comma-separated layer names (default: all)."),
    data_locality: Optional[bool] = typer.Option(
        None, "--data-locality/--no-data-locality", help="Inter-layer data locality (prune memories above where a layer's data may stay). Default: on for IMC accelerators, as ZigZag."
    ),
    output: Optional[Path] = typer.Option(None, "--output", "-o", help="Write the result JSON here (checked before any work)."),
    report: Optional[Path] = typer.Option(None, "--report", help=REPORT_HELP),
) -> None:
    """Cost given mappings with cpmap's cost model (no search): energy, latency and their breakdowns.

    With --layers, each layer's loop nest (ZigZag's layout) and per-port stall/slack are printed too.
    Exit codes: 0 done, 2 bad input, 3 internal error, 130 interrupted.
    """
    from .api import evaluate_problem, load_problem
    from .report import format_table
    from .result import check_output_dir, check_output_file, run_to_json

    try:
        if output is not None:
            check_output_file(output, "--output")
        if report is not None:
            check_output_dir(report, "--report", ())
        names = layer_names(layers)
        problem = load_problem(workload, accelerator, mapping)
        run = evaluate_problem(problem, mapping_file, names, data_locality)
        doc = run_to_json(run, problem.accelerator)
        written = _views(problem, run, bool(layers), report, data_locality, False)
    except CpmapError as exc:
        _fail(exc)
    if output is not None:
        write_output(output, doc)
    print_skipped_nodes(run.skipped_nodes)
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
    engine: str = typer.Option(
        "cpsat", "--engine", "-e",
        help="loma | salsa (ZigZag's heuristics) | exhaustive (enumeration, small layers) | cpsat | milp (exact, with a certificate).",
    ),
    time_limit: Optional[float] = typer.Option(None, "--time-limit", help="Seconds per spatial mapping for the exact engines (best so far + proven gap)."),
    layers: Optional[str] = typer.Option(None, "--layers", help="Comma-separated layer names (default: all)."),
    jobs: int = typer.Option(1, "--jobs", "-j", help="Layers solved in parallel processes (results do not depend on it)."),
    lpf_limit: int = typer.Option(6, "--lpf-limit", help="LOMA: maximum number of loop prime factors (ZigZag's merging rule)."),
    spatial_mappings: str = typer.Option("auto", "--spatial-mappings", help=SPATIAL_HELP),
    mixed_spatial: bool = typer.Option(False, "--mixed-spatial", help="Also generate mixed unrollings (several layer dims on one array dim)."),
    max_space: int = typer.Option(2_000_000, "--max-space", help="exhaustive: refuse layers with more mappings than this."),
    loma_hint: Optional[bool] = typer.Option(
        None, "--loma-hint/--no-loma-hint", help="cpsat: start from LOMA's best mapping and bound the search by it. Default: on for latency and edp, off for energy."
    ),
    salsa_iterations: int = typer.Option(1000, "--salsa-iterations", help="salsa: annealing iterations per spatial mapping (ZigZag's 1000)."),
    salsa_start_temperature: float = typer.Option(0.05, "--salsa-start-temperature", help="salsa: start temperature T0, cooled as T0 x 0.995^k (ZigZag's 0.05)."),
    salsa_criterion: str = typer.Option("energy", "--salsa-criterion", help="salsa: energy (ZigZag's) | latency (without on/off-loading, as ZigZag's SALSA)."),
    seed: int = typer.Option(0, "--seed", help="salsa: random seed; with the layer shape and spatial mapping it fixes every chain."),
    data_locality: Optional[bool] = typer.Option(
        None, "--data-locality/--no-data-locality", help="Inter-layer data locality (prune memories above where a layer's data may stay). Default: on for IMC accelerators and with --mixed-spatial, as ZigZag."
    ),
    output: Optional[Path] = typer.Option(None, "--output", "-o", help="Write the result JSON here (checked before any work)."),
    report: Optional[Path] = typer.Option(None, "--report", help=REPORT_HELP),
    quiet: bool = typer.Option(False, "--quiet", "-q", help="No progress bar (there is none when stderr is not a terminal)."),
) -> None:
    """Map every layer (or --layers) and print status, objective, bound, gap, energy, latency, seconds.

    Layers of identical shape are solved once, in worker processes (Ctrl-C stops at once). A mapping-file entry
    with a complete temporal_ordering fixes the layer's loop nest (status 'fixed', costed as ZigZag does); a
    partial one restricts the search (every engine but salsa, which skips such layers; the exact engines prove
    the optimum within it). With --layers, each layer's loop nest (ZigZag's layout) and per-port stall/slack
    are printed too.
    Exit codes: 0 every layer mapped, 1 some layer could not be mapped (the others are still reported),
    2 bad input, 3 internal error, 130 interrupted.
    """
    from .api import load_problem
    from .report import format_table
    from .result import check_output_dir, check_output_file, run_to_json
    from .solve import SolveOptions, check_options, exit_code, solve_problem

    try:
        if output is not None:
            check_output_file(output, "--output")
        options = SolveOptions(
            engine=engine,
            objective=objective,
            time_limit=time_limit,
            lpf_limit=lpf_limit,
            nb_spatial_mappings=spatial_option(spatial_mappings),
            mixed_spatial=mixed_spatial,
            jobs=jobs,
            max_space=max_space,
            loma_hint=loma_hint,
            data_locality=data_locality,
            salsa_iterations=salsa_iterations,
            salsa_start_temperature=salsa_start_temperature,
            salsa_criterion=salsa_criterion,
            seed=seed,
        )
        check_options(options)
        if report is not None:
            check_output_dir(report, "--report", ())
        names = layer_names(layers)
        problem = load_problem(workload, accelerator, mapping)
        run = solve_problem(problem, options, names, progress_bar(f"{engine} {objective}", quiet), child_processes=True)
        doc = run_to_json(run, problem.accelerator)
        written = _views(problem, run, bool(layers), report, data_locality, mixed_spatial)
    except CpmapError as exc:
        _fail(exc)
    if output is not None:
        write_output(output, doc)
    print_skipped_nodes(run.skipped_nodes)
    typer.echo(format_table(run))
    _echo_views(written)
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
    spatial_mappings: str = typer.Option("auto", "--spatial-mappings", help=SPATIAL_HELP),
    mixed_spatial: bool = typer.Option(False, "--mixed-spatial", help="Also generate mixed unrollings."),
    jobs: int = typer.Option(1, "--jobs", "-j", help="Layers solved in parallel processes (results do not depend on it)."),
    time_limit: Optional[float] = typer.Option(None, "--time-limit", help="Seconds per spatial mapping for the walk (an unfinished front is reported feasible)."),
    data_locality: Optional[bool] = typer.Option(None, "--data-locality/--no-data-locality", help="Inter-layer data locality (as solve)."),
    output: Optional[Path] = typer.Option(None, "--output", "-o", help="Write the fronts as JSON (schema cpmap.pareto/1)."),
    plot: Optional[Path] = typer.Option(None, "--plot", help="Draw the layer fronts and the network front (PNG or SVG by suffix)."),
    quiet: bool = typer.Option(False, "--quiet", "-q", help="No progress bar (there is none when stderr is not a terminal)."),
) -> None:
    """The exact energy-latency Pareto front of every layer (each point proven, with its mapping) and of the network.

    A layer's status is optimal when its front is proven complete. Each point's mapping can be costed again
    with `cpmap evaluate --mapping-file` (one point per layer: the JSON's points are cpmap.result/1 mappings).
    Exit codes: 0 every layer has a front, 1 some layer has none, 2 bad input, 3 internal error, 130 interrupted.
    """
    from .api import load_problem
    from .pareto import pareto_problem, pareto_to_json, plot_fronts
    from .result import check_output_file
    from .solve import SolveOptions, check_options

    try:
        for path, option in ((output, "--output"), (plot, "--plot")):
            if path is not None:
                check_output_file(path, option)
        if plot is not None and plot.suffix.lower() not in (".png", ".svg", ".pdf"):
            raise InputError(plot, "--plot", "the suffix must be .png, .svg or .pdf")
        options = SolveOptions(
            engine="cpsat", objective="energy", time_limit=time_limit, nb_spatial_mappings=spatial_option(spatial_mappings),
            mixed_spatial=mixed_spatial, jobs=jobs, data_locality=data_locality,
        )
        check_options(options)
        names = layer_names(layers)
        problem = load_problem(workload, accelerator, mapping)
        layer_fronts, network = pareto_problem(problem, options, names, progress_bar("pareto", quiet), child_processes=True)
        doc = pareto_to_json(problem, layer_fronts, network)
    except CpmapError as exc:
        _fail(exc)
    if output is not None:
        write_output(output, doc)
    if plot is not None:
        plot_fronts(layer_fronts, network, str(plot), f"{problem.workload_name} on {problem.accelerator.name}: energy-latency Pareto fronts")
    for lf in layer_fronts:
        ends = f"{lf.points[0].energy:.10g} pJ / {lf.points[0].latency:.10g} cc ... {lf.points[-1].energy:.10g} pJ / {lf.points[-1].latency:.10g} cc" if lf.points else "-"
        typer.echo(f"{lf.name}  {lf.status}  {len(lf.points)} points  {ends}  {lf.solve_seconds:.2f} s")
    typer.echo(f"network: {len(network)} points" + (f", {network[0].energy:.12g} pJ / {network[0].latency:.10g} cc ... {network[-1].energy:.12g} pJ / {network[-1].latency:.10g} cc" if network else ""))
    for path in (output, plot):
        if path is not None:
            typer.echo(f"wrote {path}")
    raise typer.Exit(code=0 if all(lf.points for lf in layer_fronts) else 1)


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
