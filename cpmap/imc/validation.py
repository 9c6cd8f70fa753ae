"""Validation of the IMC macro model against the 7 silicon chips of ZigZag-IMC (AIMC1-3, DIMC1-4).

For every chip the table puts side by side:

- the chip paper's **reported** TOP/s/W, area and clock period;
- **ZigZag-IMC's validation script** values (the authors' per-chip, more detailed model, imc_model.md section 13);
- the **integrated model** (cpmap = main ZigZag's ``ImcArray``) on the chip's macro expressed in main ZigZag's
  template (``template`` in ``models/imc_chips/chips.yaml``).

The integrated model applies (``model_applies``) to the chips at its fixed 28 nm / 0.9 V that fit the YAML template
(AIMC2, DIMC1-4); AIMC1 and AIMC3 are 22 nm / 0.8 V chips, shown for completeness. The integrated model prices peak
operation (100 % switching, no sparsity) and has none of the chip-specific extras of the validation scripts, so it
is not expected to match silicon: each chip lists why they differ.
"""

from __future__ import annotations

import csv
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ..errors import InputError
from .macro import ImcMacro, MacroMetrics

#: cpmap's chip data (repository checkout); see the header of that file for its source.
DEFAULT_CHIPS_FILE = Path(__file__).resolve().parents[2] / "models" / "imc_chips" / "chips.yaml"


@dataclass(frozen=True)
class Figures:
    """TOP/s/W, area (mm^2) and clock period (ns); None where not reported."""

    tops_per_w: float | None
    area_mm2: float | None
    tclk_ns: float | None


@dataclass(frozen=True)
class Chip:
    """One validation chip: its reported figures, ZigZag-IMC's script values and its macro in the template."""

    name: str
    imc_type: str
    venue: str
    tech_nm: float
    vdd: float
    model_applies: bool
    applies_note: str
    reported: Figures
    condition: str
    script: Figures
    figure_percent: dict[str, float]
    macro: ImcMacro
    differences: tuple[str, ...]


@dataclass(frozen=True)
class ValidationRow:
    """A chip and the integrated model's metrics for its macro."""

    chip: Chip
    model: MacroMetrics

    @property
    def integrated(self) -> Figures:
        return Figures(self.model.tops_per_w, self.model.area_mm2, self.model.tclk_ns)

    def ratio(self, which: str, metric: str) -> float | None:
        """``which`` ("script" or "integrated") / reported, for ``metric`` ("tops_per_w", "area_mm2", "tclk_ns")."""
        rep = getattr(self.chip.reported, metric)
        val = getattr(self.chip.script if which == "script" else self.integrated, metric)
        return None if rep in (None, 0) or val is None else val / rep


METRICS = (("tops_per_w", "TOP/s/W"), ("area_mm2", "area mm2"), ("tclk_ns", "tclk ns"))


def load_chips(path: str | Path = DEFAULT_CHIPS_FILE) -> tuple[Chip, ...]:
    """Read ``chips.yaml``; bad content raises :class:`InputError` naming the file and field."""
    from ..io.common import field, read_yaml

    data = read_yaml(path)
    chips = field(data, "chips", dict, path, "")
    out = []
    for name, c in chips.items():
        w = f"chips.{name}"
        t = field(c, "template", dict, path, w)
        tw = f"{w}.template"
        prec = field(t, "input_precision", list, path, tw)
        try:
            macro = ImcMacro(
                imc_type=field(t, "imc_type", str, path, tw),
                wordline=field(t, "wordline", int, path, tw),
                bitline=field(t, "bitline", int, path, tw),
                macros=field(t, "macros", int, path, tw, default=1),
                activation_precision=prec[0],
                weight_precision=prec[1],
                bit_serial_precision=field(t, "bit_serial_precision", int, path, tw),
                adc_resolution=field(t, "adc_resolution", (int, float), path, tw, default=0),
                cells_size=field(t, "cells_size", int, path, tw, default=None),
                cells_area=field(t, "cells_area", float, path, tw, default=0.0),
            )
        except InputError as exc:
            raise InputError(path, f"{tw} ({exc.field})", exc.problem) from None
        except IndexError:
            raise InputError(path, f"{tw}.input_precision", "must be [activation bits, weight bits]") from None
        rep = field(c, "reported", dict, path, w)
        scr = field(c, "validation_script", dict, path, w)
        out.append(Chip(
            name=str(name),
            imc_type=macro.imc_type,
            venue=str(c.get("venue", "")),
            tech_nm=field(c, "tech_nm", float, path, w),
            vdd=field(c, "vdd_V", float, path, w),
            model_applies=field(c, "model_applies", bool, path, w),
            applies_note=str(c.get("applies_note", "")),
            reported=_figures(rep, path, f"{w}.reported"),
            condition=str(rep.get("condition", "")),
            script=_figures(scr, path, f"{w}.validation_script"),
            figure_percent=dict(c.get("figure_percent") or {}),
            macro=macro,
            differences=tuple(str(x) for x in c.get("differences") or ()),
        ))
    return tuple(out)


def _figures(d: dict[str, Any], path: str | Path, where: str) -> Figures:
    from ..io.common import field

    return Figures(*(field(d, k, float, path, where, default=None) for k, _ in METRICS))


def validation_rows(chips: tuple[Chip, ...] | None = None) -> list[ValidationRow]:
    """The integrated model's metrics for every chip (default: cpmap's chip file)."""
    return [ValidationRow(c, c.macro.metrics) for c in (load_chips() if chips is None else chips)]


# -- output --------------------------------------------------------------------------------------------------

HEADER = (
    "IMC model validation: ZigZag-IMC's 7 silicon chips.\n"
    "  reported   = the chip paper's figures (as used by ZigZag-IMC's validation scripts)\n"
    "  script     = ZigZag-IMC's per-chip validation-script model (chip-specific extras, per-chip activity factors)\n"
    "  integrated = cpmap's macro model = zigzag-dse 3.9.1's ImcArray on the chip's macro in the YAML template:\n"
    "               fixed 28 nm / 0.9 V, peak operation (100 % switching, no sparsity), no chip-specific extras\n"
    "  ratios are value / reported; '*' = the integrated model does not apply to this chip (see the notes)"
)


def _f(x: float | None) -> str:
    return "-" if x is None else f"{x:.4g}"


def _r(x: float | None) -> str:
    return "-" if x is None else f"{x:.2f}"


def format_table(rows: list[ValidationRow]) -> str:
    """The table printed by ``cpmap imc validate``, with the reasons model and silicon differ."""
    head = ("chip", "type", "node", "metric", "reported", "script", "script/rep", "integrated", "integ/rep")
    lines = []
    for row in rows:
        c = row.chip
        node = f"{c.tech_nm:g}nm {c.vdd:g}V"
        for i, (m, label) in enumerate(METRICS):
            lines.append((
                (c.name + ("" if c.model_applies else "*")) if i == 0 else "",
                c.imc_type if i == 0 else "",
                node if i == 0 else "",
                label,
                _f(getattr(c.reported, m)),
                _f(getattr(c.script, m)),
                _r(row.ratio("script", m)),
                _f(getattr(row.integrated, m)),
                _r(row.ratio("integrated", m)),
            ))
    widths = [max(len(head[i]), *(len(ln[i]) for ln in lines)) for i in range(len(head))]

    def fmt(cells: tuple[str, ...]) -> str:
        return "  ".join(s.ljust(w) if i < 4 else s.rjust(w) for i, (s, w) in enumerate(zip(cells, widths))).rstrip()

    out = [HEADER, "", fmt(head), fmt(tuple("-" * w for w in widths))]
    for i, ln in enumerate(lines):
        if i and i % len(METRICS) == 0:
            out.append("")
        out.append(fmt(ln))
    out += ["", "Where and why model and silicon differ:"]
    for row in rows:
        c = row.chip
        out.append(f"  {c.name}: {'model applies' if c.model_applies else 'model does NOT apply'}: {c.applies_note}.")
        out.append(f"    reported energy condition: {c.condition}")
        for d in c.differences:
            out.append(f"    - {d}")
    return "\n".join(out)


def rows_to_json(rows: list[ValidationRow]) -> list[dict[str, Any]]:
    out = []
    for row in rows:
        c = row.chip
        out.append({
            "chip": c.name,
            "type": c.imc_type,
            "tech_nm": c.tech_nm,
            "vdd_V": c.vdd,
            "model_applies": c.model_applies,
            "reported": c.reported.__dict__,
            "validation_script": c.script.__dict__,
            "integrated": row.integrated.__dict__,
            "ratio_script": {m: row.ratio("script", m) for m, _ in METRICS},
            "ratio_integrated": {m: row.ratio("integrated", m) for m, _ in METRICS},
            "integrated_metrics": row.model.to_json(),
            "notes": [c.applies_note, c.condition, *c.differences],
        })
    return out


def write_csv(rows: list[ValidationRow], path: Path) -> None:
    with path.open("w", newline="") as fh:
        w = csv.writer(fh)
        w.writerow(["chip", "type", "tech_nm", "vdd_V", "model_applies", "metric", "reported", "script", "script_over_reported", "integrated", "integrated_over_reported"])
        for row in rows:
            c = row.chip
            for m, _ in METRICS:
                w.writerow([
                    c.name, c.imc_type, c.tech_nm, c.vdd, c.model_applies, m, getattr(c.reported, m),
                    getattr(c.script, m), row.ratio("script", m), getattr(row.integrated, m), row.ratio("integrated", m),
                ])


# -- bar chart (matplotlib): model / reported per chip, three panels, log scale ----------------------------------

_SERIES = (("script", "ZigZag-IMC validation script", "#4c78a8"), ("integrated", "integrated model (cpmap = ZigZag 3.9.1)", "#f58518"))
_LOG_MIN, _LOG_MAX = -2, 2  # log10 of the ratio axis: 0.01 ... 100


def validation_figure(rows: list[ValidationRow]):
    """Three panels (TOP/s/W, area, clock period): model / reported per chip, log scale, for both models.
    Every bar's SVG id names the chip, the model and the ratio; a chip the integrated model does not apply to
    is starred."""
    import matplotlib
    from matplotlib.figure import Figure

    from ..plot import _STYLE

    names = [r.chip.name + ("" if r.chip.model_applies else "*") for r in rows]
    xs = list(range(len(rows)))
    with matplotlib.rc_context(_STYLE):
        fig = Figure(figsize=(9, 8.5))
        axes = fig.subplots(len(METRICS), 1)
        for ax, (metric, label) in zip(axes, METRICS):
            for s, (which, legend, color) in enumerate(_SERIES):
                for x, row in zip(xs, rows):
                    r = row.ratio(which, metric)
                    if r is None or r <= 0:
                        ax.text(x + (s - 0.5) * 0.36, 1.0, "n/a", ha="center", va="bottom", fontsize=7, color="#999")
                        continue
                    # from 1 (model = silicon) to the ratio: up when the model is above, down when below
                    (bar,) = ax.bar(x + (s - 0.5) * 0.36, r - 1.0, width=0.36, bottom=1.0, color=color, label=legend if x == 0 else None)
                    bar.set_gid(f"{row.chip.name} | {which} | {r:.3g}")
                    shown = min(max(r, 10.0**_LOG_MIN), 10.0**_LOG_MAX)
                    ax.text(x + (s - 0.5) * 0.36, shown * (1.1 if r >= 1 else 0.9), f"{r:.2g}", ha="center",
                            va="bottom" if r >= 1 else "top", fontsize=7)
            ax.axhline(1.0, color="black", linewidth=0.8)
            ax.set_yscale("log")
            ax.set_ylim(10.0**_LOG_MIN, 10.0**_LOG_MAX)
            ax.set_ylabel(f"{label}\nmodel / reported")
            ax.set_xticks(xs, names)
            ax.grid(axis="y", color="#e5e5e5")
            ax.set_axisbelow(True)
        axes[0].legend(fontsize=8, loc="upper left", frameon=False)
        fig.suptitle("IMC model vs silicon: model / reported (log scale; * = integrated model does not apply)", fontsize=10)
        fig.tight_layout()
    return fig


def write_charts(rows: list[ValidationRow], outdir: Path) -> list[Path]:
    """imc_validation.png and imc_validation.svg in ``outdir``."""
    from ..plot import save_figure

    return save_figure(validation_figure(rows), outdir / "imc_validation")
