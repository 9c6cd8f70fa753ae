"""Human-readable reports of a run: the per-layer table and totals."""

from __future__ import annotations

from .result import RunResult


def _num(x: float | None, digits: int = 6) -> str:
    if x is None:
        return "-"
    if isinstance(x, float) and not x.is_integer():
        return f"{x:.{digits}g}"
    return f"{int(x)}"


def format_table(run: RunResult) -> str:
    """Layer, status, objective, bound, gap, energy (pJ), latency (cycles), seconds; then the totals."""
    head = ("layer", "status", "objective", "bound", "gap", "energy_pJ", "latency_cc", "seconds")
    rows = []
    for r in run.layers:
        rows.append(
            (
                r.name,
                r.status,
                _num(r.objective_value, 10),
                _num(r.bound, 10),
                "-" if r.gap is None else f"{r.gap:.2%}",
                _num(r.energy, 10),
                _num(r.latency),
                f"{r.solve_seconds:.2f}",
            )
        )
    rows.append(("TOTAL", "", "", "", "", _num(run.total_energy, 12), _num(run.total_latency), f"{run.total_seconds:.2f}"))
    widths = [max(len(str(x[i])) for x in [head, *rows]) for i in range(len(head))]
    lines = ["  ".join(str(v).ljust(w) if i < 2 else str(v).rjust(w) for i, (v, w) in enumerate(zip(row, widths))) for row in [head, *rows]]
    lines.insert(1, "-" * len(lines[0]))
    lines.insert(len(lines) - 1, "-" * len(lines[0]))
    return "\n".join(lines)
