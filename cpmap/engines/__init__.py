"""The mapping engines, one registry: name -> engine function (imported on first use: the solver backends
load heavy libraries), whether it is exact (its statuses are proofs) and a one-line description for the CLI.

Every engine has the signature ``engine(ctx: LayerContext, options: EngineOptions) -> EngineResult``
(:mod:`cpmap.engines.base`). Adding an engine means adding one :class:`EngineInfo` here.
"""

from __future__ import annotations

import importlib
from dataclasses import dataclass

from ..errors import InputError


@dataclass(frozen=True)
class EngineInfo:
    name: str
    module: str  # module under cpmap.engines holding the function of the same name
    exact: bool  # statuses optimal/infeasible/pruned are proofs, bounds are valid
    objectives: tuple[str, ...]
    description: str
    #: the driver maps a candidate the engine leaves without a mapping (refused, time limit) with LOMA
    loma_fallback: bool = False
    #: honours a partial user temporal_ordering (EngineOptions.ordering); the driver skips such layers otherwise
    orderings: bool = False


ENGINES: dict[str, EngineInfo] = {
    e.name: e
    for e in (
        EngineInfo("cpsat", "cpsat", True, ("energy", "latency", "edp"), "exact (OR-Tools CP-SAT): energy, latency and EDP proven", True, True),
        EngineInfo("milp", "milp", True, ("energy",), "exact (Pyomo + HiGHS MILP): energy proven", True, True),
        EngineInfo("exhaustive", "exhaustive", True, ("energy", "latency", "edp"), "enumeration of every temporal mapping (small layers)", orderings=True),
        EngineInfo("loma", "loma", False, ("energy", "latency", "edp"), "ZigZag's heuristic LOMA (no bound)", orderings=True),
        EngineInfo("salsa", "salsa", False, ("energy", "latency", "edp"), "ZigZag's simulated annealing SALSA over loop orders (no bound)"),
    )
}


def engine_info(name: str) -> EngineInfo:
    """The registry entry of ``name``; an unknown name is bad input naming ``--engine``."""
    info = ENGINES.get(name)
    if info is None:
        raise InputError(None, "--engine", f"unknown engine {name!r} (choose from {', '.join(ENGINES)})")
    return info


def get_engine(name: str):
    """The engine function of that name (imported on first use)."""
    info = engine_info(name)
    try:
        module = importlib.import_module(f"{__name__}.{info.module}")
    except ModuleNotFoundError as exc:
        raise InputError(None, "--engine", f"the {name} engine needs a package that is not installed ({exc.name})") from None
    return getattr(module, info.name)
