"""Soundness of the word "optimal": a candidate the engine could not search never counts as proven.

The path found in review: when a spatial candidate's tables are too large to build, the exact engines
reported that candidate ``infeasible``, and the driver counted an infeasible candidate as proven, so a layer
came out ``optimal`` with gap 0 although one of its candidates was never searched.
"""

from __future__ import annotations

from pathlib import Path

import pytest

import cpmap.engines.certificate as certificate
from cpmap.api import load_problem
from cpmap.bounds import energy_floor
from cpmap.cost.context import prepare
from cpmap.formulation import FormulationTooLarge
from cpmap.solve import SolveOptions, solve_problem, spatial_candidates
from cpmap.status import Status

ROOT = Path(__file__).resolve().parents[1]
LAYER = "/layer2/layer2.0/conv1/Conv"


def _problem():
    # no mapping file: ZigZag's generator gives three spatial candidates per layer
    return load_problem(ROOT / "models/networks/resnet18.onnx", ROOT / "models/accelerators/tpu_like.yaml")


def test_a_candidate_too_large_to_build_voids_optimality(monkeypatch: pytest.MonkeyPatch) -> None:
    problem = _problem()
    honest = solve_problem(problem, SolveOptions(engine="cpsat", nb_spatial_mappings=3), [LAYER]).layers[0]
    assert honest.status == Status.OPTIMAL and honest.gap == 0.0
    assert len([n for n in honest.notes if n.startswith("spatial")]) == 3

    calls = {"n": 0}
    real = certificate.formulate

    def second_too_large(ctx, **kwargs):
        calls["n"] += 1
        if calls["n"] == 2:
            raise FormulationTooLarge("forced: tables too large")
        return real(ctx, **kwargs)

    monkeypatch.setattr(certificate, "formulate", second_too_large)
    forced = solve_problem(problem, SolveOptions(engine="cpsat", nb_spatial_mappings=3), [LAYER]).layers[0]
    assert calls["n"] == 3
    # the candidate was never searched: not optimal, and the bound is a valid floor below the value
    assert forced.status == Status.FEASIBLE
    assert "skipped: forced" in forced.message and "LOMA's mapping used" in forced.message
    assert forced.bound is not None and forced.bound < forced.objective_value and forced.gap > 0
    # the bound is valid: no mapping of any candidate beats it (the honest optimum is above it)
    assert forced.bound <= honest.objective_value
    # the mapping returned is still one of the searched candidates' optima, re-costed
    assert forced.energy >= honest.energy


def test_every_candidate_refused_falls_back_to_loma_with_the_floor(monkeypatch: pytest.MonkeyPatch) -> None:
    """No candidate searched: LOMA's mapping, status feasible, and the bound is the lowest of the candidates'
    floors (:mod:`cpmap.bounds`), never "infeasible" and never "optimal"."""

    def always(ctx, **kwargs):
        raise FormulationTooLarge("forced: tables too large")

    monkeypatch.setattr(certificate, "formulate", always)
    problem = _problem()
    r = solve_problem(problem, SolveOptions(engine="cpsat", nb_spatial_mappings=3), [LAYER]).layers[0]
    loma = solve_problem(problem, SolveOptions(engine="loma", nb_spatial_mappings=3), [LAYER]).layers[0]
    assert r.status == Status.FEASIBLE and "forced" in r.message
    assert r.energy == loma.energy
    options = SolveOptions(engine="cpsat", nb_spatial_mappings=3)
    layer = next(la for la in problem.layers if la.name == LAYER)
    links = dict(problem.constraints(layer).operand_links)
    floors = [energy_floor(prepare(layer, problem.accelerator, sm, links)) for sm in spatial_candidates(problem, layer, options)]
    assert len(floors) == 3
    assert r.bound == pytest.approx(min(floors))
    # the floor is at least the MAC energy and no more than the mapping returned
    assert r.cost.mac_energy <= r.bound < r.energy


def test_exhaustive_refusing_every_candidate_is_skipped() -> None:
    r = solve_problem(_problem(), SolveOptions(engine="exhaustive", max_space=10, nb_spatial_mappings=3), [LAYER]).layers[0]
    assert r.status == Status.SKIPPED and r.mapping is None and "--max-space" in r.message
