"""``cpmap imc HW.yaml [--json]`` (IMC macro metrics) and ``cpmap imc validate [--output-dir DIR]`` (the 7 chips).

Registered on the main app by :mod:`cpmap.cli`. Bad input: one line ``cpmap: error: <file>: <field>: <problem>``
on stderr, exit 2.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any, Optional

import typer

from .errors import CpmapError, InputError

VALIDATE = "validate"


def _fail(exc: Exception) -> None:
    typer.echo(f"cpmap: error: {exc}", err=True)
    raise typer.Exit(code=2)


def imc(
    target: str = typer.Argument(
        ..., metavar="HW.yaml|validate", help="An IMC hardware YAML (ZigZag format), or 'validate' for the 7-chip validation table."
    ),
    json_out: bool = typer.Option(False, "--json", help="Print one JSON object instead of the table."),
    output_dir: Optional[Path] = typer.Option(
        None, "--output-dir", "-o", help="validate: folder for imc_validation.png/.svg/.csv (default: current folder)."
    ),
    chips: Optional[Path] = typer.Option(None, "--chips", help="validate: chip data file (default: models/imc_chips/chips.yaml)."),
) -> None:
    """IMC macro metrics: clock period, area, peak TOP/s, TOP/s/W, TOP/s/mm2 (ZigZag 3.9.1's IMC model).

    'cpmap imc validate' compares the model with the 7 silicon chips of ZigZag-IMC's validation.
    """
    if target == VALIDATE:
        _validate(json_out, output_dir, chips)
        return
    if output_dir is not None or chips is not None:
        _fail(InputError(None, "--output-dir" if output_dir is not None else "--chips", "only for 'cpmap imc validate'"))
    try:
        doc = macro_report(Path(target))
    except CpmapError as exc:
        _fail(exc)
    typer.echo(json.dumps(doc, indent=2) if json_out else format_macro_report(doc))


def macro_report(path: Path) -> dict[str, Any]:
    """The JSON object of ``cpmap imc HW.yaml --json``."""
    from .imc import ImcMacro
    from .io.hardware_yaml import load_accelerator

    acc = load_accelerator(path)
    try:
        m = ImcMacro.from_accelerator(acc)
    except InputError as exc:
        raise InputError(path, exc.field, exc.problem) from None
    dims = sorted(acc.array.dimensions)
    doc: dict[str, Any] = {"accelerator": acc.name, "file": str(path), "imc_type": m.imc_type}
    doc.update(m.metrics.to_json())
    doc["parameters"] = {
        "wordline_dimension": dims[0],
        "bitline_dimension": dims[1],
        "macro_dimensions": dims[2:],
        "wordline_size": m.wordline,
        "bitline_size": m.bitline,
        "macros": m.macros,
        "activation_precision": m.activation_precision,
        "weight_precision": m.weight_precision,
        "bit_serial_precision": m.bit_serial_precision,
        "cycles_per_op": m.cycles_per_op,
        "adc_resolution": m.adc_resolution,
        "cells_size": m.group_bits,
        "weights_per_cell_group": m.group_depth,
        "cells_area_per_group_mm2": m.cells_area,
    }
    return doc


def format_macro_report(doc: dict[str, Any]) -> str:
    p = doc["parameters"]
    g = "{:.7g}".format
    lines = [
        f"IMC accelerator '{doc['accelerator']}' ({doc['imc_type']}): {p['wordline_size']} x {p['bitline_size']} cell groups "
        f"(wordline {p['wordline_dimension']} x bitline {p['bitline_dimension']}), {p['macros']} macro(s)",
        f"  activations {p['activation_precision']} b, weights {p['weight_precision']} b, {p['bit_serial_precision']} b per cycle "
        f"({g(p['cycles_per_op'])} cycles per MAC)"
        + (f", ADC {g(p['adc_resolution'])} b" if doc["imc_type"] == "analog" else "")
        + f", {p['weights_per_cell_group']} weight(s) per cell group",
        "",
        f"  tclk         {g(doc['tclk_ns'])} ns",
        f"  area         {g(doc['area_mm2'])} mm2",
        f"  peak energy  {g(doc['peak_energy_per_cycle_pj'])} pJ/cycle ({g(doc['fj_per_mac'])} fJ/MAC)",
        f"  MACs/cycle   {g(doc['macs_per_cycle'])}",
        f"  TOP/s        {g(doc['tops'])}",
        f"  TOP/s/W      {g(doc['tops_per_w'])}",
        f"  TOP/s/mm2    {g(doc['tops_per_mm2'])}",
        "",
        f"  {'component':<22}{'area mm2':>12}{'tclk ns':>12}{'pJ/cycle':>14}",
    ]
    area, tclk, energy = doc["area_breakdown_mm2"], doc["tclk_breakdown_ns"], doc["peak_energy_breakdown_pj"]
    for k in list(dict.fromkeys(["cells", *energy, *area])):
        a, t, e = area.get(k), tclk.get(k), energy.get(k)
        lines.append(
            f"  {k:<22}{'' if a is None else g(a):>12}{'' if t is None else g(t):>12}{'' if e is None else g(e):>14}"
        )
    lines.append("  (peak: full utilisation, 100 % switching, no weight updates; 28 nm, 0.9 V)")
    return "\n".join(lines)


def _validate(json_out: bool, output_dir: Optional[Path], chips: Optional[Path]) -> None:
    from .imc.validation import DEFAULT_CHIPS_FILE, format_table, load_chips, rows_to_json, validation_rows, write_charts, write_csv

    from .result import check_output_dir

    out = Path(".") if output_dir is None else output_dir
    try:
        check_output_dir(out, "--output-dir", ["imc_validation.svg", "imc_validation.csv", "imc_validation.png"])
        rows = validation_rows(load_chips(chips if chips is not None else DEFAULT_CHIPS_FILE))
    except CpmapError as exc:
        _fail(exc)
    try:
        out.mkdir(parents=True, exist_ok=True)
        charts = write_charts(rows, out)
        write_csv(rows, out / "imc_validation.csv")
    except OSError as exc:
        _fail(InputError(out, None, f"cannot write the chart: {exc.strerror or exc}"))
    if json_out:
        typer.echo(json.dumps({"chips": rows_to_json(rows)}, indent=2))
        return
    typer.echo(format_table(rows))
    typer.echo("")
    typer.echo(f"wrote {', '.join(str(p) for p in charts)}, {out / 'imc_validation.csv'}")
