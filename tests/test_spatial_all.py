"""The whole spatial space inside the proof (issue 10): ``--spatial-mappings all``.

On small random layers and arrays (1-D and 2-D, with and without mixed unrollings, on accelerators that
stress the latency model), the exact engine over the whole spatial space (branch and bound: floors,
relaxation, cutoffs) equals the exhaustive engine over the whole spatial x temporal space, for energy and
latency, and its certificate says what it covers. Also: the space contains ZigZag's candidates, and the
floors of :mod:`cpmap.bounds` never exceed a candidate's optimum.
"""

from __future__ import annotations

from pathlib import Path

import yaml
from hypothesis import HealthCheck, assume, event, given, settings
from hypothesis import strategies as st
from random_hardware import FAMILIES, hardware_yaml
from test_exhaustive import _conv

from cpmap.api import Problem
from cpmap.bounds import floor
from cpmap.cost.model import prepare
from cpmap.engines.base import EngineOptions
from cpmap.engines.exhaustive import exhaustive, search_space
from cpmap.io.hardware_yaml import load_accelerator
from cpmap.io.mapping_yaml import DEFAULT_MAPPING_FILE
from cpmap.solve import SolveOptions, solve_layer, spatial_candidates
from cpmap.status import Status

_ACC: dict[tuple, object] = {}


def _accelerator(tmp: Path, family: str, array: tuple[int, ...]):
    key = (family, array)
    if key not in _ACC:
        path = tmp / f"hw_all_{len(_ACC)}.yaml"
        path.write_text(yaml.safe_dump(hardware_yaml(family, (16, 32, 32), 1024, 16, 16, array), sort_keys=False))
        _ACC[key] = load_accelerator(path)
    return _ACC[key]


def _close(a: float, b: float) -> bool:
    return abs(a - b) <= 1e-9 * max(1.0, abs(b))


STATS = {"cases": 0, "two_d": 0, "mixed": 0, "pruned": 0}


@settings(max_examples=60, derandomize=True, deadline=None, suppress_health_check=list(HealthCheck))
@given(
    family=st.sampled_from(FAMILIES),
    array=st.sampled_from([(4,), (2, 2), (4, 2)]),
    k=st.sampled_from([2, 3, 4, 6]),
    c=st.sampled_from([1, 2, 3, 4]),
    ox=st.sampled_from([1, 2, 3, 4]),
    fx=st.sampled_from([1, 2, 3]),
    mixed=st.booleans(),
    objective=st.sampled_from(["energy", "latency"]),
)
def test_whole_space_equals_exhaustive(tmp_path_factory, family, array, k, c, ox, fx, mixed, objective):
    acc = _accelerator(tmp_path_factory.getbasetemp(), family, array)
    layer = _conv({"K": k, "C": c, "OX": ox, "FX": fx})
    problem = Problem((layer,), acc, DEFAULT_MAPPING_FILE, "t")
    options = SolveOptions(engine="cpsat", objective=objective, nb_spatial_mappings=None, mixed_spatial=mixed, max_space=40_000)
    candidates = spatial_candidates(problem, layer, options)
    links = dict(problem.constraints(layer).operand_links)
    # keep the enumeration small: every candidate's temporal space at most 40k mappings
    assume(candidates and all(search_space(prepare(layer, acc, sm, links)).total <= 40_000 for sm in candidates))
    exact = solve_layer(problem, layer, candidates, options)
    truth = solve_layer(problem, layer, candidates, SolveOptions(engine="exhaustive", objective=objective, nb_spatial_mappings=None, mixed_spatial=mixed, max_space=40_000))
    assert truth.spatial_space == {"kind": "all", "size": len(candidates), "solved": len(candidates), "pruned_by_bound": 0, "equivalent": 0}
    if truth.status == Status.INFEASIBLE:
        assert exact.status == Status.INFEASIBLE
        event("infeasible")
        return
    assert truth.status == exact.status == Status.OPTIMAL, exact.message
    assert _close(exact.cost.energy, truth.cost.energy) and _close(exact.cost.latency, truth.cost.latency), (exact.cost, truth.cost)
    space = exact.spatial_space
    assert space["kind"] == "all" and space["size"] == len(candidates)
    assert space["solved"] + space["pruned_by_bound"] + space["equivalent"] == len(candidates)
    STATS["cases"] += 1
    STATS["two_d"] += len(array) == 2
    STATS["mixed"] += mixed
    STATS["pruned"] += space["pruned_by_bound"] > 0


def test_whole_space_cases_ran():
    assert STATS["cases"] >= 40 and STATS["two_d"] >= 15 and STATS["mixed"] >= 15 and STATS["pruned"] >= 5, STATS


@settings(max_examples=25, derandomize=True, deadline=None, suppress_health_check=list(HealthCheck))
@given(
    family=st.sampled_from(FAMILIES),
    array=st.sampled_from([(4,), (2, 2)]),
    k=st.sampled_from([2, 4, 6]),
    c=st.sampled_from([1, 2, 4]),
    ox=st.sampled_from([2, 3, 4]),
    fx=st.sampled_from([1, 3]),
)
def test_floors_never_exceed_a_candidates_optimum(tmp_path_factory, family, array, k, c, ox, fx):
    acc = _accelerator(tmp_path_factory.getbasetemp(), family, array)
    layer = _conv({"K": k, "C": c, "OX": ox, "FX": fx})
    problem = Problem((layer,), acc, DEFAULT_MAPPING_FILE, "t")
    for sm in spatial_candidates(problem, layer, SolveOptions(nb_spatial_mappings=None))[:6]:
        ctx = prepare(layer, acc, sm, dict(problem.constraints(layer).operand_links))
        if search_space(ctx).total > 40_000:
            continue
        for objective in ("energy", "latency", "edp"):
            r = exhaustive(ctx, EngineOptions(objective=objective, max_space=40_000))
            if r.cost is not None:
                assert floor(ctx, objective) <= r.objective_value * (1 + 1e-12), (objective, floor(ctx, objective), r.objective_value)


def test_the_space_contains_zigzags_candidates():
    """ResNet-18's layers on tpu_like without a mapping file: ZigZag's best 3 come first in the whole space."""
    from cpmap.api import load_problem

    root = Path(__file__).resolve().parents[1]
    problem = load_problem(root / "models/networks/resnet18.onnx", root / "models/accelerators/tpu_like.yaml")
    for layer in problem.layers[:4]:
        three = spatial_candidates(problem, layer, SolveOptions(nb_spatial_mappings=3))
        everything = spatial_candidates(problem, layer, SolveOptions(nb_spatial_mappings=None))
        assert everything[:3] == three and len(everything) > 100
        assert len({sm.as_dict().__repr__() for sm in everything}) == len(everything)
