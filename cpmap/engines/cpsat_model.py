"""The tile-chain formulation (:mod:`cpmap.formulation`) as a CP-SAT model: variables and constraints only.

Per chain element, one integer exponent per (dim, prime) coordinate; an element with a table is tied by one
table constraint to the columns the model reads (scaled energy, capacity bits, latency columns). The chain:
known relations as direct constraints, every other pair of elements ordered by one boolean. Capacity is one
linear constraint per memory. With ``latency`` the model also states the uniform latency model exactly
(design note ``latency_exact.md`` section 2): stationary cuts (steps above), the top runs of each level
(``topr``/``topir``), the double-buffer flags with shared-memory priority, windows, per-port stalls with the
window union by inclusion-exclusion, one-shot records with an exact ``reduce_ordered``, on- and off-loading.
The latency expression is scaled by ``Lambda`` (:attr:`LatencyStructure.scale`) so that it is an integer.

Nothing here solves: :mod:`cpmap.engines.cpsat` runs the phases (objectives, lexicographic tie-breaks,
Pareto walk) and certifies every solution against the cost model.
"""

from __future__ import annotations

import itertools

from ortools.sat.python import cp_model

from ..errors import EngineRefusal
from ..formulation import BLOCK, CUT, IRRELEVANT, MAX_UNION_LINKS, PARTIAL, PREFIX, RELEVANT, LatencyStructure, RunRef, TemporalFormulation
from ..mapping import TemporalMapping

#: CP-SAT works on 64-bit integers: refuse models whose quantities could come near that
INT_LIMIT = 2**62


class ModelTooLarge(EngineRefusal):
    """A quantity of the model would overflow CP-SAT's 64-bit integers."""


class ChainModel:
    """The CP-SAT model of a tile-chain formulation (energy always; latency on request).

    ``max_level`` makes it a *relaxation* of the energy model: only the cuts of levels up to it (and the
    prefixes) are decided, with their chain and the memories they fill alone; every other cut counts at its
    table's minimum. Its optimum is a lower bound of the energy (measured within 2 % of the optimum with the
    innermost levels alone on ResNet-18 layers of tpu_like), found in a fraction of the full model's time.
    """

    def __init__(self, form: TemporalFormulation, latency: bool = False, max_level: int | None = None):
        if latency and max_level is not None:
            raise ValueError("the relaxation states energy only")
        if latency and form.latency is None:
            raise ValueError("the formulation was built without its latency part")
        self.form = form
        self.with_latency = latency
        #: a term of the model is a relaxation (a lower bound): solutions must be re-costed and cut
        self.relaxed = False
        self.m = cp_model.CpModel()
        self._columns: dict[tuple[int, str], cp_model.IntVar] = {}
        self._extra_columns: dict[tuple[int, str], tuple[int, ...]] = {}
        self._n_vars = 0
        n_c = len(form.coords)
        #: the elements in the model: energy alone needs only the cuts and prefixes
        self.active = [
            e
            for e, el in enumerate(form.elements)
            if latency or (el.kind in (CUT, PREFIX, BLOCK) and (max_level is None or (el.kind != BLOCK and el.level <= max_level)))
        ]
        self.x: list[list | None] = [None] * len(form.elements)
        for ei in self.active:
            el = form.elements[ei]
            self.x[ei] = [self.m.new_int_var(0, form.max_exp[i] if (not el.free or el.free[i]) else 0, f"e{ei}_{i}") for i in range(n_c)]
        self._chain()
        self._blocks()
        self._capacity()
        active = set(self.active)
        # cuts left out of a relaxation count at their least energy
        floor = sum(min(el.columns["energy"]) for e, el in enumerate(form.elements) if "energy" in el.columns and e not in active)
        self.energy = sum(self.col(e, "energy") for e in self.active if "energy" in form.elements[e].columns) + form.constant_energy + floor
        most = form.constant_energy + sum(max(el.columns["energy"]) for el in form.elements if "energy" in el.columns)
        if most >= INT_LIMIT:
            raise ModelTooLarge(f"layer {form.ctx.layer.name}: energies up to {most / form.cost_scale:.3g} pJ at the exact cost scale exceed CP-SAT's 64-bit integers")
        self.latency = self._latency() if latency else None
        self._post_tables()
        # branch on the tiles bottom-up, largest first: the small inner memories decide most of the cost and
        # their largest feasible tiles are usually best (measured 1.0-1.8x faster energy proofs on ResNet-18)
        self.m.add_decision_strategy(self.decision_variables(), cp_model.CHOOSE_FIRST, cp_model.SELECT_MAX_VALUE)

    # ---- columns ---------------------------------------------------------------------------------------

    def col(self, e: int, name: str) -> cp_model.IntVar | int:
        """The value of column ``name`` of element ``e`` (a constant when it is the same on every row)."""
        values = self._extra_columns.get((e, name)) or self.form.elements[e].columns[name]
        lo, hi = min(values), max(values)
        if lo == hi:
            return lo
        if abs(lo) >= INT_LIMIT or abs(hi) >= INT_LIMIT:
            raise ModelTooLarge(f"layer {self.form.ctx.layer.name}: column {name} reaches {hi:.3g}, beyond CP-SAT's 64-bit integers")
        key = (e, name)
        if key not in self._columns:
            self._columns[key] = self.m.new_int_var(lo, hi, f"{name}{e}")
        return self._columns[key]

    def add_column(self, e: int, name: str, values: tuple[int, ...]) -> cp_model.IntVar | int:
        """A column given by the caller (one value per row of ``e``)."""
        self._extra_columns[(e, name)] = tuple(values)
        return self.col(e, name)

    def _post_tables(self) -> None:
        form = self.form
        for e in self.active:
            el = form.elements[e]
            if el.rows is None:
                continue
            names = [n for (ee, n) in self._columns if ee == e]
            cols = [self._extra_columns.get((e, n)) or el.columns[n] for n in names]
            rows = sorted({(*form.tiles[r], *(c[i] for c in cols)) for i, r in enumerate(el.rows)})
            self.m.add_allowed_assignments([*self.x[e], *(self._columns[(e, n)] for n in names)], rows)

    # ---- chain -----------------------------------------------------------------------------------------

    def _le(self, a: list, b: list, lit=None) -> None:
        for va, vb in zip(a, b):
            c = self.m.add(va <= vb)
            if lit is not None:
                c.only_enforce_if(lit)

    def _chain(self) -> None:
        form = self.form
        active = set(self.active)
        known = {(a, b) for a, b in form.known_order() if a in active and b in active}
        for a, b in known:
            self._le(self.x[a], self.x[b])
        for ia, a in enumerate(self.active):
            for b in self.active[ia + 1 :]:
                if (a, b) in known or (b, a) in known:
                    continue
                lit = self.m.new_bool_var(f"le{a}_{b}")
                self._le(self.x[a], self.x[b], lit)
                self._le(self.x[b], self.x[a], lit.Not())

    def _blocks(self) -> None:
        """A partial user ordering: the innermost loops form the entries' blocks, each of its own dim, non-empty,
        of the entry's size when it has one."""
        if any(self.x[b.element] is None for b in self.form.blocks):
            return  # a relaxation leaves the ordering out
        prev = [0] * len(self.form.coords)
        for b in self.form.blocks:
            cur = self.x[b.element]
            for i in range(len(cur)):
                if i not in b.coords:
                    self.m.add(cur[i] == prev[i])
                elif b.exponents is not None:
                    self.m.add(cur[i] - prev[i] == b.exponents[i])
            self.m.add(sum(cur[i] - prev[i] for i in b.coords) >= 1)
            prev = cur

    # ---- capacity --------------------------------------------------------------------------------------

    def _capacity(self) -> None:
        m, form = self.m, self.form
        active = set(self.active)
        for g in form.capacity:
            if any(mb.element is not None and mb.element not in active for mb in g.members):
                continue  # a relaxation drops the memories shared with cuts it does not decide
            if any(mb.flag_element is not None and mb.flag_element not in active for mb in g.members):
                continue
            terms = []
            const = 0
            for mb in g.members:
                flag = self.col(mb.flag_element, "ir_left") if mb.flag_element is not None else int(mb.flag_const)
                if mb.element is None:
                    part, fin = mb.bits_partial, mb.bits_final
                else:
                    part = self.add_column(mb.element, f"cap_part{g.memory}", mb.bits_partial)
                    fin = self.add_column(mb.element, f"cap_fin{g.memory}", mb.bits_final)
                if isinstance(flag, int):
                    chosen = part if flag else fin
                    if isinstance(chosen, int):
                        const += chosen
                    else:
                        terms.append(chosen)
                    continue
                hi = max(_hi(part), _hi(fin))
                bits = m.new_int_var(0, hi, "")
                m.add(bits == part).only_enforce_if(flag)
                m.add(bits == fin).only_enforce_if(flag.Not())
                terms.append(bits)
            most = const + sum(_hi(t) for t in terms)
            if most <= g.size:
                continue  # the memory holds the largest tiles of all its members: no constraint
            if g.size >= INT_LIMIT or most >= INT_LIMIT:
                raise ModelTooLarge(f"layer {form.ctx.layer.name}: capacity of {g.memory} ({g.size / g.scale:.3g} bits) beyond CP-SAT's 64-bit integers")
            m.add(sum(terms) + const <= g.size)

    # ---- latency ---------------------------------------------------------------------------------------

    def _var(self, lo: int, hi: int, name: str = "") -> cp_model.IntVar:
        if hi >= INT_LIMIT or lo <= -INT_LIMIT:
            raise ModelTooLarge(f"layer {self.form.ctx.layer.name}: a latency term reaches {hi:.3g}, beyond CP-SAT's 64-bit integers")
        return self.m.new_int_var(lo, hi, name)

    def _as_var(self, expr, lo: int, hi: int) -> cp_model.IntVar | int:
        if isinstance(expr, int):
            return expr
        v = self._var(lo, hi)
        self.m.add(v == expr)
        return v

    def _and(self, lits: list):
        """The conjunction of literals and 0/1 constants (a constant when it is decided)."""
        if any(isinstance(x, int) and not x for x in lits):
            return 0
        lits = [x for x in lits if not isinstance(x, int)]
        if not lits:
            return 1
        if len(lits) == 1:
            return lits[0]
        b = self._bool()
        self.m.add_bool_and(lits).only_enforce_if(b)
        self.m.add_bool_or([x.Not() for x in lits]).only_enforce_if(b.Not())
        return b

    def _or(self, lits: list):
        """The disjunction of literals and 0/1 constants (a constant when it is decided)."""
        if any(isinstance(x, int) and x for x in lits):
            return 1
        lits = [x for x in lits if not isinstance(x, int)]
        if not lits:
            return 0
        if len(lits) == 1:
            return lits[0]
        b = self._bool()
        self.m.add_bool_or(lits).only_enforce_if(b)
        self.m.add_bool_and([x.Not() for x in lits]).only_enforce_if(b.Not())
        return b

    def _bool(self, name: str = "") -> cp_model.IntVar:
        return self.m.new_bool_var(name)

    def _max(self, exprs: list, lo: int, hi: int) -> cp_model.IntVar:
        v = self._var(lo, hi)
        self.m.add_max_equality(v, exprs)
        return v

    def _min(self, exprs: list, lo: int, hi: int) -> cp_model.IntVar:
        v = self._var(lo, hi)
        self.m.add_min_equality(v, exprs)
        return v

    def _select(self, lit, a, b, lo: int, hi: int) -> cp_model.IntVar:
        """``lit ? a : b``."""
        v = self._var(lo, hi)
        self.m.add(v == a).only_enforce_if(lit)
        self.m.add(v == b).only_enforce_if(lit.Not())
        return v

    def _reify_le(self, expr, bound: int, name: str = ""):
        """A boolean equal to ``expr <= bound`` (a constant 0/1 when ``expr`` is a constant)."""
        if isinstance(expr, int):
            return int(expr <= bound)
        b = self._bool(name)
        self.m.add(expr <= bound).only_enforce_if(b)
        self.m.add(expr >= bound + 1).only_enforce_if(b.Not())
        return b

    def _tile(self, e: int | None, top: bool = False) -> list:
        if e is None:
            return list(self.form.max_exp) if top else [0] * len(self.form.coords)
        return self.x[e]

    def _latency(self):
        """The Lambda-scaled latency (spec 6): its terms stated one concern at a time."""
        lat: LatencyStructure = self.form.latency  # type: ignore[assignment]
        self._stationarity()
        topr, topir = self._runs()
        db_flag = self._double_buffering(topr)
        info = self._windows(topir, db_flag)
        ss_total, ss_total_hi, ends_real = self._port_stalls(info)
        self.stall = ss_total
        records = self._records(info, ends_real, ss_total_hi)
        onload, offload = self._loading(records)
        self.onload, self.offload = onload, offload
        lam = lat.scale
        return lam * (lat.total * lat.cycles_per_op + lat.drain) + lam * ss_total + onload + offload

    def _stationarity(self) -> None:
        """The loop directly above each cut (and after each irrelevant prefix) is not irrelevant to the operand."""
        form = self.form
        m = self.m
        n_c = len(form.coords)
        for base, a in form.above.items():
            el = form.elements[base]
            cls = form.classes[el.operand]
            diff = [self.x[a][i] - self.x[base][i] for i in range(n_c)]
            for i in range(n_c):
                if cls[i] == IRRELEVANT:
                    m.add(self.x[a][i] == self.x[base][i])
            m.add(sum(diff) == 1 - self.col(base, "one_shot"))


    def _runs(self) -> tuple[dict, dict]:
        """``topr`` and ``topir`` of every level whose top run matters (spec 3.4)."""
        form = self.form
        lat: LatencyStructure = form.latency  # type: ignore[assignment]
        topr: dict[tuple[int, int], object] = {}
        topir: dict[tuple[int, int], object] = {}
        for run in lat.runs:
            tr, ti = self._run(run)
            topr[(run.operand, run.level)] = tr
            topir[(run.operand, run.level)] = ti

        return topr, topir

    def _double_buffering(self, topr: dict) -> dict:
        """ZigZag's double-buffer flags (spec 6.2): effective bits, group sums, priority in operand order."""
        form = self.form
        lat: LatencyStructure = form.latency  # type: ignore[assignment]
        m = self.m
        db_flag: dict[tuple[int, int], object] = {}
        for g in lat.db_groups:
            effs = []
            for mb in g.members:
                bits = self.add_column(mb.cut, f"db_bits{mb.level}", mb.db_bits) if mb.cut is not None else mb.db_bits
                if mb.run is None:
                    effs.append(bits)
                    continue
                tr = topr[(mb.operand, mb.level)]
                e = self._var(0, _hi(bits))
                m.add_division_equality(e, bits, tr)
                effs.append(e)
            hi_sum = sum(_hi(e) for e in effs)
            acc = self._var(0, hi_sum)
            m.add(acc == sum(effs))
            for mb, e in zip(g.members, effs):
                t1 = self._reify_le(2 * acc, g.size)
                t2 = self._reify_le(e + acc, g.size)
                flag = self._bool()
                m.add_bool_or([t1, t2]).only_enforce_if(flag)
                m.add_bool_and([t1.Not(), t2.Not()]).only_enforce_if(flag.Not())
                db_flag[(mb.operand, mb.level)] = flag
                grow = self._bool()
                m.add_bool_and([t1.Not(), t2]).only_enforce_if(grow)
                m.add_bool_or([t1, t2.Not()]).only_enforce_if(grow.Not())
                nxt = self._var(0, 2 * hi_sum)
                m.add(nxt == acc + e).only_enforce_if(grow)
                m.add(nxt == acc).only_enforce_if(grow.Not())
                acc = nxt

        return db_flag

    def _windows(self, topir: dict, db_flag: dict) -> list[dict]:
        """Per link: period, period count, and the updating window (the whole period when double-buffered or
        when the top run is not irrelevant, else ``period / topir``; spec 6.3)."""
        form = self.form
        lat: LatencyStructure = form.latency  # type: ignore[assignment]
        m = self.m
        T = lat.total
        info = []
        for li, lk in enumerate(lat.links):
            def c(name: str, lk=lk):
                return self.col(lk.element, name) if lk.element is not None else lk.const[name]

            period, nm1, one_shot = c("period"), c("nm1"), c("one_shot")
            if lk.always_full:
                full, win_n, win = 1, T, period
            else:
                ti = topir[(lk.operand, lk.index)]
                full = self._or([db_flag[(lk.operand, lk.index)], self._reify_le(ti, 1)])
                eff = 1 if isinstance(full, int) and full else (ti if isinstance(full, int) else self._select(full, 1, ti, 1, T))
                win_n = self._var(1, T)
                m.add_division_equality(win_n, T, eff)
                win = self._var(1, T)
                m.add_division_equality(win, period, eff)
            info.append({"period": period, "nm1": nm1, "one_shot": one_shot, "full": full, "win_n": win_n, "win": win, "c": c})

        return info

    def _port_stalls(self, info: list[dict]):
        """Per port, stall/slack with the window union (spec 6.4); the total and, for a relaxed union, its upper
        value (the one the surplus of one-shot transfers may use)."""
        form = self.form
        lat: LatencyStructure = form.latency  # type: ignore[assignment]
        T, cpo = lat.total, lat.cycles_per_op
        ss_ports, ss_ports_hi = [], []
        ends_real: dict[tuple[int, int], object] = {}
        for port in lat.ports:
            pos_terms, busy_terms = [], []
            present_of: dict[int, list] = {}
            for li, ei in port.ends:
                end, inf = lat.links[li].ends[ei], info[li]
                real = inf["c"](f"{end.name}_real")
                busy = inf["c"](f"{end.name}_busy")
                present = inf["c"](f"{end.name}_present") if end.conditional else 1
                ends_real[(li, ei)] = real
                present_of.setdefault(li, []).append(present)
                ss = busy - cpo * (inf["win_n"] - inf["win"])
                hi_busy = _hi(busy)
                pos = self._max([ss, 0], 0, hi_busy)
                if isinstance(present, int):
                    if present:
                        pos_terms.append(pos)
                        busy_terms.append(busy)
                    continue
                pos_terms.append(self._select(present, pos, 0, 0, hi_busy))
                busy_terms.append(self._select(present, busy, 0, 0, hi_busy))
            hi_pos = sum(_hi(t) for t in pos_terms)
            hi_busy = sum(_hi(t) for t in busy_terms)
            # the union's lower and upper value (equal unless relaxed): the upper one gives the stall's lower bound
            union_lo, union_hi = self._union(port, present_of, info, T * cpo)
            hi = max(hi_pos, hi_busy)
            ss_ports.append(self._max([sum(pos_terms), sum(busy_terms) - union_hi], -T * cpo * 16, hi))
            if union_lo is union_hi:
                ss_ports_hi.append(ss_ports[-1])
            else:
                ss_ports_hi.append(self._max([sum(pos_terms), sum(busy_terms) - union_lo], -T * cpo * 16, hi))
        hi_ss = max([0, *(_hi(v) for v in ss_ports)])
        ss_total = self._max([0, *ss_ports], 0, hi_ss)
        # the surplus of one-shot transfers grows with the stall: relaxed, it takes the stall's upper value
        # (never an underestimated stall in the surplus, design note pitfall 6)
        ss_total_hi = ss_total if ss_ports_hi == ss_ports else self._max([0, *ss_ports_hi], 0, hi_ss)

        return ss_total, ss_total_hi, ends_real

    def _records(self, info: list[dict], ends_real: dict, ss_total_hi):
        """One-shot records with an exact ``reduce_ordered`` and the periodic ones (spec 6.5), scaled by Lambda."""
        form = self.form
        lat: LatencyStructure = form.latency  # type: ignore[assignment]
        m = self.m
        T, cpo = lat.total, lat.cycles_per_op
        hi_ss = _hi(ss_total_hi)
        lam = lat.scale
        t_comp = T * cpo + ss_total_hi
        records: dict[tuple[int, int], object] = {}
        for port in lat.ports:
            entries = [(li, ei) for li, ei in port.ends if lat.links[li].ends[ei].record]
            if not port.one_shot_possible:
                for key in entries:
                    records[key] = self._as_var(lam * ends_real[key], 0, lam * _hi(ends_real[key]))
                continue
            b_avg = sum(info[li]["c"](f"{lat.links[li].ends[ei].name}_bwavg") for li, ei in entries)
            avail = self._max([port.bw_max - b_avg, 0], 0, port.bw_max)
            prod = self._var(0, port.bw_max * (T * cpo + hi_ss))
            m.add_multiplication_equality(prod, [avail, t_comp])
            surplus_hi = _hi(prod) * (lam // port.bw_max)
            surplus = self._var(0, surplus_hi)
            m.add(surplus == prod * (lam // port.bw_max))
            gaps, shots = [], []
            for li, ei in entries:
                o = lat.links[li].operand
                lvl0 = lat.level0[o]
                minimum = self.col(lvl0, f"min{port.index}") if lvl0 is not None else lat.minima_const[(o, port.index)]
                real = ends_real[(li, ei)]
                gaps.append(self._max([real - minimum, 0], 0, _hi(real)))
                shots.append(info[li]["one_shot"])
            for k, (key, gap, shot) in enumerate(zip(entries, gaps, shots)):
                real = ends_real[key]
                if isinstance(shot, int) and not shot:
                    records[key] = self._as_var(lam * real, 0, lam * _hi(real))
                    continue
                cum_terms = []
                for j, (key_d, gap_d, shot_d) in enumerate(zip(entries, gaps, shots)):
                    if j == k or (isinstance(shot_d, int) and not shot_d):
                        continue
                    real_d = ends_real[key_d]
                    # d goes first: larger real, or equal real and earlier on the port (a stable sort)
                    first = self._reify_le(real - real_d, 0 if j < k else -1)
                    before = self._and([first, shot_d])
                    if isinstance(before, int):
                        if before:
                            cum_terms.append(lam * gap_d)
                        continue
                    cum_terms.append(self._select(before, lam * gap_d, 0, 0, lam * _hi(gap_d)))
                left = self._max([surplus - sum(cum_terms), 0], 0, surplus_hi)
                red = self._min([lam * gap, left], 0, lam * _hi(gap))
                if not isinstance(shot, int):
                    red = self._select(shot, red, 0, 0, lam * _hi(gap))
                records[key] = self._as_var(lam * real - red, 0, lam * _hi(real))

        return records

    def _loading(self, records: dict):
        """On-loading (the inputs' memory-to-memory links) and off-loading (the output's), spec 6.5."""
        form = self.form
        lat: LatencyStructure = form.latency  # type: ignore[assignment]
        def rec(key):
            return 0 if key is None else records[key]

        def rec_hi(key):
            return 0 if key is None else _hi(records[key])

        # on-loading (inputs' memory-to-memory links) and off-loading (the output's), spec 6.5
        parts = {}
        for i, items in lat.onload:
            ind, sh, half = [], [], 0
            for a, b, bucket in items:
                x = self._max([rec(a), rec(b)], 0, max(rec_hi(a), rec_hi(b)))
                if bucket == "indiv":
                    ind.append(x)
                elif bucket == "shared":
                    sh.append(x)
                else:
                    half = x  # ZigZag assigns: the last half-shared link wins
            parts[i] = (sum(ind), sum(sh), half)
        hi_load = sum(rec_hi(k) for k in records) + 1
        if len(parts) == 1:
            onload = next(iter(parts.values()))[0]
        elif len(parts) >= 2:
            (ia, sa, ha), (ib, sb, hb) = [parts[i] for i in list(parts)[:2]]
            first = sa + self._max([sb + hb + ib, ha + ia], 0, hi_load)
            second = sb + self._max([sa + ha + ia, hb + ib], 0, hi_load)
            onload = self._min([first, second], 0, hi_load)
        else:
            onload = 0
        offload = sum(self._max([rec(a), rec(b)], 0, max(rec_hi(a), rec_hi(b))) for a, b in lat.offload)
        return onload, offload

    def _run(self, run: RunRef):
        """``topr`` and ``topir`` of one level from its BELOW / RUN / RUN_BELOW elements."""
        form, m = self.form, self.m
        cls = form.classes[run.operand]
        n_c = len(form.coords)
        top_level = run.cut is None
        X = self._tile(run.cut, top=top_level)
        L = self._tile(run.lower_cut)
        B, Y, Z = self.x[run.below], self.x[run.run], self.x[run.run_below]
        kappa = {c: self._bool(f"k{c}") for c in (RELEVANT, IRRELEVANT, PARTIAL)}
        m.add_exactly_one(kappa.values())
        size_x, size_l, size_y = sum(X), sum(L), sum(Y)
        empty = self._bool()
        m.add(size_x == size_l).only_enforce_if(empty)
        m.add(size_x >= size_l + 1).only_enforce_if(empty.Not())
        # BELOW: the cut minus the loop directly below it, of the run's class
        for i in range(n_c):
            m.add(B[i] <= X[i])
            m.add(X[i] - B[i] <= kappa[cls[i]]).only_enforce_if(empty.Not())
        m.add(size_x - sum(B) == 1).only_enforce_if(empty.Not())
        for i in range(n_c):
            m.add(B[i] == X[i]).only_enforce_if(empty)
        # RUN: only coordinates of the run's class between the run's start and the cut; none for pr
        for i in range(n_c):
            m.add(X[i] - Y[i] <= form.max_exp[i] * kappa[cls[i]])
            m.add(Y[i] == X[i]).only_enforce_if(kappa[PARTIAL])
        # RUN_BELOW: the loop below the run's start is of another class (or the run reaches the level's start)
        at_start = self._bool()
        m.add(size_y == size_l).only_enforce_if(at_start)
        m.add(size_y >= size_l + 1).only_enforce_if(at_start.Not())
        step = self._bool()
        m.add_bool_and([at_start.Not(), kappa[PARTIAL].Not()]).only_enforce_if(step)
        m.add_bool_or([at_start, kappa[PARTIAL]]).only_enforce_if(step.Not())
        for i in range(n_c):
            m.add(Y[i] - Z[i] <= 1 - kappa[cls[i]]).only_enforce_if(step)
            m.add(Z[i] == Y[i]).only_enforce_if(step.Not())
        m.add(size_y - sum(Z) == 1).only_enforce_if(step)
        T = form.latency.total  # type: ignore[union-attr]
        p_x = T if top_level else self.col(run.cut, "period")
        p_y = self.col(run.run, "period")
        top = self._var(1, T)
        m.add_division_equality(top, p_x, p_y)
        topr = self._select(kappa[RELEVANT], top, 1, 1, T)
        topir = self._select(kappa[IRRELEVANT], top, 1, 1, T)
        return topr, topir

    def _union(self, port, present_of: dict[int, list], info: list, whole: int):
        """Length of the union of the updating windows of the links on ``port`` (spec 6.4), times cpo.

        A present link whose window is its whole period makes the union the whole computation. Otherwise
        every present window is ``{t : t mod P < P / topir}``, the set of times whose mixed-radix digits of
        the loops in the link's top irrelevant run are 0; intersections of such sets have closed-form sizes,
        and inclusion-exclusion gives the union.
        """
        form, m = self.form, self.m
        lat = form.latency
        cpo = lat.cycles_per_op
        T = lat.total
        anchors = list(port.links)
        present = {li: self._or(present_of[li]) for li in anchors}
        if any(_is_one(info[li]["full"]) and _is_one(present[li]) for li in anchors):
            return whole, whole
        full_lits = [self._and([info[li]["full"], present[li]]) for li in anchors]
        full_lits = [x for x in full_lits if not (isinstance(x, int) and not x)]
        partial_links = [li for li in anchors if not _is_one(info[li]["full"])]
        if len(partial_links) > MAX_UNION_LINKS:
            # too many subsets for inclusion-exclusion: the union lies between the largest window and the sum
            # of the windows (capped at the whole run); the model then bounds and the engine re-costs and cuts
            self.relaxed = True
            windows = []
            for li in partial_links:
                on = present[li]
                windows.append(info[li]["win_n"] if _is_one(on) else self._select(on, info[li]["win_n"], 0, 0, T))
            lo = self._max(windows, 0, T)
            hi = self._min([sum(windows), T], 0, T)
            if full_lits:
                any_full = self._or(full_lits)
                if _is_one(any_full):
                    return whole, whole
                lo, hi = self._select(any_full, T, lo, 0, T), self._select(any_full, T, hi, 0, T)
            return cpo * lo, cpo * hi
        terms = []
        for size in range(1, len(partial_links) + 1):
            for subset in itertools.combinations(partial_links, size):
                count = info[subset[0]]["win_n"] if size == 1 else self._intersection(subset)
                on = self._and([present[li] for li in subset])
                if isinstance(on, int):
                    if not on:
                        continue
                else:
                    count = self._select(on, count, 0, 0, T)
                terms.append(count if size % 2 else -count)
        union = sum(terms) if terms else 0
        if not full_lits:
            exact = cpo * union
            return exact, exact
        any_full = self._or(full_lits)
        if _is_one(any_full):
            return whole, whole
        value = self._var(-T * 2 ** len(partial_links), T * 2 ** len(partial_links))
        m.add(value == union).only_enforce_if(any_full.Not())
        m.add(value == T).only_enforce_if(any_full)
        exact = cpo * value
        return exact, exact

    def _intersection(self, subset: tuple[int, ...]):
        """Times in the windows of every link of ``subset``: ``T / prod(R)`` where ``R`` is, per coordinate,
        the union length of the intervals (run start, cut] of the links (their top irrelevant runs)."""
        form, m = self.form, self.m
        lat = form.latency
        n_c = len(form.coords)
        spans = []
        for li in subset:
            run = lat.links[li].run
            spans.append((self.x[run.run], self._tile(run.cut, top=run.cut is None)))
        r_vec = []
        for i in range(n_c):
            hi = form.max_exp[i]
            if hi == 0:
                r_vec.append(0)
                continue
            terms = []
            for size in range(1, len(spans) + 1):
                for sub in itertools.combinations(spans, size):
                    lo = sub[0][0][i] if size == 1 else self._max([s[0][i] for s in sub], 0, hi)
                    up = sub[0][1][i] if size == 1 else self._min([s[1][i] for s in sub], 0, hi)
                    overlap = self._max([up - lo, 0], 0, hi)
                    terms.append(overlap if size % 2 else -overlap)
            r = self._var(0, hi)
            m.add(r == sum(terms))
            r_vec.append(r)
        count = self._var(1, lat.total)
        rows = [(*tile, lat.total // prod) for tile, prod in zip(form.tiles, form.products)]
        m.add_allowed_assignments([*(v if not isinstance(v, int) else self._const(v) for v in r_vec), count], rows)
        return count

    def _const(self, v: int):
        return self.m.new_constant(v)

    # ---- solutions -------------------------------------------------------------------------------------

    def add_hint(self, tm: TemporalMapping) -> bool:
        tiles = self.form.encode(tm)
        if tiles is None:
            return False
        for e in self.active:
            for v, x in zip(self.x[e], tiles[e]):
                self.m.add_hint(v, x)
        return True

    def fix(self, tiles: list[tuple[int, ...]]) -> None:
        """Pin every element to the given tiles (used to check the model on a known mapping)."""
        for e in self.active:
            for v, x in zip(self.x[e], tiles[e]):
                self.m.add(v == x)

    def forbid(self, tiles: list[tuple[int, ...]], active=None) -> None:
        """A no-good: the elements may not all take these tiles again (verify-and-cut), while ``active``."""
        lits = []
        for e in self.active:
            for v, x in zip(self.x[e], tiles[e]):
                b = self.m.new_bool_var("")
                self.m.add(v != x).only_enforce_if(b)
                self.m.add(v == x).only_enforce_if(b.Not())
                lits.append(b)
        c = self.m.add_bool_or(lits)
        if active is not None:
            c.only_enforce_if(active)

    def tiles(self, solver: cp_model.CpSolver) -> list[tuple[int, ...]]:
        return [tuple(solver.value(v) for v in xs) if xs is not None else () for xs in self.x]

    def decision_variables(self) -> list:
        """The cut and prefix exponents bottom-up (the small inner memories decide most of the cost)."""
        form = self.form
        order = sorted((e for e in self.active if form.elements[e].kind in (CUT, PREFIX)), key=lambda e: (form.elements[e].level, form.elements[e].operand))
        return [v for e in order for v in self.x[e]]

    def decode(self, solver: cp_model.CpSolver) -> TemporalMapping:
        return self.form.decode(self.tiles(solver))


def _is_one(v) -> bool:
    return isinstance(v, int) and v == 1


def _hi(v) -> int:
    """An upper bound of an integer expression's value (a constant or a variable's domain)."""
    if isinstance(v, int):
        return v
    if isinstance(v, cp_model.IntVar):
        domain = v.proto.domain
        return domain[len(domain) - 1]  # the repeated field does not index from the end
    raise TypeError(type(v))
