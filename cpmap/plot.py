"""Dependency-free SVG charts (the design card has no plotting library): grouped bars on a linear axis."""

from __future__ import annotations

COLORS = ("#1f77b4", "#ff7f0e", "#2ca02c", "#d62728", "#9467bd", "#8c564b")


def _esc(s: str) -> str:
    return s.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def grouped_bars(
    title: str,
    groups: list[str],
    series: list[tuple[str, list[float | None]]],
    y_label: str,
    reference: float | None = None,
) -> str:
    """An SVG with one group of bars per entry of ``groups`` and one bar per series (``None`` = missing).

    ``reference`` draws a horizontal line (e.g. 1.0 for "equal to the optimum")."""
    values = [v for _, vs in series for v in vs if v is not None]
    y_max = max([*values, reference or 0.0, 1e-12]) * 1.08
    y_min = min([0.0, *values])
    left, top, ph = 80, 60, 320
    group_w = max(28.0, 14.0 * len(series) + 10)
    pw = group_w * max(len(groups), 1)
    width, height = int(left + pw + 30), int(top + ph + 170)
    bar = (group_w - 8) / max(len(series), 1)

    def y_of(v: float) -> float:
        return top + ph * (y_max - v) / (y_max - y_min)

    out = [
        f'<svg xmlns="http://www.w3.org/2000/svg" width="{width}" height="{height}" viewBox="0 0 {width} {height}" '
        'font-family="Helvetica, Arial, sans-serif" font-size="11">',
        f'<rect width="{width}" height="{height}" fill="white"/>',
        f'<text x="{left}" y="20" font-size="14">{_esc(title)}</text>',
    ]
    lx = left
    for i, (name, _) in enumerate(series):
        out.append(f'<rect x="{lx}" y="30" width="11" height="11" fill="{COLORS[i % len(COLORS)]}"/>')
        out.append(f'<text x="{lx + 15}" y="40">{_esc(name)}</text>')
        lx += 15 + 7 * len(name) + 25
    for k in range(6):
        v = y_min + (y_max - y_min) * k / 5
        y = y_of(v)
        out.append(f'<line x1="{left}" y1="{y:.1f}" x2="{left + pw:.1f}" y2="{y:.1f}" stroke="#e5e5e5"/>')
        out.append(f'<text x="{left - 6}" y="{y + 4:.1f}" text-anchor="end">{v:.4g}</text>')
    out.append(f'<text transform="translate(16,{top + ph / 2}) rotate(-90)" text-anchor="middle">{_esc(y_label)}</text>')
    if reference is not None:
        y = y_of(reference)
        out.append(f'<line x1="{left}" y1="{y:.1f}" x2="{left + pw:.1f}" y2="{y:.1f}" stroke="#333" stroke-dasharray="4 3"/>')
    y0 = y_of(0.0) if y_min <= 0 <= y_max else top + ph
    for g, label in enumerate(groups):
        gx = left + g * group_w + 4
        for s, (name, vs) in enumerate(series):
            v = vs[g]
            if v is None:
                continue
            y = y_of(v)
            out.append(
                f'<rect x="{gx + s * bar:.1f}" y="{min(y, y0):.1f}" width="{bar:.1f}" height="{max(abs(y0 - y), 0.5):.1f}" '
                f'fill="{COLORS[s % len(COLORS)]}"><title>{_esc(label)} {_esc(name)}: {v:.6g}</title></rect>'
            )
        cx = gx + (group_w - 8) / 2
        out.append(f'<text transform="translate({cx:.1f},{top + ph + 10}) rotate(60)" font-size="9">{_esc(label[-32:])}</text>')
    out.append("</svg>")
    return "\n".join(out) + "\n"
