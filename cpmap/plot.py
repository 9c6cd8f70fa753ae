"""Charts of cpmap, drawn with matplotlib, saved as PNG and SVG.

Every function takes plain data (lists, dicts of numbers) and returns a matplotlib ``Figure``;
:func:`save_figure` writes it. Figures are built without pyplot (no global figure registry, no backend switch:
PNG goes through the Agg renderer, and a notebook shows the returned figure inline). Output is deterministic: no
date in the SVG, fixed ids (``svg.hashsalt``), and every bar carries a ``gid`` naming its group, series and value,
which SVG readers and the tests can find.
"""

from __future__ import annotations

import io
import math
from pathlib import Path
from typing import Sequence

import matplotlib
from matplotlib.figure import Figure
from matplotlib.patches import FancyBboxPatch, Rectangle

from .result import write_bytes_atomic

#: PNG and SVG: raster for viewing, vector for papers
FORMATS = ("png", "svg")
_STYLE = {"svg.hashsalt": "cpmap", "svg.fonttype": "none", "font.size": 9}


def save_figure(fig: Figure, stem: Path, formats: Sequence[str] = FORMATS, dpi: int = 120) -> list[Path]:
    """Write ``fig`` as ``stem.png`` and ``stem.svg`` (each atomically), close it, return the paths."""
    paths = []
    with matplotlib.rc_context(_STYLE):
        for fmt in formats:
            buf = io.BytesIO()
            meta = {"Date": None} if fmt == "svg" else {"Software": None}
            fig.savefig(buf, format=fmt, dpi=dpi, metadata=meta, bbox_inches="tight")
            path = stem.with_suffix(f".{fmt}")
            write_bytes_atomic(path, buf.getvalue())
            paths.append(path)
    return paths


def _cmap(name: str):
    return matplotlib.colormaps[name]


def _label_gid(*parts: object) -> str:
    return " | ".join(str(p) for p in parts)


# ----------------------------------------------------------------------------------------------------------
# grouped bars (cpmap compare: ratio to the reference per layer and engine)
# ----------------------------------------------------------------------------------------------------------


def grouped_bars(
    title: str,
    groups: list[str],
    series: list[tuple[str, list[float | None]]],
    y_label: str,
    reference: float | None = None,
) -> Figure:
    """One group of bars per entry of ``groups``, one bar per series (``None`` = missing); ``reference`` draws a
    dashed horizontal line (e.g. 1.0 for "equal to the optimum")."""
    with matplotlib.rc_context(_STYLE):
        fig = Figure(figsize=(max(6.0, 0.35 * len(groups) * max(len(series), 1) + 2), 4.5))
        ax = fig.subplots()
        n = max(len(series), 1)
        width = 0.8 / n
        for s, (name, values) in enumerate(series):
            xs = [g + (s - (n - 1) / 2) * width for g in range(len(groups))]
            labelled = False
            for x, g, v in zip(xs, groups, values):
                if v is None:
                    continue
                (bar,) = ax.bar(x, v, width=width, color=f"C{s}", label=None if labelled else name)
                bar.set_gid(_label_gid(g, name, f"{v:.6g}"))
                labelled = True
        if reference is not None:
            ax.axhline(reference, color="#333", linestyle="--", linewidth=0.8)
        values = [v for _, vs in series for v in vs if v is not None]
        if values and reference is not None:
            lo, hi = min(values + [reference]), max(values + [reference])
            pad = (hi - lo) * 0.15 or abs(hi) * 0.01 or 0.01
            ax.set_ylim(min(0.0, lo) if lo <= 0 else max(0.0, lo - pad), hi + pad)
        ax.set_xticks(range(len(groups)), groups, rotation=60, ha="right", fontsize=7)
        ax.set_ylabel(y_label)
        ax.set_title(title, fontsize=10)
        ax.grid(axis="y", color="#e5e5e5")
        ax.set_axisbelow(True)
        _dedup_legend(ax)
        fig.tight_layout()
    return fig


def _dedup_legend(ax) -> None:
    handles, labels = ax.get_legend_handles_labels()
    seen: dict[str, object] = {}
    for h, lab in zip(handles, labels):
        seen.setdefault(lab, h)
    if seen:
        ax.legend(list(seen.values()), list(seen), fontsize=8, frameon=False)


# ----------------------------------------------------------------------------------------------------------
# stacked breakdowns per layer + the network (energy, latency)
# ----------------------------------------------------------------------------------------------------------


def stacked_breakdown_figure(title: str, names: list[str], parts: list[dict[str, float]], unit: str) -> Figure:
    """Left: one stacked bar per layer, one segment per component; right: the network (sum over layers), one
    stacked bar with each component's share. ``parts[i]`` maps component -> value for layer ``names[i]``."""
    components = list(dict.fromkeys(c for p in parts for c in p))
    totals = {c: sum(p.get(c, 0.0) for p in parts) for c in components}
    colors = _component_colors(components)
    with matplotlib.rc_context(_STYLE):
        fig = Figure(figsize=(max(6.5, min(3.0 + 0.42 * len(names), 22)), 5.2))
        ax, axn = fig.subplots(1, 2, gridspec_kw={"width_ratios": [max(len(names), 2), 1.6]})
        bottom = [0.0] * len(names)
        for c in components:
            vals = [p.get(c, 0.0) for p in parts]
            bars = ax.bar(range(len(names)), vals, bottom=bottom, color=colors[c], label=c, width=0.75)
            for b, n, v in zip(bars, names, vals):
                b.set_gid(_label_gid(n, c, f"{v:.6g}"))
            bottom = [b + v for b, v in zip(bottom, vals)]
        ax.set_xticks(range(len(names)), names, rotation=70, ha="right", fontsize=7)
        ax.set_ylabel(unit)
        ax.set_title("per layer", fontsize=9)
        ax.grid(axis="y", color="#e5e5e5")
        ax.set_axisbelow(True)
        total = sum(totals.values())
        acc = 0.0
        for c in components:
            v = totals[c]
            (b,) = axn.bar([0], [v], bottom=[acc], color=colors[c], width=0.6)
            b.set_gid(_label_gid("network", c, f"{v:.6g}"))
            if total > 0 and v / total >= 0.04:
                axn.text(0, acc + v / 2, f"{v / total:.0%}", ha="center", va="center", fontsize=7)
            acc += v
        axn.set_xticks([0], [f"network\n{total:.4g}"])
        axn.set_title("network", fontsize=9)
        axn.set_xlim(-0.6, 0.6)
        axn.yaxis.tick_right()
        axn.grid(axis="y", color="#e5e5e5")
        axn.set_axisbelow(True)
        handles = [Rectangle((0, 0), 1, 1, color=colors[c]) for c in components]
        ax.legend(handles, components, loc="upper left", ncol=min(len(components), 4), fontsize=7, frameon=True, framealpha=0.85)
        ax.set_ylim(0, max(bottom + [0.0]) * (1.18 + 0.07 * math.ceil(len(components) / 4)) or 1.0)
        fig.suptitle(title, fontsize=10)
        fig.tight_layout()
    return fig


#: colour families of the operands in breakdowns ("O @ rf_2B": outputs in blues, ...); other components: a
#: qualitative palette
_FAMILIES = {"O": "Blues", "W": "Greens", "I": "Oranges"}


def _component_colors(components: list[str]) -> dict[str, object]:
    """MAC grey; ``<operand> @ <memory>`` shades of the operand's family, lighter further from the array;
    anything else the tab10 palette in order."""
    colors: dict[str, object] = {}
    by_op: dict[str, list[str]] = {}
    other = 0
    for c in components:
        op = c.split(" @ ", 1)[0] if " @ " in c else None
        if c == "MAC":
            colors[c] = "#7f7f7f"
        elif op is not None:
            by_op.setdefault(op, []).append(c)
        else:
            colors[c] = _cmap("tab10")(other % 10)
            other += 1
    for i, (op, comps) in enumerate(by_op.items()):
        family = _FAMILIES.get(op, ("Purples", "Reds", "Greys")[i % 3])
        for j, c in enumerate(comps):
            colors[c] = _cmap(family)(0.85 - 0.5 * j / max(len(comps) - 1, 1))
    return colors


# ----------------------------------------------------------------------------------------------------------
# the memory hierarchy
# ----------------------------------------------------------------------------------------------------------


def _human_bits(bits: float) -> str:
    if bits < 8 * 1024:
        return f"{bits / 8:g} B" if bits % 8 == 0 else f"{bits:g} b"
    for unit, scale in (("GB", 8 * 1024**3), ("MB", 8 * 1024**2), ("KB", 8 * 1024)):
        if bits >= scale:
            return f"{bits / scale:.4g} {unit}"
    return f"{bits:g} b"


def _column_order(memories: list[dict], operands: list[str]) -> list[str]:
    """The order of the memory-operand columns that keeps the most shared memories on adjacent columns."""
    from itertools import permutations

    def cost(order: tuple[str, ...]) -> int:
        pos = {op: i for i, op in enumerate(order)}
        bad = 0
        for m in memories:
            cols = sorted(pos[o] for o in m["operands"] if o in pos)
            if cols and cols[-1] - cols[0] + 1 != len(cols):
                bad += 1
        return bad

    return list(min(permutations(operands), key=cost))


def memory_hierarchy_figure(data: dict) -> Figure:
    """The memories of an accelerator as boxes: one column per memory operand (I1, I2, O), one row per level
    (the array at the bottom, the top memory on top), a shared memory spanning the columns it serves; each box
    gives the name, the size, the operands served, the energy per read/write and the array dims it serves.
    ``data`` is :func:`cpmap.views.hierarchy_data`."""
    memories = data["memories"]
    operands = [op for op in ("I1", "I2", "O") if any(op in m["operands"] for m in memories)]
    operands = _column_order(memories, operands)
    col = {op: i for i, op in enumerate(operands)}
    rows = {m["name"]: max(m["chain_index"].values()) + 1 for m in memories}
    n_rows = max(rows.values(), default=0) + 1
    with matplotlib.rc_context(_STYLE):
        fig = Figure(figsize=(3.2 * len(operands) + 1, 1.35 * n_rows + 0.8))
        ax = fig.subplots()
        ax.set_xlim(-0.05, len(operands) + 0.05)
        ax.set_ylim(-0.1, n_rows)
        ax.axis("off")
        centers: dict[tuple[str, int], tuple[float, float, float]] = {}
        for m in memories:
            cols = sorted(col[o] for o in m["operands"])
            x0, x1 = cols[0] + 0.06, cols[-1] + 0.94
            y = rows[m["name"]]
            box = FancyBboxPatch((x0, y + 0.08), x1 - x0, 0.8, boxstyle="round,pad=0.01,rounding_size=0.04",
                                 facecolor=_cmap("Pastel1")(len(m["operands"]) - 1), edgecolor="#444")
            box.set_gid(_label_gid(m["name"], _human_bits(m["size_bits"]), ",".join(m["operands"])))
            ax.add_patch(box)
            text = (
                f"{m['name']}  ({_human_bits(m['size_bits'])})\n"
                f"serves {', '.join(m['serves'])}\n"
                f"r {m['r_cost']:g} / w {m['w_cost']:g} pJ per word; dims {','.join(m['served_dims']) or '-'}"
            )
            ax.text((x0 + x1) / 2, y + 0.48, text, ha="center", va="center", fontsize=9)
            for o in m["operands"]:
                centers[(o, m["chain_index"][o])] = (col[o] + 0.5, y + 0.08, y + 0.88)
        # chain links per operand column: from each level to the next one up
        for o in operands:
            levels = sorted(k for (op, k) in centers if op == o)
            prev_top = 0.88
            for k in levels:
                x, bottom, top = centers[(o, k)]
                ax.annotate("", xy=(x, bottom), xytext=(x, prev_top), arrowprops={"arrowstyle": "<->", "color": "#888", "lw": 0.8})
                prev_top = top
        arr = data["array"]
        dims = " x ".join(f"{d} {s}" for d, s in arr["dims"].items())
        box = FancyBboxPatch((0.06, 0.08), len(operands) - 0.12, 0.8, boxstyle="round,pad=0.01,rounding_size=0.04",
                             facecolor="#e8e8e8", edgecolor="#444")
        box.set_gid(_label_gid("array", dims))
        ax.add_patch(box)
        ax.text(len(operands) / 2, 0.48, f"MAC array: {dims} = {arr['units']} units, {arr['unit_energy']:g} pJ per MAC",
                ha="center", va="center", fontsize=9)
        for o in operands:
            users = data.get("links", {}).get(o, [])
            head = f"{o} ({', '.join(users)})" if users else o
            ax.text(col[o] + 0.5, n_rows - 0.02, head, ha="center", va="top", fontsize=10, fontweight="bold")
        ax.set_title(f"Memory hierarchy of {data['name']} (bottom: next to the array)", fontsize=10)
        fig.tight_layout()
    return fig


# ----------------------------------------------------------------------------------------------------------
# Pareto fronts: small multiples (one panel per layer) + the network front
# ----------------------------------------------------------------------------------------------------------


def pareto_fronts_figure(
    fronts: list[tuple[str, list[tuple[float, float]]]],
    network: list[tuple[float, float]] | None = None,
    title: str = "energy / latency Pareto fronts",
    columns: int = 4,
) -> Figure:
    """A scatter of (energy, latency) points per layer, each on its own axes (``fronts``: (layer name, points)),
    and the network's front as the last panel. Points of a front are joined by a staircase; plain lists in,
    one figure out (``cpmap pareto`` draws its fronts with it)."""
    panels = list(fronts) + ([("network", network)] if network is not None else [])
    n = max(len(panels), 1)
    cols = min(columns, n)
    rows = math.ceil(n / cols)
    with matplotlib.rc_context(_STYLE):
        fig = Figure(figsize=(3.1 * cols, 2.6 * rows))
        axes = fig.subplots(rows, cols, squeeze=False)
        for k, ax in enumerate(axes.flat):
            if k >= len(panels):
                ax.axis("off")
                continue
            name, pts = panels[k]
            pts = sorted(pts)
            color = "C3" if name == "network" and network is not None and k == len(panels) - 1 else "C0"
            if pts:
                xs, ys = zip(*pts)
                ax.step(xs, ys, where="post", color=color, linewidth=0.8, alpha=0.6)
                sc = ax.scatter(xs, ys, s=14, color=color, zorder=3)
                sc.set_gid(_label_gid(name, f"{len(pts)} points"))
            ax.set_title(name, fontsize=8)
            ax.tick_params(labelsize=6)
            ax.ticklabel_format(style="sci", scilimits=(-3, 4))
            ax.grid(color="#eeeeee")
            if k % cols == 0:
                ax.set_ylabel("latency (cycles)", fontsize=7)
            if k >= (rows - 1) * cols or k + cols >= len(panels):
                ax.set_xlabel("energy (pJ)", fontsize=7)
        fig.suptitle(title, fontsize=10)
        fig.tight_layout()
    return fig
