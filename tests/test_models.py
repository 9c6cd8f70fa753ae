"""cpmap's bundled models: they load, they mean what ZigZag 3.9.1's example inputs mean, instances resolve."""

from __future__ import annotations

import functools
from pathlib import Path

import pytest
import yaml
import zigzag_oracle as zo

from cpmap.io.hardware_yaml import load_accelerator
from cpmap.io.mapping_yaml import load_mapping_yaml
from cpmap.io.workloads import load_workload

ROOT = Path(__file__).resolve().parents[1]
ACC_DIR = ROOT / "models" / "accelerators"
MAP_DIR = ROOT / "models" / "mappings"
INST_DIR = ROOT / "instances"

ACCELERATORS = [
    "tpu_like", "edge_tpu_like", "meta_prototype", "ascend_like", "tesla_npu_like",
    "gemm_l1", "gemm_l1_l3", "aimc", "dimc",
]
MAPPINGS = [
    "tpu_like", "tpu_like_mixed", "edge_tpu_like", "edge_tpu_like_mixed",
    "meta_prototype_like", "meta_prototype_like_mixed", "ascend_like", "ascend_like_mixed",
    "tesla_npu_like", "tesla_npu_like_mixed", "gemm_l1", "gemm_l1_l3", "default", "default_imc",
]
INSTANCES = sorted(INST_DIR.glob("*.yaml"))
INSTANCE_FIELDS = {"name", "workload", "accelerator", "mapping", "layers", "description"}


def _zigzag_inputs() -> Path:
    import zigzag
    return Path(zigzag.__file__).parent / "inputs"


def _array_facts(acc):
    a = acc.array
    return (
        a.dimensions, a.sizes, a.unit_energy, a.unit_area, a.systolic_dimensions,
        None if a.imc is None else dict(a.imc.values),
    )


def _memory_facts(m):
    i = m.instance
    ports = tuple((p.name, p.type, p.bw_min, p.bw_max, p.allocation) for p in m.ports)
    return (
        i.name, i.size, i.r_cost, i.w_cost, i.area, i.latency,
        m.operands, m.served_dimensions, m.force_double_buffering, ports,
    )


@pytest.mark.parametrize("name", ACCELERATORS)
def test_accelerator_loads(name):
    acc = load_accelerator(ACC_DIR / f"{name}.yaml")
    assert acc.name  # the name is the one ZigZag's example uses (e.g. npu_like for tesla_npu_like)
    assert acc.memories
    text = (ACC_DIR / f"{name}.yaml").read_text()
    assert text.startswith("# cpmap accelerator model")


@pytest.mark.parametrize("name", ACCELERATORS)
def test_accelerator_matches_zigzag(name):
    ours = load_accelerator(ACC_DIR / f"{name}.yaml")
    orig = load_accelerator(zo.cpmap_readable(_zigzag_inputs() / "hardware" / f"{name}.yaml"))
    assert ours.name == orig.name
    assert _array_facts(ours) == _array_facts(orig)
    assert [_memory_facts(m) for m in ours.memories] == [_memory_facts(m) for m in orig.memories]


def test_special_array_fields():
    assert load_accelerator(ACC_DIR / "tpu_like.yaml").array.systolic_dimensions == ("D1", "D2")
    for name, kind in (("aimc", "analog"), ("dimc", "digital")):
        imc = load_accelerator(ACC_DIR / f"{name}.yaml").array.imc
        assert imc is not None and imc.values["imc_type"] == kind


def test_tpu_like_keeps_only_effective_ports():
    data = yaml.safe_load((ACC_DIR / "tpu_like.yaml").read_text())
    ports = data["memories"]["sram_2MB"]["ports"]
    assert [p["name"] for p in ports] == ["r_port_1", "w_port_1"]
    assert (ACC_DIR / "tpu_like.yaml").read_text().count("ports:") == len(data["memories"])


def _entry_facts(e):
    return (e.name, e.spatial, dict(e.hint), dict(e.operand_links), e.temporal_ordering)


@pytest.mark.parametrize("name", MAPPINGS)
def test_mapping_loads(name):
    mf = load_mapping_yaml(MAP_DIR / f"{name}.yaml")
    assert any(e.name == "default" for e in mf.entries)


@pytest.mark.parametrize("name", MAPPINGS)
def test_mapping_matches_zigzag(name):
    ours = load_mapping_yaml(MAP_DIR / f"{name}.yaml")
    orig = load_mapping_yaml(_zigzag_inputs() / "mapping" / f"{name}.yaml")
    assert [_entry_facts(e) for e in ours.entries] == [_entry_facts(e) for e in orig.entries]


@functools.lru_cache(maxsize=None)
def _layer_names(workload: str) -> frozenset[str]:
    layers, _ = load_workload(ROOT / workload)
    return frozenset(layer.name for layer in layers)


def test_expected_instances_present():
    names = {p.stem for p in INSTANCES}
    digital = ["tpu_like", "edge_tpu_like", "meta_prototype", "ascend_like", "tesla_npu_like"]
    expected = {f"resnet18__{a}" for a in digital + ["aimc", "dimc"]}
    expected |= {"mobilenetv2__tpu_like", "alexnet__tpu_like", "toy__toy"}
    assert expected <= names
    assert (INST_DIR / "README.md").is_file()


@pytest.mark.parametrize("path", INSTANCES, ids=lambda p: p.stem)
def test_instance_resolves(path):
    data = yaml.safe_load(path.read_text())
    assert isinstance(data, dict)
    assert set(data) <= INSTANCE_FIELDS
    assert {"name", "workload", "accelerator", "mapping", "description"} <= set(data)
    assert data["name"] == path.stem
    assert isinstance(data["description"], str) and data["description"] and "\n" not in data["description"]
    for key in ("workload", "accelerator", "mapping"):
        assert not Path(data[key]).is_absolute()
        assert (ROOT / data[key]).is_file(), data[key]
    load_accelerator(ROOT / data["accelerator"])
    load_mapping_yaml(ROOT / data["mapping"])
    names = _layer_names(data["workload"])
    assert names
    layers = data.get("layers")
    if layers is not None:
        assert isinstance(layers, list) and layers
        missing = [n for n in layers if n not in names]
        assert not missing, missing
