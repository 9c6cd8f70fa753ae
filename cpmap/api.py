"""Python API: load inputs, evaluate given mappings (and, via the engines, solve).

Data flows one way: files -> model objects (``Layer``, ``Accelerator``, ``MappingConstraints``) ->
engine -> ``Mapping`` -> cost model -> ``LayerResult``/``RunResult`` -> report.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, replace
from pathlib import Path

from .cost.model import evaluate, prepare
from .engines.allocator import AllocationError, allocate
from .errors import InputError
from .hardware import Accelerator
from .io.hardware_yaml import load_accelerator
from .io.mapping_yaml import DEFAULT_MAPPING_FILE, MappingFile, load_mapping_yaml
from .io.onnx_import import SkippedNode
from .io.workloads import load_workload
from .locality import WorkloadGraph, layer_accelerators, workload_graph
from .mapping import Mapping, MappingConstraints, SpatialMapping
from .ordering import ordering_for_layer
from .result import LayerResult, RunResult, mapping_from_json, read_result_json
from .spatial_generation import check_constraints, generate_spatial_mappings
from .status import Status
from .workload import CANONICAL_DIMS, Layer


@dataclass(frozen=True, eq=False)
class Problem:
    """A workload, an accelerator and the mapping constraints of a ZigZag mapping file."""

    layers: tuple[Layer, ...]
    accelerator: Accelerator
    mapping_file: MappingFile
    workload_name: str
    #: the ONNX nodes that are not costed (reported, never silently dropped)
    skipped_nodes: tuple[SkippedNode, ...] = ()
    #: the workload's layer graph (ZigZag's), for inter-layer data locality
    graph: WorkloadGraph | None = None
    #: the hardware file, named by errors the cost model finds in it (e.g. a port missing for a layer)
    accelerator_path: str | None = None

    def constraints(self, layer: Layer) -> MappingConstraints:
        return self.mapping_file.for_layer(layer)

    @property
    def workload_dims(self) -> tuple[str, ...]:
        """Every loop dim of any layer of the workload (a mapping entry may name dims other layers have)."""
        return tuple(dict.fromkeys(d for layer in self.layers for d in layer.loop_sizes))


def load_problem(workload: str | Path, accelerator: str | Path | Accelerator, mapping: str | Path | None = None) -> Problem:
    """Parse the three input files (any of them bad -> :class:`InputError`); ``accelerator`` may also be an
    already loaded :class:`Accelerator`."""
    acc = accelerator if isinstance(accelerator, Accelerator) else load_accelerator(accelerator)
    layers, skipped = load_workload(workload)
    mf = load_mapping_yaml(mapping) if mapping is not None else DEFAULT_MAPPING_FILE
    problem = Problem(
        tuple(layers), acc, mf, Path(workload).name, tuple(skipped), workload_graph(workload, layers), str(accelerator)
    )
    for layer in layers:
        _check_links(problem, layer, str(mapping) if mapping is not None else None)
    return problem


def locality_accelerators(problem: Problem, data_locality: bool | None, mixed_spatial: bool = False) -> dict[str, Accelerator] | None:
    """Per layer name, the accelerator the layer is costed on when inter-layer data locality is on (memories above
    the levels it may keep its data in removed, spec cost_model.md 8.5); ``None`` when off.

    ``data_locality=None`` follows ZigZag: on for IMC accelerators and with mixed spatial mappings. In that automatic
    mode a workload where ZigZag's planning would fail (no memory level fits some layer) runs without locality;
    asked for explicitly, it is an :class:`InputError`.
    """
    auto = data_locality is None
    on = (problem.accelerator.array.imc is not None or mixed_spatial) if auto else data_locality
    if not on or problem.graph is None:
        return None
    try:
        return layer_accelerators(problem.layers, problem.graph, problem.accelerator, lambda l: dict(problem.constraints(l).operand_links))
    except ValueError as exc:
        if auto:
            return None
        raise InputError(None, "--data-locality", str(exc)) from None


def for_layer(problem: Problem, accelerators: dict[str, Accelerator] | None, layer: Layer) -> Problem:
    """The problem as one layer sees it: with its own (data-locality) accelerator when there is one."""
    if accelerators is None or accelerators[layer.name] is problem.accelerator:
        return problem
    return replace(problem, accelerator=accelerators[layer.name])


def _check_links(problem: Problem, layer: Layer, path: str | None) -> None:
    c = problem.constraints(layer)
    for op in layer.operands:
        mop = c.operand_links.get(op)
        if mop is None:
            raise InputError(path, f"{c.name}.memory_operand_links", f"no link for operand {op} of layer {layer.name}")
        if not problem.accelerator.chain(mop):
            raise InputError(
                path,
                f"{c.name}.memory_operand_links.{op}",
                f"memory operand {mop} is stored in no memory of accelerator {problem.accelerator.name}",
            )


def fixed_spatial(problem: Problem, layer: Layer, constraints: MappingConstraints) -> SpatialMapping | None:
    """The user's spatial mapping when it defines every array dim, made valid for this layer as ZigZag does
    (:func:`generate_spatial_mappings`: dims the layer lacks dropped, factors capped at the layer's maximal
    unrolling, capacity-limited); ``None`` when some array dim is left to the generator.

    Raises :class:`InputError` for a mapping that is wrong for any layer (unknown array dim, unknown layer
    dim, unrolling larger than the array).
    """
    sm = constraints.spatial
    if sm is None:
        return None
    # a mapping wrong for any layer is reported as such, not as "incomplete"
    known = set(CANONICAL_DIMS) | set(layer.loop_sizes) | set(problem.workload_dims)
    check_constraints(problem.accelerator, constraints, known, problem.mapping_file.path)
    defined = {ad for ad, _ in sm.unrollings}
    if not set(problem.accelerator.array.dimensions) <= defined:
        return None
    (only,) = generate_spatial_mappings(
        layer,
        problem.accelerator,
        constraints,
        nb_mappings=1,
        path=problem.mapping_file.path,
        workload_dims=problem.workload_dims,
    )
    return only


def mapping_from_yaml(problem: Problem, layer: Layer) -> Mapping:
    """A complete mapping from the mapping YAML: full spatial mapping + full temporal ordering, split by
    LOMA's allocator (ZigZag fixes the split the same way)."""
    c = problem.constraints(layer)
    path = problem.mapping_file.path
    spatial = fixed_spatial(problem, layer, c)
    if spatial is None:
        raise InputError(path, f"{c.name}.spatial_mapping", f"layer {layer.name}: not every array dim is given; use 'cpmap solve'")
    ctx = prepare(layer, problem.accelerator, spatial, c.operand_links)
    order = ordering_for_layer(c.temporal_ordering, layer).complete_order(ctx.temporal_sizes)
    if order is None:
        raise InputError(
            path,
            f"{c.name}.temporal_ordering",
            f"layer {layer.name}: not a complete ordering of the temporal loops {ctx.temporal_sizes}; use 'cpmap solve'",
        )
    try:
        tm = allocate(ctx, order)
    except AllocationError as exc:
        raise InputError(path, f"{c.name}.temporal_ordering", f"layer {layer.name}: {exc}") from None
    return Mapping(spatial, tm, dict(c.operand_links))


def evaluate_problem(
    problem: Problem, mapping_json: str | Path | None = None, layer_names: list[str] | None = None, data_locality: bool | None = None
) -> RunResult:
    """Cost given mappings: from a result JSON (by layer name) or from the mapping YAML's full orderings.

    ``data_locality``: see :func:`locality_accelerators` (default: on for IMC accelerators, as ZigZag).
    """
    selected = _select(problem, layer_names)
    accs = locality_accelerators(problem, data_locality)
    results: list[LayerResult] = []
    if mapping_json is not None:
        data = read_result_json(mapping_json)
        entries = data.get("layers") if "layers" in data else [dict(data, name=None)]
        if not isinstance(entries, list):
            raise InputError(mapping_json, "layers", "expected a list")
        by_name = {}
        for i, e in enumerate(entries):
            if not isinstance(e, dict) or "mapping" not in e:
                continue
            name = e.get("name")
            if name is not None and not isinstance(name, str):
                raise InputError(mapping_json, f"layers[{i}].name", f"expected a layer name, got {name!r}")
            if name in by_name:
                raise InputError(mapping_json, f"layers[{i}].name", f"a second mapping for layer {name!r} (also layers[{by_name[name][0]}])")
            by_name[name] = (i, e)
        keys = {
            layer.name: layer.name if layer.name in by_name else (None if None in by_name and len(selected) == 1 else layer.name)
            for layer in selected
        }
        # a selected layer without a mapping would silently vanish from the totals
        missing = [layer.name for layer in selected if keys[layer.name] not in by_name]
        if missing:
            shown = ", ".join(missing[:5]) + (f" and {len(missing) - 5} more" if len(missing) > 5 else "")
            problem_text = "no mapping for any selected layer of the workload" if len(missing) == len(selected) else (
                f"no mapping for layer{'s' if len(missing) > 1 else ''} {shown}"
            )
            raise InputError(mapping_json, "layers", f"{problem_text}; choose the layers it maps with --layers")
        for layer in selected:
            i, e = by_name[keys[layer.name]]
            c = problem.constraints(layer)
            lp = for_layer(problem, accs, layer)
            where = f"layers[{i}].mapping"
            m = mapping_from_json(e["mapping"], lp.accelerator, c.operand_links, layer.operands, mapping_json, where)
            for ad, dims in m.spatial.unrollings:
                for ld, _ in dims:
                    if ld not in layer.loop_sizes:
                        raise InputError(mapping_json, f"{where}.spatial.{ad}.{ld}", f"layer {layer.name} has no dimension {ld}")
            results.append(_evaluate_one(layer, lp, m, mapping_json, where))
    else:
        for layer in selected:
            lp = for_layer(problem, accs, layer)
            results.append(_evaluate_one(layer, lp, mapping_from_yaml(lp, layer), problem.mapping_file.path, "temporal_ordering"))
    return RunResult(problem.accelerator.name, problem.workload_name, "energy", "evaluate", results, problem.skipped_nodes)


def _evaluate_one(layer: Layer, problem: Problem, mapping: Mapping, path: str | Path, where: str) -> LayerResult:
    t0 = time.perf_counter()
    try:
        cost = evaluate(layer, problem.accelerator, mapping)
    except ValueError as exc:
        raise InputError(path, where, f"layer {layer.name}: {exc}") from None
    except InputError as exc:
        raise with_accelerator_path(exc, problem) from None
    return LayerResult(
        name=layer.name,
        loop_sizes=dict(layer.loop_sizes),
        status=Status.EVALUATED,
        mapping=mapping,
        cost=cost,
        solve_seconds=time.perf_counter() - t0,
    )


#: Layer types ZigZag's IMC flow does not cost. It only meets them in workload YAMLs: its ONNX front end, like
#: cpmap's, turns pooling and additions into placeholders. They still shape the data-locality graph.
IMC_UNCOSTED_TYPES = ("Pooling", "Add")


def with_accelerator_path(exc: InputError, problem: Problem) -> InputError:
    """The cost model's error about a memory (``memories.<name>...``) names the hardware file it came from."""
    if exc.path is None and (exc.field or "").startswith("memories.") and problem.accelerator_path is not None:
        return InputError(problem.accelerator_path, exc.field, exc.problem)
    return exc


def _select(problem: Problem, names: list[str] | None) -> list[Layer]:
    if not names:
        selected = list(problem.layers)
    else:
        known = {layer.name: layer for layer in problem.layers}
        for n in names:
            if n not in known:
                raise InputError(None, "--layers", f"unknown layer {n!r}")
        if len(set(names)) != len(names):
            twice = next(n for n in names if names.count(n) > 1)
            raise InputError(None, "--layers", f"layer {twice!r} is listed twice")
        selected = [known[n] for n in names]
    if problem.accelerator.array.imc is not None:
        selected = [layer for layer in selected if layer.operator_type not in IMC_UNCOSTED_TYPES]
        if not selected:
            raise InputError(
                None if names else problem.workload_name,
                "--layers" if names else None,
                f"no layer to cost: {', '.join(IMC_UNCOSTED_TYPES)} layers are not costed on an IMC accelerator",
            )
    return selected
