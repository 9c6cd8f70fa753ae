"""The exact engine: the temporal formulation (:mod:`cpmap.formulation`) as a CP-SAT model.

Encoding (spec 9.3): slot-assignment booleans ``x[k][j]`` (factor j in slot k), one-hot cut positions
per operand level, prefix products of every dim over the slots (``AddMultiplicationEquality`` chains,
domains = divisors), suffix products of all factors (period counts), the stationarity merge-down as
prefix-AND chains of irrelevant slots, partial-sum flags as suffix-OR chains, tiles read at the
(stationary or raw) cut with ``AddElement``, tile element counts by table constraints built from the cost
model's own tile function, word ceilings and the final truncation by ``AddDivisionEquality``. Every
quantity is an integer and every per-word cost an exact rational, so the objective is the cost model's
energy scaled by a constant; the engine decodes each solution, re-evaluates it with the cost model and
fails loudly if the two differ.

Energy is encoded exactly. Latency and EDP are not (yet): for those objectives the engine minimises
energy, then reports the mapping with status ``feasible`` and the proven lower bound ``T_tot`` cycles of
spec 9.4 (latency) or ``E* x T_tot`` (EDP), never ``optimal``.
"""

from __future__ import annotations

import math
import time
from fractions import Fraction

from ortools.sat.python import cp_model

from ..cost.model import LayerContext, evaluate_temporal
from ..errors import CpmapError
from ..factors import divisors
from ..formulation import TemporalFormulation, formulate
from ..mapping import TemporalMapping
from .base import EngineOptions, EngineResult, objective_value
from .capacity import capacity_violations
from .loma import loma_temporal

REL_TOL = 1e-9


class ExactnessError(CpmapError):
    """The solver's objective differs from the cost model's value of the returned mapping (a bug)."""


def _lcm(values) -> int:
    out = 1
    for v in values:
        out = out * v // math.gcd(out, v)
    return out


class _Model:
    """The CP-SAT model of one formulation, with handles to decode a solution."""

    def __init__(self, form: TemporalFormulation):
        self.form = form
        m = self.m = cp_model.CpModel()
        K = self.K = form.slots
        F = form.factors
        T = form.total_cycles
        self.x = [[m.new_bool_var(f"x{k}_{j}") for j in range(K)] for k in range(K)]
        for k in range(K):
            m.add_exactly_one(self.x[k])
        for j in range(K):
            m.add_exactly_one(self.x[k][j] for k in range(K))
        self.pos = [m.new_int_var(0, K - 1, f"pos{j}") for j in range(K)]
        for j in range(K):
            m.add(self.pos[j] == sum(k * self.x[k][j] for k in range(K)))
        # identical factors are interchangeable: keep them in index order
        for j in range(K):
            for j2 in range(j + 1, K):
                if F[j] == F[j2]:
                    m.add(self.pos[j] < self.pos[j2])
                    break
        # prefix products per dim, suffix products of everything
        self.pv: dict[str, list] = {}
        for d, size in form.temporal_sizes.items():
            js = [j for j in range(K) if F[j].dim == d]
            dom = cp_model.Domain.FromValues(divisors(size))
            chain = [m.new_constant(1)]
            for k in range(K):
                primes = sorted({F[j].prime for j in js})
                f = m.new_int_var_from_domain(cp_model.Domain.FromValues([1, *primes]), f"f{d}_{k}")
                m.add(f == 1 + sum((F[j].prime - 1) * self.x[k][j] for j in js))
                v = m.new_int_var_from_domain(dom, f"pv{d}_{k + 1}")
                m.add_multiplication_equality(v, [chain[-1], f])
                chain.append(v)
            self.pv[d] = chain
        tdom = cp_model.Domain.FromValues(divisors(T))
        self.Q = [None] * (K + 1)
        self.Q[K] = m.new_constant(1)
        primes_all = sorted({f.prime for f in F})
        for k in range(K - 1, -1, -1):
            f = m.new_int_var_from_domain(cp_model.Domain.FromValues(primes_all), f"F{k}")
            m.add(f == sum(F[j].prime * self.x[k][j] for j in range(K)))
            q = m.new_int_var_from_domain(tdom, f"Q{k}")
            m.add_multiplication_equality(q, [self.Q[k + 1], f])
            self.Q[k] = q
        self.cut: list[list] = []
        self.cut_onehot: list[list[list]] = []
        self.stat_cut: list[list] = []
        self.stat_prefix: list = []
        self.ir_above: list[list] = []  # per operand: a_k = some ir factor in slot >= k, k = 0..K
        for oi, op in enumerate(form.operands):
            self._operand(oi, op)
        self.psum = [self._psum_flags(oi, op) if op.is_output else None for oi, op in enumerate(form.operands)]
        self.tiles = [self._tiles(oi, op) for oi, op in enumerate(form.operands)]
        self.D = [[t[0] for t in tiles] for tiles in self.tiles]
        self._capacity()
        self._objective()

    # -- structure -------------------------------------------------------------------------------------

    def _operand(self, oi: int, op) -> None:
        m, K = self.m, self.K
        ir = [sum(self.x[k][j] for j in op.ir_factors) for k in range(K)]
        cuts, onehots, stats = [], [], []
        for lv in range(op.levels - 1):
            y = [m.new_bool_var(f"y{oi}_{lv}_{k}") for k in range(K + 1)]
            m.add_exactly_one(y)
            c = m.new_int_var(0, K, f"c{oi}_{lv}")
            m.add(c == sum(k * y[k] for k in range(K + 1)))
            if cuts:
                m.add(cuts[-1] <= c)
            # Only stationary cuts: a cut followed by an irrelevant slot gives the same mapping as the cut
            # moved up over that run (tiles unchanged, precision and double buffering no larger), so
            # the cost model's merge-down is the identity here and one tile per level serves both the
            # data movement and the capacity check.
            for k in range(K):
                m.add(ir[k] == 0).only_enforce_if(y[k])
            cs = c
            cuts.append(c)
            onehots.append(y)
            stats.append(cs)
        cuts.append(m.new_constant(K))
        stats.append(m.new_constant(K))
        self.cut.append(cuts)
        self.cut_onehot.append(onehots)
        self.stat_cut.append(stats)
        # MAC-level stationarity: the irrelevant prefix of the whole order
        hs = []
        h_prev = None
        for k in range(K):
            h = m.new_bool_var(f"h{oi}_{k}")
            m.add(ir[k] >= h)
            if h_prev is not None:
                m.add(h <= h_prev)
                m.add(h >= h_prev + ir[k] - 1)
            else:
                m.add(h >= ir[k])
            hs.append(h)
            h_prev = h
        plen = m.new_int_var(0, K, f"stat{oi}")
        m.add(plen == sum(hs))
        self.stat_prefix.append(plen)
        a = [None] * (K + 1)
        a[K] = m.new_constant(0)
        for k in range(K - 1, -1, -1):
            v = m.new_bool_var(f"a{oi}_{k}")
            m.add_max_equality(v, [a[k + 1], ir[k]])
            a[k] = v
        self.ir_above.append(a)

    def _psum_flags(self, oi: int, op) -> list:
        """psum(m), m = 0..M: an O-ir slot at or above the stationary cut of level m-1, or spatially above."""
        m = self.m
        flags = []
        for lv in range(op.levels + 1):
            if lv == op.levels:
                flags.append(0)
            elif op.psum_spatial_ir[lv]:
                flags.append(1)
            else:
                at = self.m.new_constant(0) if lv == 0 else self.stat_cut[oi][lv - 1]
                v = m.new_bool_var(f"psum{oi}_{lv}")
                m.add_element(at, self.ir_above[oi], v)
                flags.append(v)
        return flags

    def _tiles(self, oi: int, op) -> list:
        """Per level below the top: (rounded D, exact elements x scale, scale) at the level's cut, from one
        table over the temporal tile extents."""
        out = []
        m = self.m
        for lv in range(op.levels - 1):
            table = op.tables[lv]
            scale = _lcm(v.denominator for v in table.exact)
            exact = [int(v * scale) for v in table.exact]
            if not table.dims:
                out.append((m.new_constant(table.rounded[0]), m.new_constant(exact[0]), scale))
                continue
            ext = []
            for d in table.dims:
                dom = cp_model.Domain.FromValues(divisors(self.form.temporal_sizes[d]))
                t = m.new_int_var_from_domain(dom, f"t{oi}_{lv}_{d}")
                m.add_element(self.cut[oi][lv], self.pv[d], t)
                ext.append(t)
            d_var = m.new_int_var(min(table.rounded), max(table.rounded), f"D{oi}_{lv}")
            e_var = m.new_int_var(min(exact), max(exact), f"E{oi}_{lv}")
            rows = sorted({(*row, dv, ev) for row, dv, ev in zip(table.extents, table.rounded, exact)})
            m.add_allowed_assignments([*ext, d_var, e_var], rows)
            out.append((d_var, e_var, scale))
        return out

    def _capacity(self) -> None:
        m, form = self.m, self.form
        for group in form.capacity:
            parts = []  # (scaled elements var/const, scale, precision partial, precision final, partial flag)
            for oi, lv in group.members:
                op = form.operands[oi]
                if lv == op.levels - 1:
                    full = op.full_exact[lv]
                    val, scale = m.new_constant(full.numerator), full.denominator
                else:
                    _, val, scale = self.tiles[oi][lv]
                part, fin = op.alloc_precision
                if not op.is_output:
                    flag = 1
                elif op.alloc_spatial_ir[lv]:
                    flag = 1
                else:
                    at = m.new_constant(0) if lv == 0 else self.cut[oi][lv - 1]
                    flag = m.new_bool_var(f"ap{oi}_{lv}")
                    m.add_element(at, self.ir_above[oi], flag)
                dbl = 0
                if group.double_buffered and lv < op.levels - 1:
                    full = op.full_exact[lv]
                    dbl = m.new_bool_var(f"dbl{oi}_{lv}")
                    # doubled unless the tile is already everything (ZigZag's allocator rule, spec 8.2)
                    m.add(val * full.denominator < full.numerator * scale).only_enforce_if(dbl)
                    m.add(val * full.denominator >= full.numerator * scale).only_enforce_if(dbl.Not())
                parts.append((val, scale, part, fin, flag, dbl))
            L = _lcm(p[1] for p in parts)
            terms = []
            for val, scale, part, fin, flag, dbl in parts:
                ub = self._ub(val) * (L // scale) * max(part, fin) * 2
                bits = m.new_int_var(0, ub, "")
                if isinstance(flag, int):
                    m.add(bits == val * (L // scale) * (part if flag else fin))
                else:
                    m.add(bits == val * (L // scale) * part).only_enforce_if(flag)
                    m.add(bits == val * (L // scale) * fin).only_enforce_if(flag.Not())
                if isinstance(dbl, int):
                    terms.append(bits)
                else:
                    b2 = m.new_int_var(0, 2 * ub, "")
                    m.add(b2 == 2 * bits).only_enforce_if(dbl)
                    m.add(b2 == bits).only_enforce_if(dbl.Not())
                    terms.append(b2)
            m.add(sum(terms) <= group.size * L)

    @staticmethod
    def _ub(v) -> int:
        if hasattr(v, "proto"):
            dom = list(v.proto.domain)  # the proto container does not support negative indices
            return dom[-1]
        return int(v)

    def _periods(self, oi: int, lv: int, side: str):
        """Number of periods: T_tot / C at the relevant (stationary) cut."""
        op = self.form.operands[oi]
        if side == "own":
            at = self.stat_cut[oi][lv]
        elif lv > 0:
            at = self.stat_cut[oi][lv - 1]
        elif op.is_output:
            return self.m.new_constant(self.form.total_cycles)
        else:
            at = self.stat_prefix[oi]
        n = self.m.new_int_var_from_domain(cp_model.Domain.FromValues(divisors(self.form.total_cycles)), "")
        self.m.add_element(at, self.Q, n)
        return n

    def _objective(self) -> None:
        m, form = self.m, self.form
        self.cost_scale = _lcm(t.cost.denominator for t in form.terms)
        obj = []
        self.words = []
        T = form.total_cycles
        for t in form.terms:
            if t.side == "below":
                amount = m.new_constant(1) if t.level == 0 else self.D[t.operand][t.level - 1]
            else:
                amount = self.D[t.operand][t.level]
            n = self._periods(t.operand, t.level, t.side)
            a_ub = self._ub(amount) * t.boost
            flag = None if t.psum is None else self.psum[t.operand][t.psum]
            if flag is None:
                precs = {t.precision[0]}
            elif isinstance(flag, int):
                precs = {t.precision[0] if flag else t.precision[1]}
            else:
                precs = {t.precision[0], t.precision[1]}
            qs = {}
            for p in precs:
                q_ub = -(-a_ub * p // t.bw_min)
                q = m.new_int_var(0, q_ub, "")
                m.add_division_equality(q, amount * (t.boost * p) + (t.bw_min - 1), t.bw_min)
                qs[p] = q
            if len(qs) == 1:
                q = next(iter(qs.values()))
            else:
                q = m.new_int_var(0, max(self._ub(v) for v in qs.values()), "")
                m.add(q == qs[t.precision[0]]).only_enforce_if(flag)
                m.add(q == qs[t.precision[1]]).only_enforce_if(flag.Not())
            qn = m.new_int_var(0, self._ub(q) * T, "")
            m.add_multiplication_equality(qn, [q, n])
            num = t.instances * t.bw_min
            w_ub = self._ub(q) * T * num // t.bw_max
            w = m.new_int_var(0, w_ub, "")
            if num % t.bw_max == 0:
                m.add(w == qn * (num // t.bw_max))
            else:
                m.add_division_equality(w, qn * num, t.bw_max)
            if t.conditional:
                if isinstance(flag, int):
                    if flag == 0:
                        continue
                else:
                    wc = m.new_int_var(0, w_ub, "")
                    m.add(wc == w).only_enforce_if(flag)
                    m.add(wc == 0).only_enforce_if(flag.Not())
                    w = wc
            coef = t.cost * self.cost_scale
            assert coef.denominator == 1
            obj.append(int(coef) * w)
            self.words.append((t, w))
        self.obj = m.new_int_var(0, sum(int(t.cost * self.cost_scale) * self._ub(w) for t, w in self.words) or 0, "energy_scaled")
        m.add(self.obj == sum(obj))
        m.minimize(self.obj)

    # -- solutions ---------------------------------------------------------------------------------------

    def decode(self, solver: cp_model.CpSolver) -> TemporalMapping:
        slot = [solver.value(p) for p in self.pos]
        cuts = {op.name: tuple(solver.value(c) for c in self.cut[oi]) for oi, op in enumerate(self.form.operands)}
        return self.form.decode(slot, cuts)

    def add_hint(self, tm: TemporalMapping) -> bool:
        enc = self.form.encode(tm)
        if enc is None:
            return False
        slot_of, cuts = enc
        for j, k in enumerate(slot_of):
            for k2 in range(self.K):
                self.m.add_hint(self.x[k2][j], k2 == k)
        for oi, op in enumerate(self.form.operands):
            for lv in range(op.levels - 1):
                for k in range(self.K + 1):
                    self.m.add_hint(self.cut_onehot[oi][lv][k], cuts[op.name][lv] == k)
        return True

    def energy(self, scaled: int | float) -> Fraction:
        return Fraction(int(round(scaled))) / self.cost_scale + Fraction(self.form.mac_energy)


def _empty_order(ctx: LayerContext, options: EngineOptions) -> EngineResult:
    """No temporal loop: one mapping, all levels empty."""
    tm = TemporalMapping((), {o.name: tuple(0 for _ in o.chain) for o in ctx.operands})
    if capacity_violations(ctx, tm):
        return EngineResult("infeasible", message="the spatial tiles do not fit the memories")
    cost = evaluate_temporal(ctx, tm)
    v = objective_value(options.objective, cost)
    return EngineResult("optimal", tm, cost, v, v)


def cpsat(ctx: LayerContext, options: EngineOptions) -> EngineResult:
    """Minimise the energy of the temporal mapping exactly; see the module docstring for other objectives."""
    t0 = time.perf_counter()
    form = formulate(ctx)
    if form.slots == 0:
        return _empty_order(ctx, options)
    model = _Model(form)
    hint = options.hint
    loma_cost = None
    if hint is None:
        seed = loma_temporal(ctx, "energy", options.lpf_limit)
        hint, loma_cost = seed.temporal, seed.cost
    if hint is not None:
        model.add_hint(hint)
    if options.cutoff is not None and options.objective == "energy":
        # candidates that cannot beat (or tie) the best mapping so far are pruned by the proof
        limit = (Fraction(options.cutoff) - Fraction(form.mac_energy)) * model.cost_scale
        model.m.add(model.obj <= math.floor(limit * (1 + 1e-12)))
    solver = cp_model.CpSolver()
    solver.parameters.num_workers = 1  # deterministic: the same mapping for any machine and --jobs
    solver.parameters.random_seed = 0
    if options.time_limit is not None:
        solver.parameters.max_time_in_seconds = float(options.time_limit)
    status = solver.solve(model.m)
    build_solve = time.perf_counter() - t0
    stats = {"slots": form.slots, "solve_seconds": build_solve, "branches": solver.num_branches, "status": solver.status_name(status)}
    if status == cp_model.INFEASIBLE:
        if options.cutoff is not None and options.objective == "energy":
            return EngineResult("pruned", bound=options.cutoff, stats=stats, message="cannot beat the best spatial mapping so far")
        return EngineResult("infeasible", message="no temporal mapping fits the memories (proven)", stats=stats)
    if status not in (cp_model.OPTIMAL, cp_model.FEASIBLE):
        return EngineResult("infeasible", message=f"no solution within the time limit ({solver.status_name(status)})", stats=stats)
    tm = model.decode(solver)
    violations = capacity_violations(ctx, tm)
    cost = evaluate_temporal(ctx, tm)
    solver_energy = model.energy(solver.objective_value)
    if violations or abs(float(solver_energy) - cost.energy) > REL_TOL * max(1.0, abs(cost.energy)):
        raise ExactnessError(
            f"layer {ctx.layer.name}: CP-SAT energy {float(solver_energy)!r} != cost model {cost.energy!r}"
            + (f"; capacity violated: {violations}" if violations else "")
        )
    energy_bound = float(model.energy(solver.best_objective_bound))
    proven = status == cp_model.OPTIMAL
    if loma_cost is not None and cost.energy > loma_cost.energy * (1 + REL_TOL) and proven:
        raise ExactnessError(f"layer {ctx.layer.name}: proven optimum {cost.energy!r} worse than LOMA's {loma_cost.energy!r}")
    value = objective_value(options.objective, cost)
    if options.objective == "energy":
        return EngineResult("optimal" if proven else "feasible", tm, cost, value, min(energy_bound, value), stats=stats)
    # latency / EDP: the encoding covers energy only; report the valid bound of spec 9.4
    lat_bound = float(form.total_cycles)
    bound = lat_bound if options.objective == "latency" else energy_bound * lat_bound
    return EngineResult("feasible", tm, cost, value, min(bound, value), stats=stats, message="latency is not encoded exactly; bound = T_tot cycles")
