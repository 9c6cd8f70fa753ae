"""The exact engine's MILP backend: the tile-chain formulation (:mod:`cpmap.formulation`) in Pyomo,
solved by HiGHS.

Encoding (spec 9.3, MILP column): one binary per (chain element, table row) with exactly one row per
element, so exponents, energies, tile elements and flags are linear in the binaries; the chain as one
binary per pair of elements of different operands with big-M = the maximal exponent; capacity per memory
linear, with the output's precision chosen by another element's "irrelevant loop left above" flag
linearised exactly (binary x bounded continuous, McCormick). The objective is the scaled integer energy;
HiGHS runs with a zero relative gap and an absolute gap below one scaled unit, so "optimal" is a proof.
The decoded mapping is re-evaluated by the cost model and compared, as for CP-SAT.

Energy only: the latency model's max/min/division terms are not linearised here; ``cpmap solve --engine
milp`` refuses the latency and EDP objectives (exit 2), and :mod:`cpmap.engines.cpsat` proves them.
"""

from __future__ import annotations

import math
import pickle
import subprocess
import sys
import time

import pyomo.environ as pyo

from ..cost.model import LayerContext
from ..errors import EngineRefusal
from ..formulation import TemporalFormulation
from ..status import Status
from .base import REL_TOL, EngineOptions, EngineResult, ExactnessError
from .certificate import check_solution, energy_limit, formulation_or_result, model_above, no_solution


def _build(form: TemporalFormulation) -> tuple[pyo.ConcreteModel, list]:
    m = pyo.ConcreteModel()
    n_c = len(form.coords)
    rows = [list(range(len(el.rows))) for el in form.elements]
    m.Z = pyo.Set(initialize=[(e, r) for e, keep in enumerate(rows) for r in keep], dimen=2)
    m.z = pyo.Var(m.Z, domain=pyo.Binary)
    m.one = pyo.ConstraintList()
    for e, keep in enumerate(rows):
        m.one.add(sum(m.z[e, r] for r in keep) == 1)

    def x(e: int, c: int):
        el = form.elements[e]
        return sum(form.tiles[el.rows[r]][c] * m.z[e, r] for r in rows[e] if form.tiles[el.rows[r]][c])

    m.chain = pyo.ConstraintList()
    for a, b in sorted(form.known_order()):
        for c in range(n_c):
            lhs, rhs = x(a, c), x(b, c)
            if isinstance(lhs, int) and isinstance(rhs, int):  # both fixed by the tables: nothing to state
                continue
            m.chain.add(lhs <= rhs)
    known = form.known_order()
    pairs = [(a, b) for a in range(len(form.elements)) for b in range(a + 1, len(form.elements)) if (a, b) not in known and (b, a) not in known]
    m.le = pyo.Var(range(len(pairs)), domain=pyo.Binary)
    for p, (a, b) in enumerate(pairs):
        for c in range(n_c):
            big = form.max_exp[c]
            m.chain.add(x(a, c) - x(b, c) <= big * (1 - m.le[p]))
            m.chain.add(x(b, c) - x(a, c) <= big * m.le[p])
    # a partial user ordering: the innermost loops form the entries' blocks (same rule as the CP-SAT model)
    prev: list = [0] * n_c
    for b in form.blocks:
        cur = [x(b.element, c) for c in range(n_c)]
        for c in range(n_c):
            diff = cur[c] - prev[c]
            if isinstance(diff, int):
                continue
            if c not in b.coords:
                m.chain.add(diff == 0)
            elif b.exponents is not None:
                m.chain.add(diff == b.exponents[c])
        total = sum(cur[c] - prev[c] for c in b.coords)
        if not isinstance(total, int):
            m.chain.add(total >= 1)
        prev = cur
    m.cap = pyo.ConstraintList()
    m.y = pyo.VarList(domain=pyo.Reals)
    for g in form.capacity:
        total = 0
        for mb in g.members:
            if mb.flag_element is not None:
                fe = form.elements[mb.flag_element]
                flag = sum(m.z[mb.flag_element, r] for r in rows[mb.flag_element] if fe.columns["ir_left"][r])
            else:
                flag = 1 if mb.flag_const else 0
            if mb.element is None:
                total += mb.bits_final + (mb.bits_partial - mb.bits_final) * flag
                continue
            base = sum(mb.bits_final[r] * m.z[mb.element, r] for r in rows[mb.element])
            extra = {r: mb.bits_partial[r] - mb.bits_final[r] for r in rows[mb.element]}
            total += base
            if not any(extra.values()) or (isinstance(flag, int) and flag == 0):
                continue
            diff = sum(v * m.z[mb.element, r] for r, v in extra.items() if v)
            if isinstance(flag, int):
                total += diff
                continue
            # binary flag x bounded term, linearised exactly (McCormick)
            lo, hi = min(0, *extra.values()), max(0, *extra.values())
            y = m.y.add()
            y.setlb(lo)
            m.cap.add(y <= hi * flag)
            m.cap.add(y >= lo * flag)
            m.cap.add(y <= diff - lo * (1 - flag))
            m.cap.add(y >= diff - hi * (1 - flag))
            total += y
        if isinstance(total, (int, float)):
            if total > g.size:  # constant tiles alone overflow: no mapping at all
                m.cap.add(m.z[next(iter(m.Z))] >= 2)
            continue
        m.cap.add(total <= g.size)
    m.obj = pyo.Objective(
        expr=sum(form.elements[e].columns["energy"][r] * m.z[e, r] for e, r in m.Z if "energy" in form.elements[e].columns) + form.constant_energy,
        sense=pyo.minimize,
    )
    return m, rows


def _tiles(form: TemporalFormulation, m, rows) -> list[tuple[int, ...]]:
    tiles = []
    for e, keep in enumerate(rows):
        r = max(keep, key=lambda r: pyo.value(m.z[e, r]))
        tiles.append(form.tiles[form.elements[e].rows[r]])
    return tiles


def milp(ctx: LayerContext, options: EngineOptions) -> EngineResult:
    """Minimise the energy exactly with HiGHS (single thread: deterministic).

    Runs in a fresh child process: OR-Tools' shared library embeds its own HiGHS, whose symbols clash
    with highspy's when both are loaded in one process (whichever comes second fails to load).
    """
    if options.objective != "energy":  # refused here, before a child process is started for nothing
        raise EngineRefusal(f"the milp engine encodes energy only (objective {options.objective}); use --engine cpsat")
    # a plain child interpreter (not multiprocessing's spawn, which re-imports the caller's __main__)
    proc = subprocess.run(
        [sys.executable, "-c", "import cpmap.engines.milp as m; m._child()"],
        input=pickle.dumps((ctx, options)),
        capture_output=True,
        check=False,
    )
    if proc.returncode != 0:
        raise RuntimeError(f"MILP child process failed: {proc.stderr.decode(errors='replace').strip().splitlines()[-1:]}")
    result = pickle.loads(proc.stdout)
    if isinstance(result, BaseException):
        raise result
    return result


def _child() -> None:
    """Entry of the child process: a pickled (ctx, options) on stdin, the pickled result on stdout."""
    ctx, options = pickle.loads(sys.stdin.buffer.read())
    try:
        out: object = _milp_here(ctx, options)
    except Exception as exc:  # the parent re-raises it
        out = exc
    sys.stdout.buffer.write(pickle.dumps(out))


def _milp_here(ctx: LayerContext, options: EngineOptions) -> EngineResult:
    from pyomo.contrib.solver.solvers.highs import Highs

    if options.objective != "energy":
        raise EngineRefusal(f"the milp engine encodes energy only (objective {options.objective}); use --engine cpsat")
    t0 = time.perf_counter()
    form = formulation_or_result(ctx, options, latency=False)
    if isinstance(form, EngineResult):
        return form
    m, rows = _build(form)
    if options.cutoff is not None:
        m.cutoff = pyo.Constraint(expr=m.obj.expr <= energy_limit(form, options.cutoff))
    config = {
        "load_solutions": False,
        "raise_exception_on_nonoptimal_result": False,
        "threads": 1,  # deterministic
        "rel_gap": 0.0,
        "abs_gap": 0.5,  # the scaled objective is an integer: a gap below 1 is a proof
        "solver_options": {"random_seed": 0},
    }
    if options.time_limit is not None:
        config["time_limit"] = float(options.time_limit)
    solver = Highs()
    if not solver.available():  # also resolves Pyomo's deferred import of highspy before solve()
        raise RuntimeError("HiGHS (highspy) is not available")
    res = solver.solve(m, **config)
    tc = res.termination_condition.name
    stats = {"coords": len(form.coords), "elements": len(form.elements), "binaries": len(m.Z), "solver_status": tc}
    finite = res.objective_bound is not None and math.isfinite(res.objective_bound)
    bound_scaled = math.ceil(res.objective_bound - 1e-6) if finite else None
    if tc in ("provenInfeasible", "locallyInfeasible", "infeasibleOrUnbounded"):
        return no_solution(options)
    if res.incumbent_objective is None:
        bound = float(form.energy(bound_scaled)) if bound_scaled is not None else None
        return EngineResult(Status.UNKNOWN, bound=bound, stats=stats, message=f"no solution within the time limit ({tc})")
    res.solution_loader.load_vars()
    stats["seconds"] = time.perf_counter() - t0
    tiles = _tiles(form, m, rows)
    point = check_solution(form, tiles, round(res.incumbent_objective), None, "MILP")
    value = point.cost.energy
    stats["solver_energy"] = float(point.energy)
    if tc == "convergenceCriteriaSatisfied":
        if model_above(form.energy(round(res.incumbent_objective)), value) or abs(float(point.energy) - value) > REL_TOL * max(1.0, value):
            raise ExactnessError(f"layer {ctx.layer.name}: MILP energy {float(point.energy)!r} != cost model {value!r}")
        # energy is proven; ZigZag's latency tie-break among energy optima is not stated in this model
        return EngineResult(Status.OPTIMAL, point.temporal, point.cost, value, value, stats=stats, message="energy proven; the latency tie-break among energy optima is not encoded by milp (cpsat proves it)")
    bound = float(form.energy(bound_scaled)) if bound_scaled is not None else None
    return EngineResult(Status.FEASIBLE, point.temporal, point.cost, value, None if bound is None else min(bound, value), stats=stats, message=f"time limit: best mapping found ({tc}) with HiGHS's proven bound")
