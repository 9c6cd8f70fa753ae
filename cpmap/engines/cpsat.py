"""The exact engine: the tile-chain formulation (:mod:`cpmap.formulation`) as a CP-SAT model.

Per chain element, one integer exponent per (dim, prime) coordinate, tied by a table constraint to the
element's scaled energy and capacity quantities; per operand, nondecreasing tiles; across operands, one
boolean per pair choosing which tile contains the other (the chain); per memory, a linear capacity
constraint over the tiles stored there (exact: elements are rationals scaled to integers, precision and
double buffering selected by table flags). The objective is the cost model's energy times a constant.
Every solution is decoded, re-evaluated by the cost model and compared (:class:`ExactnessError` on any
difference at a proven optimum).

Energy is encoded exactly. Latency and EDP are not: for those objectives the engine proves the energy
optimum ``E*``, returns the better of that mapping and LOMA's best for the objective, with status
``feasible`` and the bound ``L0 = T_tot x cycles per operation + drain`` (latency) or ``E* x L0`` (EDP), never
``optimal`` (:mod:`cpmap.engines.certificate`).

The solver runs one deterministic worker, so a layer gets the same mapping on any machine and with any
``--jobs``; with a time limit the incumbent may depend on machine speed.
"""

from __future__ import annotations

import math
import time
from fractions import Fraction

from ortools.sat.python import cp_model

from ..cost.model import LayerContext, evaluate_temporal
from ..formulation import TemporalFormulation
from ..mapping import TemporalMapping
from .base import REL_TOL, EngineOptions, EngineResult
from .capacity import capacity_violations
from .certificate import certify, cutoff_limit, fallback_to_loma, formulation_or_result, no_solution


class ChainModel:
    """The CP-SAT model of a tile-chain formulation."""

    def __init__(self, form: TemporalFormulation):
        self.form = form
        m = self.m = cp_model.CpModel()
        n_c = len(form.coords)
        self.x: list[list] = []
        self.energy = []
        self.elements = []
        self.elem_scale = []
        self.ir_left = []
        self.doubled = []
        for ei, el in enumerate(form.elements):
            xs = [m.new_int_var(0, form.max_exp[i] if el.free[i] else 0, f"e{ei}_{i}") for i in range(n_c)]
            en = m.new_int_var(min(el.energy), max(el.energy), f"energy{ei}")
            cols_vals = [el.energy]
            extra = [en]
            if el.elements:
                sc = math.lcm(*(v.denominator for v in el.elements))
                vals = [int(v * sc) for v in el.elements]
                ev = m.new_int_var(min(vals), max(vals), f"elements{ei}")
                il = m.new_bool_var(f"irleft{ei}")
                db = m.new_bool_var(f"dbl{ei}")
                extra += [ev, il, db]
                cols_vals += [vals, [int(b) for b in el.ir_left], [int(b) for b in el.doubled]]
                self.elements.append(ev)
                self.elem_scale.append(sc)
                self.ir_left.append(il)
                self.doubled.append(db)
            else:
                self.elements.append(None)
                self.elem_scale.append(1)
                self.ir_left.append(None)
                self.doubled.append(None)
            rows = sorted({(*row, *(c[i] for c in cols_vals)) for i, row in enumerate(el.rows)})
            m.add_allowed_assignments([*xs, *extra], rows)
            self.x.append(xs)
            self.energy.append(en)
        # the chain: each operand's tiles grow level by level, its stationarity prefix lies below them
        for oi, ids in enumerate(form.operand_elements):
            seq = [e for e in [form.prefix_element[oi], *ids] if e is not None]
            for a, b in zip(seq, seq[1:]):
                for i in range(n_c):
                    m.add(self.x[a][i] <= self.x[b][i])
        # tiles of different operands are nested one way or the other
        n_e = len(form.elements)
        for a in range(n_e):
            for b in range(a + 1, n_e):
                if form.elements[a].operand == form.elements[b].operand:
                    continue
                le = m.new_bool_var(f"le{a}_{b}")
                for i in range(n_c):
                    m.add(self.x[a][i] <= self.x[b][i]).only_enforce_if(le)
                    m.add(self.x[b][i] <= self.x[a][i]).only_enforce_if(le.Not())
        self._capacity()
        self.obj = sum(self.energy) + form.constant_energy
        m.minimize(self.obj)

    def _capacity(self) -> None:
        m, form = self.m, self.form
        for g in form.capacity:
            scales = []
            for mb in g.members:
                scales.append(mb.full_elements.denominator if mb.element is None else self.elem_scale[mb.element])
            L = math.lcm(*scales)
            terms = []
            const = Fraction(0)
            for mb in g.members:
                part, fin = mb.precision
                flag = self.ir_left[mb.flag_element] if mb.flag_element is not None else mb.flag_const
                if mb.element is None:
                    bits_part = mb.full_elements * part * L
                    bits_fin = mb.full_elements * fin * L
                    if isinstance(flag, bool):
                        const += bits_part if flag else bits_fin
                    else:
                        terms.append(int(bits_fin) + (int(bits_part) - int(bits_fin)) * flag)
                    continue
                ev = self.elements[mb.element]
                k = L // self.elem_scale[mb.element]
                ub = int(max(form.elements[mb.element].elements) * L) * max(part, fin) * 2
                bits = m.new_int_var(0, ub, "")
                if isinstance(flag, bool):
                    m.add(bits == ev * k * (part if flag else fin))
                else:
                    m.add(bits == ev * k * part).only_enforce_if(flag)
                    m.add(bits == ev * k * fin).only_enforce_if(flag.Not())
                db = self.doubled[mb.element]
                b2 = m.new_int_var(0, 2 * ub, "")
                m.add(b2 == 2 * bits).only_enforce_if(db)
                m.add(b2 == bits).only_enforce_if(db.Not())
                terms.append(b2)
            m.add(sum(terms) + int(const) <= g.size * L)

    def add_hint(self, tm: TemporalMapping) -> bool:
        tiles = self.form.encode(tm)
        if tiles is None:
            return False
        for xs, tile in zip(self.x, tiles):
            for v, e in zip(xs, tile):
                self.m.add_hint(v, e)
        return True

    def decode(self, solver: cp_model.CpSolver) -> TemporalMapping:
        tiles = [tuple(solver.value(v) for v in xs) for xs in self.x]
        return self.form.decode(tiles)


class _Collector(cp_model.CpSolverSolutionCallback):
    """Stores the tiles of every enumerated solution, up to a limit."""

    def __init__(self, model: ChainModel, limit: int):
        super().__init__()
        self.model, self.limit, self.tiles = model, limit, []

    def on_solution_callback(self) -> None:
        self.tiles.append([tuple(self.value(v) for v in xs) for xs in self.model.x])
        if len(self.tiles) >= self.limit:
            self.stop_search()


def _latency_tie_break(model: ChainModel, optimum: int, tm: TemporalMapping, cost, limit: int, stats: dict):
    """ZigZag's criterion is energy, then latency: among up to ``limit`` mappings of the proven optimal
    energy (enumerated deterministically), keep the one of least latency. The energy is unchanged, so the
    certificate is too; the latency tie-break itself is not proven (latency is not encoded)."""
    # the solved model, its objective turned into a constraint (its tables are not built again)
    form, ctx = model.form, model.form.ctx
    model.m.clear_objective()
    model.m.add(model.obj == optimum)
    solver = cp_model.CpSolver()
    solver.parameters.num_workers = 1
    solver.parameters.enumerate_all_solutions = True
    solver.parameters.max_deterministic_time = 5.0  # deterministic work units, not wall time
    collector = _Collector(model, limit)
    solver.solve(model.m, collector)
    best_tm, best = tm, cost
    for tiles in collector.tiles:
        cand = form.decode(tiles)
        c = evaluate_temporal(ctx, cand, detail=False)
        if abs(c.energy - best.energy) <= REL_TOL * abs(best.energy) and c.latency < best.latency and not capacity_violations(ctx, cand):
            best_tm, best = cand, c
    stats["tie_break_mappings"] = len(collector.tiles)
    if best_tm is not tm:
        best = evaluate_temporal(ctx, best_tm)
    return best_tm, best


def cpsat(ctx: LayerContext, options: EngineOptions) -> EngineResult:
    """Minimise the energy of the temporal mapping exactly; see the module docstring for other objectives."""
    t0 = time.perf_counter()
    form = formulation_or_result(ctx, options)
    if isinstance(form, EngineResult):
        return form
    model = ChainModel(form)
    # A LOMA hint was measured not to shorten the proofs (ResNet-18 layers) but costs up to 2 s to
    # compute, so only a hint the caller already has is used.
    if options.hint is not None:
        model.add_hint(options.hint)
    limit = cutoff_limit(form, options)
    if limit is not None:  # spatial candidates that cannot beat (or tie) the best so far are pruned by the proof
        model.m.add(model.obj <= limit)
    # Branch on the tiles bottom-up, largest first: the small inner memories decide most of the energy
    # and their largest feasible tiles are usually best (measured 1.0-1.8x faster proofs on ResNet-18).
    order = sorted(range(len(form.elements)), key=lambda e: (form.elements[e].level, form.elements[e].operand))
    model.m.add_decision_strategy([v for e in order for v in model.x[e]], cp_model.CHOOSE_FIRST, cp_model.SELECT_MAX_VALUE)
    solver = cp_model.CpSolver()
    solver.parameters.search_branching = cp_model.FIXED_SEARCH
    solver.parameters.num_workers = 1  # deterministic: the same mapping on any machine, any --jobs
    solver.parameters.random_seed = 0
    if options.time_limit is not None:
        solver.parameters.max_time_in_seconds = float(options.time_limit)
    status = solver.solve(model.m)
    stats = {
        "coords": len(form.coords),
        "elements": len(form.elements),
        "seconds": time.perf_counter() - t0,
        "branches": solver.num_branches,
        "solver_status": solver.status_name(status),
    }
    if status == cp_model.INFEASIBLE:
        return no_solution(options, stats)
    if status not in (cp_model.OPTIMAL, cp_model.FEASIBLE):
        bound = float(form.energy(math.floor(solver.best_objective_bound + 1e-6)))
        return fallback_to_loma(ctx, options, bound, stats, f"no solution within the time limit ({solver.status_name(status)})")
    optimum = round(solver.objective_value)

    def tie_break(tm, cost):
        if options.tie_break_solutions <= 0:
            return tm, cost
        return _latency_tie_break(model, optimum, tm, cost, options.tie_break_solutions, stats)

    return certify(
        form, options, model.decode(solver), optimum, math.floor(solver.best_objective_bound + 1e-6),
        status == cp_model.OPTIMAL, stats, "CP-SAT", tie_break,
    )
