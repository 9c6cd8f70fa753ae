"""ZigZag's views of a result: the loop nest per layer as ZigZag prints it, per-port stall/slack, the energy and
latency breakdowns and the memory hierarchy (``cpmap solve|evaluate --report DIR``).

The numbers all come from the cost model's :class:`~cpmap.cost.model.CostResult` of each layer's mapping; this
module only arranges them. Figures are drawn by :mod:`cpmap.plot` (matplotlib).
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from .api import Problem, for_layer, locality_accelerators
from .cost.model import CostResult, LayerContext, evaluate_temporal, prepare
from .hardware import Accelerator
from .mapping import Mapping
from .result import LayerResult, RunResult, write_text_atomic
from .workload import Layer

#: ZigZag's latency sections (its plot_cme), plus the systolic drain that ZigZag folds into off-loading
LATENCY_PARTS = ("ideal computation", "spatial stall", "temporal stall", "on-loading", "off-loading", "systolic drain")


@dataclass(frozen=True)
class LayerView:
    """One mapped layer with what its views need: the layer, the accelerator it was costed on, the cost
    model's context for its spatial mapping and its cost (with the detail outputs)."""

    result: LayerResult
    layer: Layer
    accelerator: Accelerator
    ctx: LayerContext
    cost: CostResult

    @property
    def mapping(self) -> Mapping:
        assert self.result.mapping is not None
        return self.result.mapping


def layer_views(problem: Problem, run: RunResult, data_locality: bool | None = None, mixed_spatial: bool = False) -> list[LayerView]:
    """The views of every layer of ``run`` that has a mapping, each on the accelerator it was costed on
    (with inter-layer data locality, the pruned one; same rule as :func:`cpmap.api.locality_accelerators`)."""
    accs = locality_accelerators(problem, data_locality, mixed_spatial)
    by_name = {layer.name: layer for layer in problem.layers}
    out = []
    for r in run.layers:
        if r.mapping is None or r.cost is None:
            continue
        layer = by_name[r.name]
        acc = for_layer(problem, accs, layer).accelerator
        ctx = prepare(layer, acc, r.mapping.spatial, r.mapping.operand_links)
        cost = r.cost if r.cost.stationary_cuts else evaluate_temporal(ctx, r.mapping.temporal)
        out.append(LayerView(r, layer, acc, ctx, cost))
    return out


# ----------------------------------------------------------------------------------------------------------
# text: the loop nest (ZigZag's print_mapping layout) and the ports
# ----------------------------------------------------------------------------------------------------------


def zigzag_equation(equation: str) -> str:
    """The equation as ZigZag prints it: ``O[k][ox] = W[k][c][fx] * I[c][ix]`` (``+=`` shown as ``=``)."""
    text = equation.replace(" ", "").replace("+=", "=")
    for sym in ("=", "*", "+"):
        text = text.replace(sym, f" {sym} ")
    return text


def loop_nest_text(view: LayerView, indent_step: int = 2) -> str:
    """The mapping as ZigZag 3.9.1's ``print_mapping`` prints it: temporal loops top-down, each with the memory
    that holds it for every operand (levels after the stationarity merge-down), then the spatial unrolling
    (``parfor``, the integer unrolling of each level of the output operand, top-down)."""
    mapping, ctx, cost = view.mapping, view.ctx, view.cost
    operands = [op for op in mapping.operand_links if op in cost.stationary_cuts]
    loops = mapping.temporal.loops
    temporal = []
    for k, (dim, size) in enumerate(loops):
        mems = []
        for op in operands:
            cuts = cost.stationary_cuts[op]
            level = next(m for m, c in enumerate(cuts) if k < c)
            mems.append(ctx.operand(op).chain[level].name)
        temporal.append((dim, size, mems))
    temporal.reverse()
    out_op = ctx.operands[0]
    spatial = [(d, f) for level in out_op.spatial_int.unrollings for d, f in level]
    spatial.reverse()
    names = [d for d, _, _ in temporal] or [""]
    loop_w = max(len(n) for n in names) + 14 + indent_step * (len(temporal) + len(spatial)) + 5
    mem_w = max([len(m) for _, _, ms in temporal for m in ms] or [0]) + 5
    width = loop_w + len(operands) * mem_w
    lines = [f"Loop ordering for {view.layer.name}; {zigzag_equation(view.layer.equation)}"]

    def header(text: str, cols: list[str]) -> None:
        lines.append("=" * width)
        lines.append(text.ljust(loop_w) + "".join(f"{c:<{mem_w}}" for c in cols))
        lines.append("=" * width)

    header("Temporal Loops", operands)
    indent = 0
    for dim, size, mems in temporal:
        lines.append(f"{' ' * indent}for {dim} in [0, {size}):".ljust(loop_w) + "".join(f"{m:<{mem_w}}" for m in mems))
        lines.append("-" * width)
        indent += indent_step
    header("Spatial Loops", [""] * len(operands))
    for dim, f in spatial:
        lines.append(f"{' ' * indent}parfor {dim} in [0, {f}):".ljust(loop_w) + "".join(f"{'':<{mem_w}}" for _ in operands))
        lines.append("-" * width)
    return "\n".join(lines) + "\n"


def ports_text(view: LayerView) -> str:
    """Per memory port: its combined stall (+) or slack (-) in cycles (spec 6.4), and the MAC utilisations."""
    cost = view.cost
    u = cost.mac_utilization
    lines = [
        f"MAC utilisation of {view.layer.name}: spatial {u['spatial']:.2%}, with stalls {u['stalls']:.2%}, "
        f"+ on-loading {u['stalls_onloading']:.2%}, + off-loading {u['stalls_onloading_offloading']:.2%}",
        f"stall/slack per port (cycles; > 0 stall, < 0 slack; the layer's stall is the largest, {cost.stall_slack:g}):",
    ]
    named = [(f"{mem}.{port}", v) for mem, ports in cost.port_stall_slack.items() for port, v in ports.items()]
    width = max((len(n) for n, _ in named), default=0)
    lines += [f"  {n:<{width}} {v:>12g}" for n, v in named]
    return "\n".join(lines) + "\n"


def loop_nests_report(views: list[LayerView]) -> str:
    """Every layer's loop nest, ports and utilisations, one block per layer."""
    return "\n".join(loop_nest_text(v) + "\n" + ports_text(v) for v in views)


# ----------------------------------------------------------------------------------------------------------
# data of the charts (plain lists, drawn by cpmap.plot)
# ----------------------------------------------------------------------------------------------------------


def energy_parts(cost: CostResult) -> dict[str, float]:
    """Energy by component: the MAC array, then every (operand, memory) of the breakdown, in pJ."""
    parts = {"MAC": cost.mac_energy}
    for op, mems in cost.energy_breakdown.items():
        for mem, e in mems.items():
            parts[f"{op} @ {mem}"] = e
    return parts


def latency_parts(cost: CostResult) -> dict[str, float]:
    """ZigZag's latency sections in cycles; they add up to the latency."""
    return dict(
        zip(
            LATENCY_PARTS,
            (
                cost.ideal_cycle,
                cost.ideal_temporal_cycle - cost.ideal_cycle,
                cost.latency_total0 - cost.ideal_temporal_cycle,
                cost.latency_total1 - cost.latency_total0,
                cost.latency - cost.latency_total1 - cost.systolic_drain,
                cost.systolic_drain,
            ),
        )
    )


def short_name(layer: Layer) -> str:
    """A compact label for charts: ONNX paths lose their leading slash and trailing operator type."""
    parts = [p for p in layer.name.split("/") if p]
    if len(parts) > 1 and parts[-1] == layer.operator_type:
        parts = parts[:-1]
    if len(parts) > 1 and parts[1].startswith(parts[0]):
        parts = parts[1:]
    return "/".join(parts) or layer.name


def hierarchy_data(accelerator: Accelerator, links: dict[str, str] | None = None) -> dict:
    """The accelerator as plain data for :func:`cpmap.plot.memory_hierarchy_figure`."""
    by_mop: dict[str, list[str]] = {}
    for op, mop in (links or {}).items():
        by_mop.setdefault(mop, []).append(op)
    memories = []
    for mem in accelerator.memories:
        memories.append(
            {
                "name": mem.name,
                "size_bits": mem.size,
                "operands": list(mem.operands),
                "serves": [f"{mop} ({'/'.join(by_mop[mop])})" if mop in by_mop else mop for mop in mem.operands],
                "r_cost": mem.instance.r_cost,
                "w_cost": mem.instance.w_cost,
                "served_dims": list(mem.served_dimensions),
                "ports": len(mem.ports),
                "chain_index": {mop: accelerator.chain(mop).index(mem) for mop in mem.operands},
            }
        )
    arr = accelerator.array
    return {
        "name": accelerator.name,
        "links": by_mop,
        "memories": memories,
        "array": {"dims": dict(arr.size_of), "units": arr.total_units, "unit_energy": arr.unit_energy},
    }


def write_report(views: list[LayerView], run: RunResult, accelerator: Accelerator, outdir: Path) -> list[Path]:
    """``outdir``: loop_nests.txt (every layer's loop nest, ports and utilisations), energy_breakdown and
    latency_breakdown (per layer and for the network) and memory_hierarchy (of ``accelerator``), each figure as
    PNG and SVG. Returns the paths written."""
    from . import plot

    outdir.mkdir(parents=True, exist_ok=True)
    written = []
    txt = outdir / "loop_nests.txt"
    write_text_atomic(txt, loop_nests_report(views))
    written.append(txt)
    names = [short_name(v.layer) for v in views]
    title = f"{run.workload} on {run.accelerator} ({run.engine}, {run.objective})"
    fig = plot.stacked_breakdown_figure(f"Energy: {title}", names, [energy_parts(v.cost) for v in views], "energy (pJ)")
    written += plot.save_figure(fig, outdir / "energy_breakdown")
    fig = plot.stacked_breakdown_figure(f"Latency: {title}", names, [latency_parts(v.cost) for v in views], "latency (cycles)")
    written += plot.save_figure(fig, outdir / "latency_breakdown")
    links = dict(views[0].mapping.operand_links) if views else None
    fig = plot.memory_hierarchy_figure(hierarchy_data(accelerator, links))
    written += plot.save_figure(fig, outdir / "memory_hierarchy")
    return written
