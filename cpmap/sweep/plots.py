"""The figures of a sweep (matplotlib, written as PNG): the Pareto scatter, the per-parameter sensitivity and,
for several engines, the per-layer ratio to the optimum and the time to solution."""

from __future__ import annotations

import math
import os
import tempfile
from pathlib import Path
from typing import Any

from .outputs import LayerRatio, usable


def _pyplot():
    import matplotlib

    matplotlib.use("Agg")  # files only, no display
    import matplotlib.pyplot as plt

    return plt


def _save(fig, path: Path) -> Path:
    """Save atomically (temporary file, then rename), so a killed run never leaves half a PNG."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".png")
    os.close(fd)
    try:
        fig.savefig(tmp, dpi=110, bbox_inches="tight")
        os.chmod(tmp, 0o644)
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    return path


def _groups(rows: list[dict[str, Any]]) -> list[tuple[str, str, str]]:
    return list(dict.fromkeys((r["workload"], r["engine"], r["objective"]) for r in rows if usable(r)))


def _grid(n: int) -> tuple[int, int]:
    cols = min(n, 3)
    return math.ceil(n / cols), cols


def pareto_plot(rows: list[dict[str, Any]], front: list[dict[str, Any]], path: Path) -> Path | None:
    """Energy vs latency per (workload, engine, objective), coloured by area; Pareto points ringed."""
    groups = _groups(rows)
    if not groups:
        return None
    plt = _pyplot()
    nr, nc = _grid(len(groups))
    fig, axes = plt.subplots(nr, nc, figsize=(5.2 * nc, 4.2 * nr), squeeze=False)
    areas = [r["area"] for r in rows if usable(r)]
    norm = plt.Normalize(min(areas), max(areas) if max(areas) > min(areas) else min(areas) + 1)
    front_ids = {(r["point"]) for r in front}
    for ax, (wl, engine, objective) in zip(axes.flat, groups):
        mine = [r for r in rows if usable(r) and (r["workload"], r["engine"], r["objective"]) == (wl, engine, objective)]
        sc = ax.scatter([r["latency_cycles"] for r in mine], [r["energy_pJ"] for r in mine], c=[r["area"] for r in mine], cmap="viridis", norm=norm, s=36, zorder=2)
        best = [r for r in mine if r["point"] in front_ids]
        ax.scatter([r["latency_cycles"] for r in best], [r["energy_pJ"] for r in best], s=130, facecolors="none", edgecolors="crimson", linewidths=1.4, zorder=3, label="Pareto (area, energy, latency)")
        ax.set_title(f"{wl}, {engine}, {objective}", fontsize=9)
        ax.set_xlabel("latency (cycles)")
        ax.set_ylabel("energy (pJ)")
        ax.grid(alpha=0.3)
        ax.legend(fontsize=7, loc="best")
        fig.colorbar(sc, ax=ax, label="area")
    for ax in list(axes.flat)[len(groups):]:
        ax.set_visible(False)
    fig.suptitle("cpmap sweep: every point, Pareto front ringed")
    out = _save(fig, path)
    plt.close(fig)
    return out


def sensitivity_plot(rows: list[dict[str, Any]], parameters: list[str], path: Path) -> Path | None:
    """One column per swept parameter that takes several values, rows energy / latency / area: every point against the parameter's value,
    the median per value joined by a line, one colour per (workload, engine, objective)."""
    groups = _groups(rows)
    parameters = [p for p in parameters if len({str(r[p]) for r in rows if usable(r)}) > 1]  # constants say nothing
    if not parameters or not groups:
        return None
    plt = _pyplot()
    metrics = [("energy_pJ", "energy (pJ)"), ("latency_cycles", "latency (cycles)"), ("area", "area")]
    fig, axes = plt.subplots(len(metrics), len(parameters), figsize=(4.4 * len(parameters), 3.2 * len(metrics)), squeeze=False)
    colours = plt.get_cmap("tab10")
    for j, p in enumerate(parameters):
        values = list(dict.fromkeys(str(r[p]) for r in rows if usable(r)))
        for i, (key, label) in enumerate(metrics):
            ax = axes[i][j]
            for g_i, g in enumerate(groups):
                mine = [r for r in rows if usable(r) and (r["workload"], r["engine"], r["objective"]) == g]
                xs = [values.index(str(r[p])) for r in mine]
                ax.scatter(xs, [r[key] for r in mine], s=14, color=colours(g_i % 10), alpha=0.6)
                med = []
                for k, v in enumerate(values):
                    ys = sorted(r[key] for r in mine if str(r[p]) == v)
                    if ys:
                        med.append((k, ys[len(ys) // 2] if len(ys) % 2 else (ys[len(ys) // 2 - 1] + ys[len(ys) // 2]) / 2))
                ax.plot([k for k, _ in med], [m for _, m in med], color=colours(g_i % 10), label=" ".join(g) if i == 0 and j == 0 else None)
            ax.set_xticks(range(len(values)))
            ax.set_xticklabels(values, fontsize=7, rotation=20)
            ax.grid(alpha=0.3)
            if i == len(metrics) - 1:
                ax.set_xlabel(p, fontsize=8)
            if j == 0:
                ax.set_ylabel(label)
    if len(groups) > 0:
        axes[0][0].legend(fontsize=7)
    fig.suptitle("cpmap sweep: sensitivity (points, median per value)")
    out = _save(fig, path)
    plt.close(fig)
    return out


def ratio_plot(ratios: list[LayerRatio], path: Path) -> Path | None:
    """Per workload: the distribution of per-layer ratios to the reference (1 = the proven optimum), one box per
    (accelerator, engine)."""
    if not ratios:
        return None
    plt = _pyplot()
    workloads = list(dict.fromkeys(r.workload for r in ratios))
    engines = list(dict.fromkeys(r.engine for r in ratios))
    fig, axes = plt.subplots(len(workloads), 1, figsize=(max(7.0, 1.6 * len({r.hardware for r in ratios}) * len(engines)), 3.8 * len(workloads)), squeeze=False)
    colours = plt.get_cmap("tab10")
    for ax, wl in zip(axes[:, 0], workloads):
        hws = list(dict.fromkeys((r.hardware, r.accelerator) for r in ratios if r.workload == wl))
        width = 0.8 / len(engines)
        for e_i, engine in enumerate(engines):
            data = [[r.ratio for r in ratios if r.workload == wl and r.hardware == h and r.engine == engine and r.ratio is not None] for h, _ in hws]
            pos = [k + (e_i - (len(engines) - 1) / 2) * width for k in range(len(hws))]
            bp = ax.boxplot([d or [math.nan] for d in data], positions=pos, widths=width * 0.9, patch_artist=True, showfliers=True)
            for box in bp["boxes"]:
                box.set_facecolor(colours(e_i % 10))
                box.set_alpha(0.6)
            ax.plot([], [], color=colours(e_i % 10), linewidth=6, alpha=0.6, label=engine)
        ax.axhline(1.0, color="black", linewidth=0.8, linestyle="--")
        ax.set_xticks(range(len(hws)))
        ax.set_xticklabels([a if sum(1 for _, b in hws if b == a) == 1 else f"{a}\n{h}" for h, a in hws], fontsize=8)
        ax.set_ylabel("layer objective / reference")
        ax.set_title(f"{wl}: per-layer ratio to the reference (1 = proven optimum)", fontsize=9)
        ax.grid(alpha=0.3, axis="y")
        ax.legend(fontsize=8)
    out = _save(fig, path)
    plt.close(fig)
    return out


def time_plot(comparison: list[dict[str, Any]], path: Path) -> Path | None:
    """Time to solution (seconds per network, identical layers solved once) per accelerator and engine."""
    if not comparison:
        return None
    plt = _pyplot()
    workloads = list(dict.fromkeys(r["workload"] for r in comparison))
    engines = list(dict.fromkeys(r["engine"] for r in comparison))
    fig, axes = plt.subplots(len(workloads), 1, figsize=(8, 3.4 * len(workloads)), squeeze=False)
    colours = plt.get_cmap("tab10")
    for ax, wl in zip(axes[:, 0], workloads):
        hws = list(dict.fromkeys((r["hardware"], r["accelerator"]) for r in comparison if r["workload"] == wl))
        width = 0.8 / len(engines)
        for e_i, engine in enumerate(engines):
            secs = [next((r["seconds"] for r in comparison if r["workload"] == wl and r["hardware"] == h and r["engine"] == engine), 0) for h, _ in hws]
            ax.bar([k + (e_i - (len(engines) - 1) / 2) * width for k in range(len(hws))], secs, width * 0.9, color=colours(e_i % 10), label=engine)
        ax.set_xticks(range(len(hws)))
        ax.set_xticklabels([a for _, a in hws], fontsize=8)
        ax.set_yscale("log")
        ax.set_ylabel("seconds (solver time)")
        ax.set_title(f"{wl}: time to solution", fontsize=9)
        ax.grid(alpha=0.3, axis="y")
        ax.legend(fontsize=8)
    out = _save(fig, path)
    plt.close(fig)
    return out
