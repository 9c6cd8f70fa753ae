"""Human-readable reports of a run: the per-layer table and totals."""

from __future__ import annotations

from .result import RunResult


def _num(x: float | None, digits: int = 6) -> str:
    if x is None:
        return "-"
    if isinstance(x, float) and not x.is_integer():
        return f"{x:.{digits}g}"
    return f"{int(x)}"


def _worst_port(ports: dict[str, dict[str, float]]) -> str:
    """The port with the largest stall (or the least slack): ``memory.port:+cycles``."""
    items = [(v, f"{m}.{p}") for m, pv in ports.items() for p, v in pv.items()]
    if not items:
        return "-"
    v, name = max(items, key=lambda x: x[0])
    return f"{name}:{v:+g}"


def _space(space: dict | None) -> str:
    """``solved/size`` (``all`` marks the whole spatial space; pruned and equal candidates are not solved)."""
    if not space:
        return "-"
    return f"{space['solved']}/{space['size']}" + (" all" if space["kind"] == "all" else "")


def format_table(run: RunResult) -> str:
    """Layer, status, objective, bound, gap, energy (pJ), latency (cycles), MAC utilisation (ideal cycles over
    the latency), the stall/slack of the worst port, the spatial space the certificate covers (``solved/size``
    candidates, ``all`` when it is the whole space), seconds; then the totals."""
    head = ("layer", "status", "objective", "bound", "gap", "energy_pJ", "latency_cc", "util", "worst_port", "spatial", "seconds")
    rows = []
    ideal = 0
    for r in run.layers:
        util = f"{r.cost.mac_utilization['stalls_onloading_offloading']:.1%}" if r.cost else "-"
        ideal += r.cost.ideal_cycle if r.cost else 0
        rows.append(
            (
                r.name,
                r.status,
                _num(r.objective_value, 10),
                _num(r.bound, 10),
                "-" if r.gap is None else f"{r.gap:.2%}",
                _num(r.energy, 10),
                _num(r.latency),
                util,
                _worst_port(r.cost.port_stall_slack) if r.cost else "-",
                _space(r.spatial_space),
                f"{r.solve_seconds:.2f}",
            )
        )
    total_util = f"{ideal / run.total_latency:.1%}" if run.total_latency else "-"
    rows.append(("TOTAL", "", "", "", "", _num(run.total_energy, 12), _num(run.total_latency), total_util, "", "", f"{run.total_seconds:.2f}"))
    widths = [max(len(str(x[i])) for x in [head, *rows]) for i in range(len(head))]
    lines = ["  ".join(str(v).ljust(w) if i in (0, 1, 8) else str(v).rjust(w) for i, (v, w) in enumerate(zip(row, widths))) for row in [head, *rows]]
    lines.insert(1, "-" * len(lines[0]))
    lines.insert(len(lines) - 1, "-" * len(lines[0]))
    return "\n".join(lines)
