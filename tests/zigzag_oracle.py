"""Evaluate any given mapping with ZigZag 3.9.1's own cost model (the test oracle).

cpmap re-implements ZigZag's cost model; this module is how tests and benchmark scripts ask the *real* one
for the cost of a mapping expressed in cpmap's format:

* spatial mapping in ZigZag's user format, ``{"D1": {"K": 32}, "D2": {"C": 3}}`` (order matters: it is the order
  ZigZag's conversion walks, see cost_model.md §3.1);
* the temporal loops innermost first, ``[("FX", 7), ("FY", 7), ...]``;
* per layer operand, the memory-level index of every loop (0 = the operand's memory closest to the array), i.e.
  the allocator's split *before* the stationarity merge-down, as in ``TemporalMapping.mapping_dic_origin``;
* the layer-operand -> memory-operand links.

ZigZag objects are built directly (no pipeline stages, no search): the accelerator (parsed once per file and
cached), the ZigZag ``LayerNode``, the fractional + integer spatial mappings through
``SpatialMappingConversionStage.convert_user_spatial_mapping``, a ``TemporalMapping`` from the per-level loop
lists, then ``CostModelEvaluation``.  For benchmarks, :class:`ZigzagLayerContext` keeps everything that does not
depend on the temporal mapping, so repeated evaluations of one layer only pay for the cost model itself.

ZigZag (``pip install zigzag-dse==3.9.1 six``) is imported lazily inside the functions so that merely importing
this module never requires it; the test extra installs it (the tests import it directly).  Nothing here is imported by cpmap.
"""

from __future__ import annotations

import atexit
import copy
import functools
import json
import logging
import os
import shutil
import tempfile
import time
from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Any

import yaml

if TYPE_CHECKING:  # pragma: no cover - only for type checkers
    from zigzag.cost_model.cost_model import CostModelEvaluation
    from zigzag.hardware.architecture.accelerator import Accelerator
    from zigzag.mapping.temporal_mapping import TemporalMapping
    from zigzag.workload.layer_node import LayerNode

SpatialUser = Mapping[str, Mapping[str, int | float]]
Loops = Sequence[tuple[str, int]]
Levels = Mapping[str, Sequence[int]]

FIXTURE_DIR = os.path.join(os.path.dirname(os.path.abspath(__file__)), "fixtures", "zigzag391")

# ZigZag's own defaults when no mapping file says otherwise (MappingValidator's default links).
DEFAULT_LINKS: dict[str, str] = {"O": "O", "W": "I2", "I": "I1"}


def _quiet_zigzag() -> None:
    """ZigZag logs every layer and every capped unrolling; silence it (errors still raise)."""
    logging.getLogger("zigzag").setLevel(logging.ERROR)


# --------------------------------------------------------------------------------------------------------------
# Paths and parsing (cached)
# --------------------------------------------------------------------------------------------------------------


def zigzag_dir() -> str:
    """Folder of the installed ``zigzag`` package (it ships ``inputs/hardware``, ``inputs/mapping``, ...)."""
    import zigzag

    return os.path.dirname(zigzag.__file__)


def zigzag_path(path: str) -> str:
    """Resolve ``zigzag/inputs/...`` (as written in the fixtures) against the installed package; other paths as is."""
    if path.startswith("zigzag/") and not os.path.exists(path):
        return os.path.join(zigzag_dir(), path[len("zigzag/") :])
    return path


@functools.lru_cache(maxsize=None)
def _as_zigzag_reads_it(real_path: str, _mtime: float) -> str:
    folder = tempfile.mkdtemp(prefix="cpmap-zigzag-inputs-")
    atexit.register(shutil.rmtree, folder, True)
    with open(real_path) as fh:
        data = yaml.safe_load(fh)
    out = os.path.join(folder, os.path.basename(real_path))
    with open(out, "w") as fh:
        yaml.safe_dump(data, fh, sort_keys=False)
    return out


def cpmap_readable(path: str | os.PathLike) -> str:
    """A ZigZag input YAML as ZigZag's own parse sees it, for cpmap's loaders.

    ZigZag's ``inputs/hardware/tpu_like.yaml`` gives ``memories.sram_2MB.ports`` twice (a stale first block in
    an older format; PyYAML, and so ZigZag, keeps the last). cpmap refuses a repeated key, so its side of the
    parity tests reads a copy dumped from PyYAML's parse: the same data ZigZag reads, each key once.
    """
    return _as_zigzag_reads_it(*_file_key(str(path)))


def _file_key(path: str) -> tuple[str, float]:
    """Cache key of a file: its real path and modification time (so edited YAMLs are re-parsed)."""
    real = os.path.realpath(zigzag_path(path))
    return real, os.path.getmtime(real)


@functools.lru_cache(maxsize=64)
def _load_accelerator_cached(real_path: str, _mtime: float) -> "Accelerator":
    from zigzag.stages.parser.accelerator_parser import AcceleratorParserStage

    _quiet_zigzag()
    return AcceleratorParserStage.parse_accelerator(real_path)


def load_accelerator(hw_yaml_path: str) -> "Accelerator":
    """Parse a ZigZag hardware YAML once (cached per file); the cost model never mutates the Accelerator."""
    return _load_accelerator_cached(*_file_key(hw_yaml_path))


def _default_mapping_data(operand_links: Mapping[str, str] | None = None) -> list[dict[str, Any]]:
    """A minimal normalized mapping file (just a ``default`` entry).

    The mapping entry only contributes the spatial mapping, hint, temporal ordering and operand links to a
    LayerNode; the oracle overrides spatial mapping and links anyway, so layer geometry does not depend on it.
    """
    from zigzag.parser.mapping_validator import MappingValidator

    data = [{"name": "default", "memory_operand_links": dict(operand_links or DEFAULT_LINKS)}]
    validator = MappingValidator(data)
    normalized = validator.normalized_data
    if not validator.validate():
        raise ValueError(f"invalid default mapping data {data}")
    return normalized


@functools.lru_cache(maxsize=32)
def _layers_from_onnx_cached(onnx_real: str, _m1: float, mapping_real: str | None, _m2: float) -> dict[str, Any]:
    from zigzag.parser.onnx.onnx_model_parser import ONNXModelParser
    from zigzag.workload.layer_node import LayerNode

    _quiet_zigzag()
    if mapping_real is None:
        # ONNXModelParser insists on a YAML path; write the minimal default mapping to a temporary file.
        import yaml

        with tempfile.NamedTemporaryFile("w", suffix=".yaml", delete=False) as fh:
            yaml.safe_dump([{"name": "default", "memory_operand_links": dict(DEFAULT_LINKS)}], fh)
            tmp = fh.name
        try:
            workload = ONNXModelParser(onnx_real, tmp).run()
        finally:
            os.unlink(tmp)
    else:
        workload = ONNXModelParser(onnx_real, mapping_real).run()
    return {n.name: n for n in workload.topological_sort() if isinstance(n, LayerNode)}


def zigzag_layers_from_onnx(onnx_path: str, mapping_yaml_path: str | None = None) -> dict[str, "LayerNode"]:
    """ZigZag LayerNodes of an ONNX model, keyed by ONNX node name, in topological order (dummy nodes dropped).

    ``mapping_yaml_path`` supplies each layer's default spatial mapping and operand links; when omitted a
    ``default`` entry with ZigZag's default links is used.  Parsed once per (model, mapping) file.
    The returned nodes are shared: do not mutate them (the oracle always works on shallow copies).
    """
    onnx_key = _file_key(onnx_path)
    map_key: tuple[str | None, float] = _file_key(mapping_yaml_path) if mapping_yaml_path else (None, 0.0)
    return _layers_from_onnx_cached(*onnx_key, *map_key)


def zigzag_layers_from_yaml(
    workload: str | list[dict[str, Any]], mapping_yaml_path: str | None = None
) -> dict[str, "LayerNode"]:
    """ZigZag LayerNodes of a ZigZag workload YAML (path or already-loaded list of layer dicts), keyed by name.

    Layers without a ``name`` are keyed ``Layer<id>`` as ZigZag names them.
    """
    from zigzag.parser.workload_factory import WorkloadFactory
    from zigzag.parser.workload_validator import WorkloadValidator
    from zigzag.stages.parser.workload_parser import WorkloadParserStage
    from zigzag.utils import open_yaml

    _quiet_zigzag()
    data = open_yaml(zigzag_path(workload)) if isinstance(workload, str) else copy.deepcopy(workload)
    validator = WorkloadValidator(data)
    normalized = validator.normalized_data
    if not validator.validate():
        raise ValueError("invalid ZigZag workload data")
    mapping_data = (
        WorkloadParserStage.parse_mapping_data(zigzag_path(mapping_yaml_path))
        if mapping_yaml_path
        else _default_mapping_data()
    )
    wl = WorkloadFactory(normalized, mapping_data).create()
    return {n.name: n for n in wl.topological_sort()}


def zigzag_layer_from_yaml(
    workload: str | list[dict[str, Any]] | dict[str, Any],
    name: str | int | None = None,
    mapping_yaml_path: str | None = None,
) -> "LayerNode":
    """One LayerNode from a workload YAML / list of layer dicts (selected by name or id; default: the first),
    or from a single ZigZag layer-spec dict."""
    if isinstance(workload, dict):
        workload = [workload]
    layers = zigzag_layers_from_yaml(workload, mapping_yaml_path)
    if name is None:
        return next(iter(layers.values()))
    for key, node in layers.items():
        if key == name or node.id == name:
            return node
    raise KeyError(f"layer {name!r} not in workload (have {list(layers)})")


def _resolve_layer(layer: Any) -> "LayerNode":
    """Accept a LayerNode, a ZigZag layer-spec dict, or ``(onnx_or_yaml_path, node_name[, mapping_yaml])``."""
    from zigzag.workload.layer_node import LayerNode

    if isinstance(layer, LayerNode):
        return layer
    if isinstance(layer, dict):
        return zigzag_layer_from_yaml(layer)
    if isinstance(layer, (tuple, list)) and len(layer) in (2, 3):
        path, name = layer[0], layer[1]
        mapping = layer[2] if len(layer) == 3 else None
        if str(path).endswith(".onnx"):
            return zigzag_layers_from_onnx(path, mapping)[name]
        return zigzag_layer_from_yaml(path, name, mapping)
    raise TypeError(f"unsupported layer argument {type(layer)}")


# --------------------------------------------------------------------------------------------------------------
# Building ZigZag mapping objects
# --------------------------------------------------------------------------------------------------------------


def make_user_spatial_mapping(spatial_user: SpatialUser, oa_dim_sizes: Any) -> Any:
    """cpmap/user-format dict -> ZigZag ``SpatialMapping`` (user format), with array-dim sizes initialised.

    Dict order is kept: ZigZag's conversion depends on it (which array dim is "first with the largest unrolling").
    """
    from zigzag.datatypes import LayerDim, OADimension
    from zigzag.mapping.spatial_mapping import MappingSingleOADim, SpatialMapping

    sm = SpatialMapping(
        {
            OADimension(oa): MappingSingleOADim({LayerDim(ld): f for ld, f in dims.items()})
            for oa, dims in spatial_user.items()
        }
    )
    sm.initialize_oa_dims(oa_dim_sizes)
    return sm


def levels_to_level_lists(loops: Loops, levels: Sequence[int], n_levels: int) -> list[list[tuple[str, int]]]:
    """Per-loop level indices of one operand -> its per-level loop lists (``n_levels`` lists, innermost first).

    The levels must be non-decreasing along the loop order: each memory level holds a contiguous segment.
    """
    if len(levels) != len(loops):
        raise ValueError(f"{len(levels)} level indices for {len(loops)} loops")
    out: list[list[tuple[str, int]]] = [[] for _ in range(n_levels)]
    prev = 0
    for (dim, size), lv in zip(loops, levels):
        if lv < prev or not 0 <= lv < n_levels:
            raise ValueError(f"level sequence {list(levels)} is not a non-decreasing split into {n_levels} levels")
        out[lv].append((dim, size))
        prev = lv
    return out


def level_lists_to_levels(level_lists: Sequence[Sequence[Sequence[Any]]]) -> tuple[list[tuple[str, int]], list[int]]:
    """Inverse of :func:`levels_to_level_lists`: per-level loop lists -> (loops, per-loop level index)."""
    loops: list[tuple[str, int]] = []
    levels: list[int] = []
    for m, lv in enumerate(level_lists):
        for dim, size in lv:
            loops.append((str(dim), size))
            levels.append(m)
    return loops, levels


# --------------------------------------------------------------------------------------------------------------
# Results
# --------------------------------------------------------------------------------------------------------------


def _four_way(fw: Any) -> dict[str, float]:
    from zigzag.hardware.architecture.memory_port import DataDirection

    return {d.value: fw.get(d) for d in DataDirection}


def cme_results(cme: "CostModelEvaluation", detailed: bool = False) -> dict[str, Any]:
    """The reported quantities of one CostModelEvaluation as a plain dict (operand names as strings).

    ``onload`` / ``offload`` are short aliases of ``data_onloading_cycle`` / ``data_offloading_cycle``.
    ``detailed`` adds per-direction energies, word accesses and double-buffer flags (slower to convert).
    """
    res: dict[str, Any] = {
        "energy_total": cme.energy_total,
        "mac_energy": cme.mac_energy,
        "mem_energy": cme.mem_energy,
        "latency_total0": cme.latency_total0,
        "latency_total1": cme.latency_total1,
        "latency_total2": cme.latency_total2,
        "ideal_cycle": cme.ideal_cycle,
        "ideal_temporal_cycle": cme.ideal_temporal_cycle,
        "data_onloading_cycle": cme.data_onloading_cycle,
        "data_offloading_cycle": cme.data_offloading_cycle,
        "onload": cme.data_onloading_cycle,
        "offload": cme.data_offloading_cycle,
        "systolic_drain_cycle": getattr(cme, "systolic_drain_cycle", 0),
        "stall_slack_comb": cme.stall_slack_comb,
        "mem_energy_breakdown": {str(op): list(v) for op, v in cme.mem_energy_breakdown.items()},
    }
    if detailed:
        res["mem_energy_breakdown_further"] = {
            str(op): [_four_way(e) for e in lst] for op, lst in cme.mem_energy_breakdown_further.items()
        }
        res["memory_word_access"] = {str(op): [_four_way(a) for a in lst] for op, lst in cme.memory_word_access.items()}
        res["double_buffer_true"] = {str(op): list(v) for op, v in cme.double_buffer_true.items()}
        res["temporal_levels_stationary"] = {
            str(op): [[(str(d), s) for d, s in lv] for lv in lvls]
            for op, lvls in cme.temporal_mapping.mapping_dic_stationary.items()
        }
    return res


# --------------------------------------------------------------------------------------------------------------
# Prepared context (fast path) and one-shot API
# --------------------------------------------------------------------------------------------------------------


class ZigzagLayerContext:
    """Everything about (accelerator, layer, spatial mapping, operand links) that the temporal mapping does not change.

    Build once, then call :meth:`evaluate` / :meth:`cme` for many temporal mappings of that layer: the accelerator
    is parsed once per file, the spatial conversion is done once, and ZigZag's dim/operand objects (whose
    construction hashes their names with sha512) are interned.
    """

    def __init__(
        self,
        hw: "str | Accelerator",
        layer: Any,
        spatial_user: SpatialUser,
        operand_links: Mapping[str, str] | None = None,
        mapping_type: str = "uneven",
    ) -> None:
        from zigzag.datatypes import LayerDim, LayerOperand, MemoryOperand
        from zigzag.hardware.architecture.imc_array import ImcArray
        from zigzag.mapping.temporal_mapping import TemporalMappingType
        from zigzag.stages.mapping.spatial_mapping_conversion import SpatialMappingConversionStage
        from zigzag.workload.layer_attributes import MemoryOperandLinks

        _quiet_zigzag()
        self.accelerator = load_accelerator(hw) if isinstance(hw, str) else hw
        base = _resolve_layer(layer)

        # Shallow copy: the spatial mapping and links are per-evaluation attributes, the shared parsed node must
        # stay untouched (ZigZag's SpatialMappingGeneratorStage does the same).
        self.layer = copy.copy(base)
        old_links = base.memory_operand_links
        if operand_links is not None:
            by_name = {str(lo): lo for lo in old_links.layer_operands}
            by_name.update({str(lo): lo for lo in base.layer_operands})
            # Keep the layer's own operand order (it fixes the order of ZigZag's float sums), append any extras.
            names = [str(lo) for lo in old_links.layer_operands if str(lo) in operand_links]
            names += [n for n in operand_links if n not in names]
            self.layer.memory_operand_links = MemoryOperandLinks(
                {by_name.get(n, LayerOperand(n)): MemoryOperand(operand_links[n]) for n in names}
            )
        links = self.layer.memory_operand_links
        self.operand_links: dict[str, str] = {str(lo): str(mo) for lo, mo in links.layer_and_mem_ops()}

        # The cost model reads the *user-format* mapping from the layer for the systolic drain (cost_model.md §6.5).
        self.spatial_user: dict[str, dict[str, int | float]] = {oa: dict(d) for oa, d in spatial_user.items()}
        self.layer.spatial_mapping = make_user_spatial_mapping(
            self.spatial_user, self.accelerator.operational_array.dimension_sizes
        )
        conv = SpatialMappingConversionStage([None], accelerator=self.accelerator, layer=self.layer)  # type: ignore[list-item]
        self.spatial_mapping, self.spatial_mapping_int = conv.convert_user_spatial_mapping(self.layer.spatial_mapping)

        self.mapping_type = TemporalMappingType(mapping_type)
        self.is_imc = isinstance(self.accelerator.operational_array, ImcArray)
        mh = self.accelerator.memory_hierarchy
        self._ops: list[tuple[str, Any]] = [(str(lo), lo) for lo in links.layer_operands]
        self.chains: dict[str, list[str]] = {
            str(lo): [lvl.name for lvl in mh.get_memory_levels(mo)] for lo, mo in links.layer_and_mem_ops()
        }
        self.n_levels: dict[str, int] = {op: len(ch) for op, ch in self.chains.items()}
        self._dims: dict[str, Any] = {str(d): d for d in base.layer_dims}
        self._LayerDim = LayerDim

    # -- temporal mapping -------------------------------------------------------------------------------------

    def _dim(self, name: str) -> Any:
        d = self._dims.get(name)
        if d is None:
            d = self._dims[name] = self._LayerDim(name)
        return d

    def temporal_loop_sizes(self) -> dict[str, int]:
        """Temporal size per layer dim left by the (fractional) spatial mapping, as ZigZag's LOMA computes it."""
        from zigzag.opt.loma.engine import LomaEngine

        eng = LomaEngine(
            accelerator=self.accelerator,
            layer=self.layer,
            spatial_mapping=self.spatial_mapping,
            mapping_type=self.mapping_type,
        )
        return {str(d): int(s) for d, s in eng.get_temporal_loops().items()}

    def temporal_mapping(self, loops: Loops, levels: Levels) -> "TemporalMapping":
        """A ZigZag TemporalMapping from the loop order and per-operand per-loop level indices."""
        from zigzag.mapping.temporal_mapping import TemporalMapping

        loops = [(str(d), s) for d, s in loops]
        tm_dict = {}
        for name, lo in self._ops:
            lists = levels_to_level_lists(loops, levels[name], self.n_levels[name])
            tm_dict[lo] = [[(self._dim(d), s) for d, s in lv] for lv in lists]
        return TemporalMapping(tm_dict, self.layer, self.mapping_type)

    def temporal_mapping_from_lists(self, level_lists: Mapping[str, Sequence[Sequence[Sequence[Any]]]]) -> "TemporalMapping":
        """A ZigZag TemporalMapping from ``{operand: [[(dim, size), ...] per level]}`` (the fixtures' ``temporal_levels``)."""
        from zigzag.mapping.temporal_mapping import TemporalMapping

        tm_dict = {lo: [[(self._dim(str(d)), s) for d, s in lv] for lv in level_lists[name]] for name, lo in self._ops}
        return TemporalMapping(tm_dict, self.layer, self.mapping_type)

    def allocate(self, loops: Loops) -> dict[str, list[int]]:
        """ZigZag's LOMA memory allocator on one loop order -> per-operand per-loop level indices.

        Raises ZigZag's ``MemoryTooSmallException`` when the order does not fit.
        """
        from zigzag.opt.loma.memory_allocator import MemoryAllocator

        ordering = [(self._dim(str(d)), s) for d, s in loops]
        tm = MemoryAllocator(self.accelerator, self.layer, self.spatial_mapping, ordering, self.mapping_type).run()
        return {str(op): level_lists_to_levels(lvls)[1] for op, lvls in tm.mapping_dic_origin.items()}

    # -- evaluation -------------------------------------------------------------------------------------------

    def cme_from_temporal(self, tm: "TemporalMapping") -> "CostModelEvaluation":
        """Run ZigZag's cost model (the IMC variant on IMC arrays, as ZigZag's CostModelStage does)."""
        if self.is_imc:
            from zigzag.cost_model.cost_model_imc import CostModelEvaluationForIMC as CME
        else:
            from zigzag.cost_model.cost_model import CostModelEvaluation as CME
        return CME(
            accelerator=self.accelerator,
            layer=self.layer,
            spatial_mapping=self.spatial_mapping,
            spatial_mapping_int=self.spatial_mapping_int,
            temporal_mapping=tm,
            access_same_data_considered_as_no_access=True,  # what the API and the cost-model stage always use
        )

    def cme(self, loops: Loops, levels: Levels) -> "CostModelEvaluation":
        return self.cme_from_temporal(self.temporal_mapping(loops, levels))

    def evaluate(self, loops: Loops, levels: Levels, detailed: bool = False) -> dict[str, Any]:
        """Cost of one temporal mapping of this layer (see :func:`cme_results` for the keys)."""
        return cme_results(self.cme(loops, levels), detailed)


def zigzag_cost(
    hw_yaml_path: str,
    layer: Any,
    spatial_user: SpatialUser,
    loops: Loops,
    levels: Levels,
    operand_links: Mapping[str, str] | None = None,
    *,
    detailed: bool = False,
) -> dict[str, Any]:
    """Cost of one complete mapping according to ZigZag 3.9.1's cost model.

    @param hw_yaml_path ZigZag hardware YAML (``zigzag/inputs/...`` is resolved against the installed package).
    @param layer a ZigZag ``LayerNode`` (see :func:`zigzag_layers_from_onnx`, :func:`zigzag_layer_from_yaml`), a
        ZigZag workload layer-spec dict, or ``(onnx_or_workload_yaml_path, layer_name[, mapping_yaml])``.
    @param spatial_user user-format spatial mapping ``{"D1": {"K": 32}, "D2": {"C": 3}}`` (before conversion).
    @param loops temporal loops innermost first, ``[(dim, size), ...]``.
    @param levels per layer operand, the memory-level index (0 = closest to the array) of every loop of ``loops``.
    @param operand_links layer operand -> memory operand; default: the layer's own links.
    @return energy_total, mac_energy, mem_energy, latency_total0/1/2, onload, offload, ... (see cme_results).
    """
    ctx = ZigzagLayerContext(hw_yaml_path, layer, spatial_user, operand_links)
    return ctx.evaluate(loops, levels, detailed=detailed)


def measure_eval_cpu_time(
    ctx: ZigzagLayerContext, loops: Loops, levels: Levels, repeat: int = 20, warmup: int = 2
) -> float:
    """Mean CPU seconds (``time.process_time``) of one evaluation (TemporalMapping + CostModelEvaluation)."""
    for _ in range(warmup):
        ctx.cme(loops, levels)
    t0 = time.process_time()
    for _ in range(repeat):
        ctx.cme(loops, levels)
    return (time.process_time() - t0) / repeat


# --------------------------------------------------------------------------------------------------------------
# Fixtures (tests/fixtures/zigzag391/*.json written by scripts/gen_zigzag_fixtures.py)
# --------------------------------------------------------------------------------------------------------------


def fixture_paths(fixture_dir: str = FIXTURE_DIR) -> list[str]:
    if not os.path.isdir(fixture_dir):
        return []
    return sorted(os.path.join(fixture_dir, f) for f in os.listdir(fixture_dir) if f.endswith(".json"))


def load_fixture(path: str) -> dict[str, Any]:
    with open(path) as fh:
        return json.load(fh)


def fixture_layer_args(rec: Mapping[str, Any]) -> tuple[dict[str, dict[str, int]], list[tuple[str, int]], dict[str, list[int]], dict[str, str]]:
    """A fixture layer record -> ``(spatial_user, loops, levels, operand_links)`` for :func:`zigzag_cost`."""
    temporal = rec["mapping"]["temporal"]
    loops = [(t["dim"], t["size"]) for t in temporal]
    ops = rec["operand_links"].keys()
    levels = {op: [t["level"][op] for t in temporal] for op in ops}
    return rec["mapping"]["spatial"], loops, levels, dict(rec["operand_links"])


def fixture_context(fixture: Mapping[str, Any], rec: Mapping[str, Any]) -> ZigzagLayerContext:
    """Prepared context for one fixture layer (layers parsed from the fixture's ONNX model + mapping file)."""
    layers = zigzag_layers_from_onnx(zigzag_path(fixture["workload"]), zigzag_path(fixture["mapping_yaml"]))
    spatial, _, _, links = fixture_layer_args(rec)
    return ZigzagLayerContext(zigzag_path(fixture["hardware_yaml"]), layers[rec["name"]], spatial, links)
