"""Command line: ``cpmap evaluate`` (more commands join as the engines land).

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
    output: Optional[Path] = typer.Option(None, "--output", "-o", help="Write the result JSON here."),
) -> None:
    """Cost given mappings with cpmap's cost model (no search): energy, latency and their breakdowns."""
    from .api import evaluate_problem, load_problem
    from .report import format_table
    from .result import run_to_json, write_json_atomic

    try:
        problem = load_problem(workload, accelerator, mapping)
        run = evaluate_problem(problem, mapping_file, layers.split(",") if layers else None)
        doc = run_to_json(run, problem.accelerator)
        if output is not None:
            write_json_atomic(output, doc)
    except CpmapError as exc:
        _fail(exc)
    typer.echo(format_table(run))
    if output is not None:
        typer.echo(f"wrote {output}")


from .cli_imc import imc as _imc  # noqa: E402  (cpmap imc HW.yaml [--json] | cpmap imc validate)

app.command("imc")(_imc)


def main() -> None:  # pragma: no cover - console entry point
    app()


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
