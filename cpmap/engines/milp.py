"""The exact engine's MILP backend: the tile-chain formulation (:mod:`cpmap.formulation`) in Pyomo,
solved by HiGHS.

Encoding (spec 9.3, MILP column): one binary per (chain element, table row) with exactly one row per
element, so exponents, energies, tile elements and flags are linear in the binaries; the chain as one
binary per pair of elements of different operands with big-M = the maximal exponent; capacity per memory
linear, with the output's precision chosen by another element's "irrelevant loop left above" flag
linearised exactly (binary x bounded continuous, McCormick). The objective is the scaled integer energy;
HiGHS runs with a zero relative gap and an absolute gap below one scaled unit, so "optimal" is a proof.
The decoded mapping is re-evaluated by the cost model and compared, as for CP-SAT.

Same objective rules as the CP-SAT backend: energy exact; latency and EDP reported as ``feasible`` with a
valid bound only (:mod:`cpmap.engines.certificate`).
"""

from __future__ import annotations

import math
import pickle
import subprocess
import sys
import time

import pyomo.environ as pyo

from ..cost.model import LayerContext
from ..formulation import TemporalFormulation
from ..mapping import TemporalMapping
from .base import EngineOptions, EngineResult
from .certificate import certify, cutoff_limit, fallback_to_loma, formulation_or_result, no_solution


def _build(form: TemporalFormulation) -> tuple[pyo.ConcreteModel, list]:
    m = pyo.ConcreteModel()
    n_c = len(form.coords)
    rows = []
    for el in form.elements:
        keep = [i for i, row in enumerate(el.rows) if all(el.free[c] or row[c] == 0 for c in range(n_c))]
        rows.append(keep)
    m.Z = pyo.Set(initialize=[(e, r) for e, keep in enumerate(rows) for r in keep], dimen=2)
    m.z = pyo.Var(m.Z, domain=pyo.Binary)
    m.one = pyo.ConstraintList()
    for e, keep in enumerate(rows):
        m.one.add(sum(m.z[e, r] for r in keep) == 1)

    def x(e: int, c: int):
        el = form.elements[e]
        return sum(el.rows[r][c] * m.z[e, r] for r in rows[e] if el.rows[r][c])

    m.chain = pyo.ConstraintList()
    for oi, ids in enumerate(form.operand_elements):
        seq = [e for e in [form.prefix_element[oi], *ids] if e is not None]
        for a, b in zip(seq, seq[1:]):
            for c in range(n_c):
                lhs, rhs = x(a, c), x(b, c)
                if isinstance(lhs, int) and isinstance(rhs, int):  # both fixed by the tables: nothing to state
                    continue
                m.chain.add(lhs <= rhs)
    pairs = [(a, b) for a in range(len(form.elements)) for b in range(a + 1, len(form.elements)) if form.elements[a].operand != form.elements[b].operand]
    m.le = pyo.Var(range(len(pairs)), domain=pyo.Binary)
    for p, (a, b) in enumerate(pairs):
        for c in range(n_c):
            big = form.max_exp[c]
            m.chain.add(x(a, c) - x(b, c) <= big * (1 - m.le[p]))
            m.chain.add(x(b, c) - x(a, c) <= big * m.le[p])
    m.cap = pyo.ConstraintList()
    m.y = pyo.VarList(domain=pyo.NonNegativeReals)
    for g in form.capacity:
        total = 0
        for mb in g.members:
            part, fin = mb.precision
            if mb.flag_element is not None:
                fe = form.elements[mb.flag_element]
                flag = sum(m.z[mb.flag_element, r] for r in rows[mb.flag_element] if fe.ir_left[r])
            else:
                flag = 1 if mb.flag_const else 0
            if mb.element is None:
                total += float(mb.full_elements) * (fin + (part - fin) * flag)
                continue
            el = form.elements[mb.element]
            size_of = {r: float(el.elements[r]) * (2 if el.doubled[r] else 1) for r in rows[mb.element]}
            base = sum(size_of[r] * m.z[mb.element, r] for r in rows[mb.element])
            total += fin * base
            if part != fin and not (isinstance(flag, int) and flag == 0):
                if isinstance(flag, int):
                    total += (part - fin) * base
                else:
                    cmax = max(size_of.values())
                    y = m.y.add()
                    m.cap.add(y <= cmax * flag)
                    m.cap.add(y <= base)
                    m.cap.add(y >= base - cmax * (1 - flag))
                    total += (part - fin) * y
        if isinstance(total, (int, float)):
            if total > g.size:  # constant tiles alone overflow: no mapping at all
                m.cap.add(m.z[next(iter(m.Z))] >= 2)
            continue
        m.cap.add(total <= g.size)
    m.obj = pyo.Objective(
        expr=sum(form.elements[e].energy[r] * m.z[e, r] for e, r in m.Z) + form.constant_energy,
        sense=pyo.minimize,
    )
    return m, rows


def _decode(form: TemporalFormulation, m, rows) -> TemporalMapping:
    tiles = []
    for e, keep in enumerate(rows):
        r = max(keep, key=lambda r: pyo.value(m.z[e, r]))
        tiles.append(form.elements[e].rows[r])
    return form.decode(tiles)


def milp(ctx: LayerContext, options: EngineOptions) -> EngineResult:
    """Minimise the energy exactly with HiGHS (single thread: deterministic).

    Runs in a fresh child process: OR-Tools' shared library embeds its own HiGHS, whose symbols clash
    with highspy's when both are loaded in one process (whichever comes second fails to load).
    """
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

    t0 = time.perf_counter()
    form = formulation_or_result(ctx, options)
    if isinstance(form, EngineResult):
        return form
    m, rows = _build(form)
    limit = cutoff_limit(form, options)
    if limit is not None:
        m.cutoff = pyo.Constraint(expr=m.obj.expr <= limit)
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
    if tc in ("provenInfeasible", "locallyInfeasible", "infeasibleOrUnbounded"):
        return no_solution(options, stats)
    if res.incumbent_objective is None:
        bound = float(form.energy(math.ceil(res.objective_bound - 1e-6))) if res.objective_bound is not None else None
        return fallback_to_loma(ctx, options, bound, stats, f"no solution within the time limit ({tc})")
    res.solution_loader.load_vars()
    stats["seconds"] = time.perf_counter() - t0
    bound_scaled = math.ceil(res.objective_bound - 1e-6) if res.objective_bound is not None else 0
    proven = tc == "convergenceCriteriaSatisfied"
    return certify(form, options, _decode(form, m, rows), round(res.incumbent_objective), bound_scaled, proven, stats, "MILP")
