"""The sweep specification (SPEC.yaml) and what it expands to: hardware variants and solve tasks.

A parameter is a dotted path into the hardware YAML (``memories.sram_2MB.size``,
``memories.sram_2MB.ports.r_port_1.bandwidth_max``, ``operational_array.sizes``, ``operational_array.sizes.0``,
``operational_array.adc_resolution``). A hardware variant is the base YAML document with the parameters set,
loaded through cpmap's own hardware loader, so every check of ``cpmap solve`` applies to it.

Memory costs follow sizes: a swept memory size takes its per-access energies and area from the spec's own
``zip`` values, or from a memory library (the smallest macro of the memory's word width with at least the
requested size: the variant gets the macro's size and costs), or the spec says ``keep_costs: true``.

Ids are hashes of the materialised inputs: a hardware id of the hardware document, a point id of the hardware
document, the workload and mapping files (name and content), the engine, the objective, the solve options and
cpmap's version. Rerunning a spec therefore finds the points it already solved, whatever else changed.
"""

from __future__ import annotations

import copy
import hashlib
import itertools
import json
from dataclasses import asdict, dataclass, replace
from functools import cached_property
from pathlib import Path
from typing import Any

from .. import __version__
from ..api import Problem, _check_links, load_problem
from ..area import AreaBreakdown, accelerator_area
from ..errors import InputError
from ..hardware import Accelerator
from ..io.common import field, read_yaml
from ..io.hardware_yaml import ARRAY_KEYS, MEMORY_KEYS, PORT_KEYS, TOP_KEYS, accelerator_from_data
from ..solve import SolveOptions, check_options, layer_groups

SWEEP_SCHEMA = "cpmap.sweep/1"

SPEC_KEYS = (
    "accelerator", "mapping", "accelerators", "workloads", "engines", "objectives", "options", "grid", "zip",
    "memory_library", "keep_costs",
)

#: spec option name (the CLI's, with '_' for '-') -> (SolveOptions field, accepted types)
OPTIONS: dict[str, tuple[str, type | tuple[type, ...]]] = {
    "time_limit": ("time_limit", float),
    "spatial_mappings": ("nb_spatial_mappings", int),
    "lpf_limit": ("lpf_limit", int),
    "mixed_spatial": ("mixed_spatial", bool),
    "max_space": ("max_space", int),
    "loma_hint": ("loma_hint", bool),
    "data_locality": ("data_locality", bool),
}

#: the fields of a memory whose values must follow its size
COST_FIELDS = ("r_cost", "w_cost", "area")


@dataclass(frozen=True, eq=False)
class BaseAccelerator:
    """A base hardware YAML (parsed document) and the mapping file that goes with it."""

    path: Path
    mapping: Path | None
    document: dict[str, Any]

    @property
    def name(self) -> str:
        return str(self.document.get("name", self.path.stem))


@dataclass(frozen=True)
class MemoryMacro:
    """One SRAM macro of a memory library: capacity (bits), word width (bits), energy per word (pJ), area."""

    name: str
    size: int
    bandwidth: int
    r_cost: float
    w_cost: float
    area: float


@dataclass(frozen=True, eq=False)
class SweepSpec:
    """A parsed, checked SPEC.yaml (paths resolved against the spec's folder)."""

    path: Path
    bases: tuple[BaseAccelerator, ...]
    workloads: tuple[Path, ...]
    engines: tuple[str, ...]
    objectives: tuple[str, ...]
    options: SolveOptions
    layers: tuple[str, ...] | None
    grid: tuple[tuple[str, tuple[Any, ...]], ...]
    zip: tuple[tuple[str, tuple[Any, ...]], ...]
    library: tuple[MemoryMacro, ...]
    #: memories whose swept size takes its costs from the library
    library_memories: tuple[str, ...]

    @property
    def parameters(self) -> tuple[str, ...]:
        """Every swept path, grid first, in the spec's order."""
        return tuple(p for p, _ in self.grid) + tuple(p for p, _ in self.zip)


@dataclass(frozen=True, eq=False)
class HardwarePoint:
    """One hardware variant: the materialised document, the loaded accelerator and its area."""

    hardware_id: str
    base: BaseAccelerator
    #: the swept parameters as materialised (after the memory library), in ``SweepSpec.parameters`` order
    values: tuple[tuple[str, Any], ...]
    document: dict[str, Any]
    accelerator: Accelerator
    area: AreaBreakdown
    #: memory name -> library macro that sized and costed it
    macros: tuple[tuple[str, str], ...] = ()

    def describe(self) -> str:
        vals = ", ".join(f"{p}={json.dumps(v)}" for p, v in self.values)
        return f"{self.base.name}" + (f" [{vals}]" if vals else "")


@dataclass(frozen=True, eq=False)
class SweepTask:
    """One unit of work: a workload mapped with one engine and objective on one hardware variant."""

    point: str
    hardware_id: str
    #: the materialised hardware YAML document (loaded again on the worker) and the name it has in messages
    hardware: dict[str, Any]
    hardware_label: str
    workload: str
    mapping: str | None
    options: SolveOptions
    layers: tuple[str, ...] | None

    @property
    def engine(self) -> str:
        return self.options.engine

    @property
    def objective(self) -> str:
        return self.options.objective

    @property
    def workload_name(self) -> str:
        return Path(self.workload).name


@dataclass(frozen=True, eq=False)
class SweepPlan:
    """A checked sweep: its hardware variants and its tasks (unique point ids, in the spec's order)."""

    spec: SweepSpec
    hardware: tuple[HardwarePoint, ...]
    tasks: tuple[SweepTask, ...]
    #: grid points that materialised to a hardware variant already in the sweep (e.g. the same library macro)
    duplicates: int = 0

    @cached_property
    def _by_id(self) -> dict[str, HardwarePoint]:
        return {h.hardware_id: h for h in self.hardware}

    def hardware_of(self, task: SweepTask) -> HardwarePoint:
        return self._by_id[task.hardware_id]


# ----------------------------------------------------------------------------------------------------------
# reading the spec
# ----------------------------------------------------------------------------------------------------------


def load_spec(path: str | Path) -> SweepSpec:
    """Parse and check a SPEC.yaml; bad input raises :class:`InputError` naming the spec and the field."""
    path = Path(path)
    data = read_yaml(path)
    if not isinstance(data, dict):
        raise InputError(path, None, "expected a mapping with accelerator, workloads, grid, ...")
    for key in data:
        if key not in SPEC_KEYS:
            raise InputError(path, str(key), f"unknown key (expected one of {', '.join(SPEC_KEYS)})")
    folder = path.parent
    bases = _bases(data, path, folder)
    workloads = _path_list(data, "workloads", path, folder)
    engines = tuple(_str_list(data, "engines", path, default=["cpsat"]))
    objectives = tuple(_str_list(data, "objectives", path, default=["energy"]))
    options, layers = _options(data, path)
    for e in engines:
        for o in objectives:
            try:
                check_options(replace(options, engine=e, objective=o))
            except InputError as exc:
                flag = (exc.field or "").lstrip("-").replace("-", "_")
                where = {"engine": "engines", "objective": "objectives"}.get(flag, f"options.{flag}")
                raise InputError(path, where, exc.problem) from None
    grid = _parameter_block(data, "grid", path)
    zipped = _parameter_block(data, "zip", path)
    lengths = {len(v) for _, v in zipped}
    if len(lengths) > 1:
        raise InputError(path, "zip", f"the lists of zip must have equal lengths, got {sorted(lengths)}")
    for p, _ in zipped:
        if p in dict(grid):
            raise InputError(path, f"zip.{p}", "also in grid: a parameter is either crossed (grid) or zipped")
    library = _library(data, path, folder)
    keep_costs = field(data, "keep_costs", bool, path, "", default=False)
    library_memories = _cost_sources(grid, zipped, library, keep_costs, path)
    return SweepSpec(
        path=path,
        bases=bases,
        workloads=workloads,
        engines=engines,
        objectives=objectives,
        options=options,
        layers=layers,
        grid=grid,
        zip=zipped,
        library=library,
        library_memories=library_memories,
    )


def _resolve(value: Any, where: str, path: Path, folder: Path) -> Path:
    if not isinstance(value, str) or not value:
        raise InputError(path, where, f"expected a file path, got {value!r}")
    p = Path(value)
    p = p if p.is_absolute() else folder / p
    if not p.is_file():
        raise InputError(path, where, f"file not found: {p}")
    return p.resolve()


def _bases(data: dict[str, Any], path: Path, folder: Path) -> tuple[BaseAccelerator, ...]:
    if ("accelerator" in data) == ("accelerators" in data):
        raise InputError(path, "accelerator", "give exactly one of 'accelerator' (one base hardware YAML) or 'accelerators' (a list)")
    default_mapping = _resolve(data["mapping"], "mapping", path, folder) if data.get("mapping") is not None else None
    if "accelerator" in data:
        items: list[tuple[Any, Any, str]] = [(data["accelerator"], None, "accelerator")]
    else:
        lst = data["accelerators"]
        if not isinstance(lst, list) or not lst:
            raise InputError(path, "accelerators", "expected a non-empty list of paths or {accelerator: ..., mapping: ...}")
        items = []
        for i, item in enumerate(lst):
            w = f"accelerators[{i}]"
            if isinstance(item, dict):
                for k in item:
                    if k not in ("accelerator", "mapping"):
                        raise InputError(path, f"{w}.{k}", "unknown key (expected accelerator, mapping)")
                items.append((item.get("accelerator"), item.get("mapping"), f"{w}.accelerator"))
            else:
                items.append((item, None, w))
    bases = []
    for acc, mapping, where in items:
        acc_path = _resolve(acc, where, path, folder)
        map_path = _resolve(mapping, where.replace(".accelerator", "") + ".mapping", path, folder) if mapping is not None else default_mapping
        doc = read_yaml(acc_path)
        accelerator_from_data(doc, acc_path)  # the base itself must be valid
        bases.append(BaseAccelerator(acc_path, map_path, doc))
    names = [b.name for b in bases]
    if len(set(names)) != len(names):
        raise InputError(path, "accelerators", f"two base accelerators have the same name: {names}")
    return tuple(bases)


def _path_list(data: dict[str, Any], key: str, path: Path, folder: Path) -> tuple[Path, ...]:
    value = data.get(key)
    if isinstance(value, str):
        value = [value]
    if not isinstance(value, list) or not value:
        raise InputError(path, key, "expected a non-empty list of files")
    out = tuple(_resolve(v, f"{key}[{i}]", path, folder) for i, v in enumerate(value))
    if len({p.name for p in out}) != len(out):
        raise InputError(path, key, "two workloads have the same file name (results are named by it)")
    return out


def _str_list(data: dict[str, Any], key: str, path: Path, default: list[str]) -> list[str]:
    value = data.get(key, default)
    if isinstance(value, str):
        value = [value]
    if not isinstance(value, list) or not value or not all(isinstance(v, str) for v in value):
        raise InputError(path, key, f"expected a non-empty list of names, got {value!r}")
    if len(set(value)) != len(value):
        raise InputError(path, key, "duplicate entry")
    return value


def _options(data: dict[str, Any], path: Path) -> tuple[SolveOptions, tuple[str, ...] | None]:
    raw = field(data, "options", dict, path, "", default={})
    values: dict[str, Any] = {}
    layers = None
    for key, value in raw.items():
        name = str(key).replace("-", "_")
        if name == "layers":
            if isinstance(value, str):
                value = [v for v in value.split(",") if v]
            if not isinstance(value, list) or not value or not all(isinstance(v, str) for v in value):
                raise InputError(path, f"options.{key}", "expected a list of layer names")
            layers = tuple(value)
            continue
        if name not in OPTIONS:
            raise InputError(path, f"options.{key}", f"unknown option (choose from {', '.join([*OPTIONS, 'layers'])})")
        attr, kind = OPTIONS[name]
        if name == "spatial_mappings" and isinstance(raw.get(key), str):
            from ..cli import spatial_option  # a count, 'all' or 'auto', as on the command line

            try:
                values[attr] = spatial_option(raw[key])
            except InputError as exc:
                raise InputError(path, f"options.{key}", exc.problem) from None
            continue
        values[attr] = field(raw, key, kind, path, "options")
    return SolveOptions(**values), layers


def _parameter_block(data: dict[str, Any], key: str, path: Path) -> tuple[tuple[str, tuple[Any, ...]], ...]:
    block = field(data, key, dict, path, "", default={})
    out = []
    for p, values in block.items():
        if not isinstance(p, str) or not p:
            raise InputError(path, key, f"a parameter must be a dotted path, got {p!r}")
        if not isinstance(values, list) or not values:
            raise InputError(path, f"{key}.{p}", "expected a non-empty list of values")
        out.append((p, tuple(values)))
    return tuple(out)


def _library(data: dict[str, Any], path: Path, folder: Path) -> tuple[MemoryMacro, ...]:
    if data.get("memory_library") is None:
        return ()
    lib_path = _resolve(data["memory_library"], "memory_library", path, folder)
    return load_memory_library(lib_path)


def load_memory_library(path: str | Path) -> tuple[MemoryMacro, ...]:
    """A YAML list of SRAM macros ``{name, size, bandwidth, r_cost, w_cost, area}`` (bits, bits, pJ per word)."""
    data = read_yaml(path)
    if not isinstance(data, list) or not data:
        raise InputError(path, None, "expected a non-empty list of macros {name, size, bandwidth, r_cost, w_cost, area}")
    out = []
    for i, d in enumerate(data):
        w = f"[{i}]"
        size = field(d, "size", int, path, w)
        bandwidth = field(d, "bandwidth", int, path, w)
        if size < 1 or bandwidth < 1:
            raise InputError(path, f"{w}.size", "size and bandwidth must be positive")
        costs = [field(d, k, float, path, w) for k in COST_FIELDS]
        for k, v in zip(COST_FIELDS, costs):
            if v < 0:
                raise InputError(path, f"{w}.{k}", f"must be >= 0, got {v}")
        name = str(field(d, "name", (str, int), path, w, default=f"macro{i}"))
        out.append(MemoryMacro(name, size, bandwidth, *costs))
    return tuple(out)


def _memory_size_path(p: str) -> str | None:
    """The memory name of a ``memories.<name>.size`` path, else None."""
    seg = p.split(".")
    return seg[1] if len(seg) == 3 and seg[0] == "memories" and seg[2] == "size" else None


def _cost_sources(grid, zipped, library, keep_costs: bool, path: Path) -> tuple[str, ...]:
    """The memories whose swept size is costed by the library; refuse a size sweep with no cost source."""
    zipped_paths = {p for p, _ in zipped}
    swept = {p for p, _ in grid} | zipped_paths
    from_library = []
    for block, params in (("grid", grid), ("zip", zipped)):
        for p, _ in params:
            mem = _memory_size_path(p)
            if mem is None:
                continue
            cost_paths = [f"memories.{mem}.{k}" for k in COST_FIELDS]
            if block == "zip" and all(c in zipped_paths for c in cost_paths):
                continue  # the spec gives the costs of every size
            if library:
                clash = [c for c in cost_paths if c in swept]
                if clash:
                    raise InputError(path, clash[0], f"memory {mem} takes its costs from the memory_library; do not sweep them too")
                from_library.append(mem)
            elif not keep_costs:
                raise InputError(
                    path,
                    f"{block}.{p}",
                    f"sweeping the size of memory {mem} would keep the per-access energy and area of the original size; "
                    f"give memories.{mem}.r_cost, .w_cost and .area in zip with the size, a memory_library, or keep_costs: true",
                )
    return tuple(from_library)


# ----------------------------------------------------------------------------------------------------------
# parameters: dotted paths into the hardware document
# ----------------------------------------------------------------------------------------------------------


def _locate(doc: dict[str, Any], p: str) -> tuple[Any, Any]:
    """(container, key) that parameter ``p`` names in ``doc``; ValueError saying what is unknown."""
    seg = p.split(".")
    if seg[0] not in TOP_KEYS:
        raise ValueError(f"unknown parameter: {seg[0]!r} is not a hardware YAML key ({', '.join(TOP_KEYS)})")
    if seg[0] == "name":
        if len(seg) > 1:
            raise ValueError("unknown parameter: 'name' has no fields")
        return doc, "name"
    if seg[0] == "operational_array":
        arr = doc.get("operational_array")
        if len(seg) < 2 or seg[1] not in ARRAY_KEYS or not isinstance(arr, dict):
            raise ValueError(f"unknown parameter: expected operational_array.<{'|'.join(ARRAY_KEYS)}>")
        return _element(arr, seg[1], seg[2:])
    mems = doc.get("memories")
    if len(seg) < 3:
        raise ValueError("unknown parameter: expected memories.<memory>.<field>")
    if not isinstance(mems, dict) or seg[1] not in mems or not isinstance(mems[seg[1]], dict):
        raise ValueError(f"unknown parameter: no memory {seg[1]!r} (memories: {', '.join(mems or {})})")
    mem = mems[seg[1]]
    if seg[2] not in MEMORY_KEYS:
        raise ValueError(f"unknown parameter: {seg[2]!r} is not a memory field ({', '.join(MEMORY_KEYS)})")
    if seg[2] == "ports" and len(seg) > 3:
        ports = mem.get("ports") if isinstance(mem.get("ports"), list) else []
        names = [q.get("name") for q in ports if isinstance(q, dict)]
        if seg[3] in names:
            port = ports[names.index(seg[3])]
        elif seg[3].isdigit() and int(seg[3]) < len(ports):
            port = ports[int(seg[3])]
        else:
            raise ValueError(f"unknown parameter: memory {seg[1]} has no port {seg[3]!r} (ports: {', '.join(map(str, names))})")
        if len(seg) < 5 or seg[4] not in PORT_KEYS:
            raise ValueError(f"unknown parameter: expected ...ports.{seg[3]}.<{'|'.join(PORT_KEYS)}>")
        return _element(port, seg[4], seg[5:])
    return _element(mem, seg[2], seg[3:])


def _element(container: dict[str, Any], key: str, rest: list[str]) -> tuple[Any, Any]:
    if not rest:
        return container, key
    value = container.get(key)
    if len(rest) == 1 and rest[0].isdigit() and isinstance(value, list) and int(rest[0]) < len(value):
        return value, int(rest[0])
    raise ValueError(f"unknown parameter: {key!r} has no element {'.'.join(rest)!r}")


def get_parameter(doc: dict[str, Any], p: str) -> Any:
    """The value of parameter ``p`` in a hardware document (None when an optional key is absent)."""
    container, key = _locate(doc, p)
    return container[key] if isinstance(container, list) else container.get(key)


def set_parameter(doc: dict[str, Any], p: str, value: Any) -> None:
    """Set parameter ``p`` in a hardware document in place (ValueError for an unknown path)."""
    container, key = _locate(doc, p)
    container[key] = copy.deepcopy(value)


# ----------------------------------------------------------------------------------------------------------
# expansion: hardware variants, tasks
# ----------------------------------------------------------------------------------------------------------


def assignments(spec: SweepSpec) -> list[tuple[tuple[str, Any], ...]]:
    """Every combination: the grid's cross product (last key fastest) crossed with the zip's rows."""
    grid_paths = [p for p, _ in spec.grid]
    zip_rows = list(zip(*[v for _, v in spec.zip])) if spec.zip else [()]
    zip_paths = [p for p, _ in spec.zip]
    out = []
    for combo in itertools.product(*[v for _, v in spec.grid]):
        for row in zip_rows:
            out.append(tuple(zip(grid_paths, combo)) + tuple(zip(zip_paths, row)))
    return out


def digest(obj: Any, length: int = 16) -> str:
    """A stable hash of a JSON-able object (keys sorted)."""
    text = json.dumps(obj, sort_keys=True, separators=(",", ":"), default=str)
    return hashlib.sha256(text.encode()).hexdigest()[:length]


def file_digest(path: str | Path) -> str:
    return hashlib.sha256(Path(path).read_bytes()).hexdigest()


def materialise(spec: SweepSpec, base: BaseAccelerator, assignment: tuple[tuple[str, Any], ...]) -> HardwarePoint:
    """The hardware variant of one assignment: parameters set, library macros applied, loaded and checked."""
    doc = copy.deepcopy(base.document)
    block_of = {p: "grid" for p, _ in spec.grid} | {p: "zip" for p, _ in spec.zip}
    for p, value in assignment:
        try:
            set_parameter(doc, p, value)
        except ValueError as exc:
            raise InputError(spec.path, f"{block_of[p]}.{p}", f"{exc} in {base.path.name}") from None
    where = ", ".join(f"{p}={json.dumps(v)}" for p, v in assignment)
    label = f"{base.path.name} [{where}]" if where else base.path.name
    acc = _load_variant(spec, doc, label)
    macros = []
    for mem in spec.library_memories:
        level = acc.memory_by_name[mem]
        bandwidth = max(port.bw_max for port in level.ports)
        fits = [m for m in spec.library if m.bandwidth == bandwidth and m.size >= level.size]
        if not fits:
            widths = sorted({m.bandwidth for m in spec.library})
            raise InputError(
                spec.path,
                "memory_library",
                f"no macro of word width {bandwidth} bits with at least {level.size} bits for memory {mem} of {label} (library word widths: {widths})",
            )
        macro = min(fits, key=lambda m: m.size)  # first of the smallest, in library order
        for k, v in (("size", macro.size), ("r_cost", macro.r_cost), ("w_cost", macro.w_cost), ("area", macro.area)):
            doc["memories"][mem][k] = v
        macros.append((mem, macro.name))
    if macros:
        acc = _load_variant(spec, doc, label)
    values = tuple((p, get_parameter(doc, p)) for p in spec.parameters)
    return HardwarePoint(digest(doc, 12), base, values, doc, acc, accelerator_area(acc), tuple(macros))


def _load_variant(spec: SweepSpec, doc: dict[str, Any], label: str) -> Accelerator:
    try:
        return accelerator_from_data(doc, label)
    except InputError as exc:
        raise InputError(spec.path, f"point {label}", f"{exc.field}: {exc.problem}" if exc.field else exc.problem) from None


def task_options(spec: SweepSpec, engine: str, objective: str) -> SolveOptions:
    """The solve options of one task: the spec's, with one engine and objective, one process."""
    return replace(spec.options, engine=engine, objective=objective, jobs=1)


def point_id(hw: HardwarePoint, workload: Path, mapping: Path | None, options: SolveOptions, layers: tuple[str, ...] | None) -> str:
    """Hash of everything a task's result depends on (``jobs`` excluded: results do not depend on it)."""
    opts = {k: v for k, v in asdict(options).items() if k != "jobs"}
    return digest(
        {
            "schema": SWEEP_SCHEMA,
            "cpmap": __version__,
            "hardware": hw.document,
            "workload": [workload.name, file_digest(workload)],
            "mapping": [mapping.name, file_digest(mapping)] if mapping is not None else None,
            "options": opts,
            "layers": list(layers) if layers else None,
        }
    )


def plan_sweep(spec: SweepSpec) -> SweepPlan:
    """Materialise every hardware variant and check every (variant, workload) as ``cpmap solve`` would before
    solving (links, layer names, spatial mappings), so bad input stops the sweep before anything is written."""
    hardware: list[HardwarePoint] = []
    seen: set[str] = set()
    duplicates = 0
    for base in spec.bases:
        for assignment in assignments(spec):
            hw = materialise(spec, base, assignment)
            if hw.hardware_id in seen:
                duplicates += 1
                continue
            seen.add(hw.hardware_id)
            hardware.append(hw)
    tasks = []
    for base in spec.bases:
        variants = [h for h in hardware if h.base is base]
        for workload in spec.workloads:
            template = _load(spec, workload, base.path, base.mapping, base.path.name)
            for hw in variants:
                _preflight(spec, template, hw, workload)
                for engine in spec.engines:
                    for objective in spec.objectives:
                        options = task_options(spec, engine, objective)
                        pid = point_id(hw, workload, base.mapping, options, spec.layers)
                        tasks.append(
                            SweepTask(
                                point=pid,
                                hardware_id=hw.hardware_id,
                                hardware=hw.document,
                                hardware_label=f"hardware/{hw.hardware_id}.yaml",
                                workload=str(workload),
                                mapping=str(base.mapping) if base.mapping is not None else None,
                                options=options,
                                layers=spec.layers,
                            )
                        )
    return SweepPlan(spec, tuple(hardware), tuple(tasks), duplicates)


def _load(spec: SweepSpec, workload: Path, accelerator: Path | Accelerator, mapping: Path | None, label: str) -> Problem:
    try:
        return load_problem(workload, accelerator, mapping)
    except InputError as exc:
        raise InputError(spec.path, f"point {label}, workload {workload.name}", str(exc)) from None


def _preflight(spec: SweepSpec, template: Problem, hw: HardwarePoint, workload: Path) -> None:
    """What ``solve_problem`` checks before it solves anything (links, layer names, spatial candidates), on one
    variant: a variant the mapping file does not fit (e.g. an unrolling larger than a swept array) is exit 2
    before any work."""
    problem = replace(template, accelerator=hw.accelerator)
    where = f"point {hw.describe()}, workload {workload.name}"
    try:
        for layer in problem.layers:
            _check_links(problem, layer, str(hw.base.mapping) if hw.base.mapping is not None else None)
        layer_groups(problem, task_options(spec, spec.engines[0], spec.objectives[0]), list(spec.layers) if spec.layers else None)
    except InputError as exc:
        if exc.field == "--layers":
            raise InputError(spec.path, "options.layers", f"workload {workload.name}: {exc.problem}") from None
        raise InputError(spec.path, where, str(exc)) from None
