"""The one status vocabulary of every engine, candidate and layer result, and what each status proves.

A certificate is a claim about a declared space: a *candidate* (one spatial mapping) is settled when its
engine proved its optimum (``optimal``), proved that nothing fits (``infeasible``) or proved that nothing
beats a cutoff (``pruned``). Everything else (``feasible`` with a bound, ``heuristic``, ``skipped``,
``unknown``) leaves the candidate open, and a layer is ``optimal`` only when every candidate of its declared
space is settled (:func:`settles_candidate`).
"""

from __future__ import annotations

from enum import StrEnum


class Status(StrEnum):
    """Outcome of an engine on one candidate, or of a layer over its candidates."""

    #: proven optimal over the declared space (the bound equals the value)
    OPTIMAL = "optimal"
    #: a mapping with a proven lower bound (time limit, or open candidates with valid bounds)
    FEASIBLE = "feasible"
    #: a mapping found by a heuristic (LOMA, SALSA): no bound
    HEURISTIC = "heuristic"
    #: the mapping was given by the user (complete temporal ordering): costed, not searched
    FIXED = "fixed"
    #: costed from a given mapping (``cpmap evaluate``)
    EVALUATED = "evaluated"
    #: proven: no mapping of this candidate beats the cutoff it was given (the bound holds the proof)
    PRUNED = "pruned"
    #: proven: no mapping fits the memories
    INFEASIBLE = "infeasible"
    #: the engine refused the candidate (too large to build, a term it does not encode): nothing proven
    SKIPPED = "skipped"
    #: the solver stopped (time limit) before any solution: nothing proven except an optional bound
    UNKNOWN = "unknown"


#: statuses that close a candidate for a proof of optimality
#: (a fixed candidate has one mapping, the one costed: its space is settled too)
SETTLED = frozenset({Status.OPTIMAL, Status.INFEASIBLE, Status.PRUNED, Status.FIXED})
#: statuses of a layer that could not be mapped (exit code 1)
UNMAPPED = frozenset({Status.INFEASIBLE, Status.SKIPPED, Status.UNKNOWN})


def settles_candidate(status: Status | str) -> bool:
    """True when ``status`` is a proof about its candidate (optimum found, nothing fits, nothing beats the cutoff)."""
    return Status(status) in SETTLED
