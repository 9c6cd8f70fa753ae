"""ZigZag's uniform latency model (spec cost_model.md section 6), as pure functions.

Double buffering from effective utilisations (6.2), allowed and real cycles of every data-transfer-link end
(6.3), stall/slack per port with the union of the updating windows (6.4), and the one-shot on- and
off-loading records with ``reduce_ordered`` (6.5). The per-end quantities (:func:`real_cycles`,
:func:`average_bandwidth`, :func:`loading_minimum`) are also what the exact formulation tabulates per tile.
"""

from __future__ import annotations

import math

from .context import RD_DOWN, RD_UP, WR_DOWN, WR_UP, LayerContext, OperandContext
from .movement import Movement, StationaryView, Transfer


def real_cycles(transfer: Transfer, bw_max: int) -> int:
    """Cycles one instance needs to move one period's amount through a port at full width (6.3)."""
    _, _, amount, prec = transfer
    return math.ceil(amount * prec / bw_max)


def average_bandwidth(data_low: int, stored_precision: int, period: int, boost: int) -> int:
    """ZigZag's average required bandwidth of a link end (4.3): the boost multiplies after the division,
    as ZigZag does (it matters for the truncation); pass ``boost=1`` for the lower end."""
    return int((data_low * stored_precision / period) * boost)


def loading_minimum(level0_data: int, level0_stored_precision: int, bw_max: int) -> int:
    """The floor of a one-shot transfer (6.5): the operand's level-0 tile through the port, whatever the level."""
    return math.ceil(level0_data * level0_stored_precision / bw_max)


def double_buffer_flags(ctx: LayerContext, views: list[StationaryView], mv_frac: list[Movement]) -> dict[str, list[bool]]:
    """DB(o, m) for m = -1..M-1 (index m+1) from effective utilisations, shared memories by priority (6.2)."""
    eff: dict[str, list[float]] = {}
    shared: dict[int, float] = {}
    for o, t, mv in zip(ctx.operands, views, mv_frac):
        row = []
        for m, mem in enumerate(o.chain):
            bits = mv.data[m + 1] * mv.stored_prec[m + 1]
            e = (bits // t.top_relevant[m + 1]) / mem.size
            row.append(e)
            shared[mem.index] = shared.get(mem.index, 0) + e
        eff[o.name] = row
    # the individual sums start from each member's own value, summed in group order
    flags: dict[str, list[bool]] = {}
    for o in ctx.operands:
        out = [False]
        for m, mem in enumerate(o.chain):
            e_sh = shared[mem.index]
            e = eff[o.name][m]
            if e_sh <= 0.5:
                out.append(True)
            elif e <= 1 - e_sh:
                out.append(True)
                shared[mem.index] = e_sh + e
            else:
                out.append(False)
        flags[o.name] = out
    return flags


def latency_terms(ctx: LayerContext, views: list[StationaryView], mv_frac: list[Movement], mv_int: list[Movement], total: int):
    """Stall/slack, on-loading, off-loading, the double-buffer flags and ZigZag's failure notes of one mapping."""
    db = double_buffer_flags(ctx, views, mv_frac)
    cpo = ctx.cycles_per_op
    flags = [db[o.name] for o in ctx.operands]
    real: dict[tuple[int, int, int], int] = {}
    allowed: dict[tuple[int, int, int], int] = {}

    def real_allowed(i: int, m: int, d: int) -> tuple[int, int]:
        """Real cycles (full-width port) and allowed window of one DTL end (6.3)."""
        key = (i, m, d)
        if key not in real:
            transfer = mv_int[i].dirs[m][d]
            period = transfer[0]
            low = m + 1 if d >= RD_UP else m  # index a of the DTL's lower memory (rd_up, wr_down: this one)
            window = period if flags[i][low] else int(period / views[i].top_irrelevant[low])
            allowed[key] = math.ceil(window * cpo)
            bw = ctx.operands[i].ports[m][d]
            real[key] = real_cycles(transfer, bw[1]) if bw is not None else 0
        return real[key], allowed[key]

    # ---- stall / slack per port (6.4) ----
    ss_ports = [0]
    ss_by_port: list[float] = []  # one per port of the plan, 0 for idle ports (reported, not used below)
    for port, shared, members in ctx.port_plan:
        acts = []
        for i, m, d in members:
            period, n, amount, prec = mv_int[i].dirs[m][d]
            if n == 0:
                continue
            r, a = real_allowed(i, m, d)
            acts.append((math.ceil(period * cpo), a, n, (r - a) * (n - 1), a * (n - 1)))
        if len(acts) == 1:
            ss_ports.append(acts[0][3])
        elif acts:
            pos = sum(x[3] for x in acts if x[3] > 0)
            neg = sum(x[3] for x in acts if x[3] <= 0)
            muw = sum(x[4] for x in acts)
            ss_ports.append(pos + max(0, neg + muw - window_union(acts)))
        ss_by_port.append(ss_ports[-1] if acts else 0)
    ss_total = max(ss_ports)

    # ---- on/off-loading records (6.5) ----
    failures: list[str] = []
    rec: dict[tuple[int, int, int], tuple[float, bool]] = {}
    out_mop = ctx.operands[0].memory_operand
    t_comp = math.ceil(total * cpo) + ss_total
    for port, is_shared, members in ctx.port_plan:
        g1, g2 = [], []
        for i, m, d in members:
            if ctx.operands[i].memory_operand == out_mop and d in (RD_DOWN, WR_DOWN):
                continue
            n = mv_int[i].dirs[m][d][1]
            if n == 0:
                continue
            real_allowed(i, m, d)
            (g1 if n == 1 else g2).append((i, m, d))
        if g1:
            b_avg = sum(math.ceil(_bw_avg(ctx.operands[i], views[i], mv_int[i], m, d) / cpo) for i, m, d in g2)
            surplus = max(0, ((port.bw_max - b_avg) / port.bw_max) * t_comp)
            tot = [real[x] for x in g1]
            mins = [loading_minimum(mv_int[i].data[1], mv_int[i].stored_prec[1], port.bw_max) for i, _, _ in g1]
            remaining, below = reduce_ordered(tot, mins, surplus)
            if below:
                failures.append(f"reduce_ordered: one-shot transfer below its minimum on port {port.name}")
            for x, v in zip(g1, remaining):
                rec[x] = (v, is_shared)
        for x in g2:
            rec[x] = (real[x], is_shared)
    onload = onloading(ctx, rec)
    offload = 0
    out = ctx.operands[0]
    for k in range(len(out.chain) - 1):
        offload += max(rec.get((0, k, RD_UP), (0, False))[0], rec.get((0, k + 1, WR_UP), (0, False))[0])
    return ss_total, onload, offload, db, failures, ss_by_port


def onloading(ctx: LayerContext, rec: dict[tuple[int, int, int], tuple[float, bool]]) -> float:
    """On-loading from the records of the memory-to-memory links of the inputs (6.5): per link the slower end;
    links on ports shared by I1 and I2 go first, the rest of both inputs overlaps."""
    indiv: dict[int, float] = {}
    half: dict[int, float] = {}
    shared_part: dict[int, float] = {}
    input_idx = [i for i, o in enumerate(ctx.operands) if not o.is_output]
    for i in input_idx:
        indiv[i] = half[i] = shared_part[i] = 0
        for k in range(len(ctx.operands[i].chain) - 1):
            v1, s1 = rec.get((i, k, WR_DOWN), (0, False))
            v2, s2 = rec.get((i, k + 1, RD_DOWN), (0, False))
            x = max(v1, v2)
            if not s1 and not s2:
                indiv[i] += x
            elif s1 and s2:
                shared_part[i] += x
            else:
                half[i] = x  # ZigZag assigns (the last half-shared link wins), it does not add
    if len(input_idx) == 1:
        return indiv[input_idx[0]]
    if len(input_idx) >= 2:
        a, b = input_idx[0], input_idx[1]
        return min(
            shared_part[a] + max(shared_part[b] + half[b] + indiv[b], half[a] + indiv[a]),
            shared_part[b] + max(shared_part[a] + half[a] + indiv[a], half[b] + indiv[b]),
        )
    return 0


def _bw_avg(o: OperandContext, t: StationaryView, mv: Movement, m: int, d: int) -> int:
    """Average required bandwidth of a direction, from the stored precision of the moved level (4.3)."""
    if mv.dirs[m][d][1] == 0:
        return 0
    if d in (RD_DOWN, WR_UP):
        return average_bandwidth(mv.data[m], mv.stored_prec[m], t.periods[m], o.spatial_int.boost[m])
    return average_bandwidth(mv.data[m + 1], mv.stored_prec[m + 1], t.periods[m + 1], 1)


def window_union(acts: list[tuple[int, int, int, int, int]]) -> int:
    """Length of the union of the periodic updating windows of the activities sharing a port (6.4).

    Activity ``i`` occupies slots ``t`` with ``t mod P_i < A_i``; the union is counted over one period of the
    longest activity and scaled by its period count. The periods are prefix products of one loop list, so
    they nest; the count uses that nesting instead of marking every slot (periods reach millions).
    """
    for p, a, n, _, _ in acts:
        if p == a:
            return p * n
    p_max, n_max = 0, 0
    windows: dict[int, int] = {}
    for p, a, n, _, _ in acts:
        if p > p_max:
            p_max, n_max = p, n
        windows[p] = max(windows.get(p, 0), min(a, p))
    periods = sorted(windows)
    if any(p_max % p for p in periods):  # not nested: count slot by slot
        return sum(1 for t in range(p_max) if any(t % p < a for p, a, _, _, _ in acts)) * n_max

    def covered(j: int, x: int) -> int:
        """Slots in [0, x) covered by the activities of the j+1 shortest periods."""
        if j < 0 or x <= 0:
            return 0
        p, w = periods[j], windows[periods[j]]
        q, r = divmod(x, p)
        per_period = w + covered(j - 1, p) - covered(j - 1, w)
        head = min(r, w)
        return q * per_period + head + covered(j - 1, r) - covered(j - 1, head)

    return covered(len(periods) - 1, p_max) * n_max


def reduce_ordered(costs: list[float], minima: list[float], surplus: float) -> tuple[list[float], bool]:
    """Shorten the largest transfers first, each to its own minimum, until the surplus is used (6.5).

    Returns the remaining cycles and whether some entry ends below its minimum (ZigZag asserts there).
    """
    if surplus <= 0 or not costs:
        return list(costs), False
    order = sorted(range(len(costs)), key=lambda i: costs[i], reverse=True)
    out = list(costs)
    for i in order:
        if surplus <= 0:
            break
        r = min(max(0.0, out[i] - minima[i]), surplus)
        out[i] -= r
        surplus -= r
    return out, any(v < mn for v, mn in zip(out, minima))
