"""IMC macro model (cpmap.imc) against zigzag-dse 3.9.1's ImcArray and the worked examples of imc_model.md.

- the shipped aimc.yaml / dimc.yaml: every macro metric equal to ZigZag's (parsed by ZigZag in the same run);
- differential: 300 seeded random valid IMC configurations, every metric and breakdown within 1e-9 relative;
- array energy for a given activity (the layer formula of section 7.2) against ZigZag's get_energy_for_a_layer;
- every number of the worked examples (sections 3, 7.4, 7.5, 12.1, 12.2, 12.3);
- bad input: one line naming the file and the field, exit 2.
"""

from __future__ import annotations

import json
import math
import random
from pathlib import Path

import pytest
from typer.testing import CliRunner

from cpmap.cli import app
from cpmap.errors import InputError
from cpmap.hardware import ImcParameters
from cpmap.imc import (
    TECH_28NM,
    ArrayActivity,
    ImcMacro,
    activity_energy,
    adder_tree_energy,
    adder_tree_fa_counts,
    precharge_energy_per_pe,
)
from cpmap.imc.tech import adc_area, adc_delay, adc_energy, dac_energy
from cpmap.io.hardware_yaml import load_accelerator

ROOT = Path(__file__).resolve().parents[1]
AIMC = ROOT / "models/accelerators/aimc.yaml"
DIMC = ROOT / "models/accelerators/dimc.yaml"
REL = 1e-9
runner = CliRunner()


def close(a: float, b: float, rel: float = REL) -> bool:
    return abs(a - b) <= rel * max(abs(a), abs(b)) or (a == 0 == b)


def approx(x: float, rel: float = 1e-12):
    return pytest.approx(x, rel=rel, abs=1e-15)


def rounded(x: float, decimals: int):
    """The spec prints its numbers rounded: equal to that many decimals."""
    return pytest.approx(x, abs=0.51 * 10**-decimals)


# --------------------------------------------------------------------------------------------------------------
# ZigZag oracle
# --------------------------------------------------------------------------------------------------------------


def _zz_parse(path: Path):
    import zigzag  # noqa: F401 (the test extra installs it)
    import logging

    from zigzag.stages.parser.accelerator_parser import AcceleratorParserStage

    logging.getLogger("zigzag").setLevel(logging.ERROR)
    return AcceleratorParserStage.parse_accelerator(str(path)).operational_array


def _zz_array(m: ImcMacro, dims: list[str] | None = None, sizes: list[int] | None = None):
    """ZigZag's ImcArray built from the same parameters (dims/sizes default to D1, D2, D3)."""
    import zigzag  # noqa: F401 (the test extra installs it)
    from zigzag.datatypes import OADimension
    from zigzag.hardware.architecture.imc_array import ImcArray

    if dims is None:
        dims, sizes = ["D1", "D2", "D3"], [m.wordline, m.bitline, m.macros]
    return ImcArray(
        is_analog_imc=m.imc_type == "analog",
        bit_serial_precision=m.bit_serial_precision,
        input_precision=[m.activation_precision, m.weight_precision],
        adc_resolution=m.adc_resolution,
        cells_size=m.group_bits,
        cells_area=m.cells_area,
        dimension_sizes={OADimension(d): s for d, s in zip(dims, sizes)},
    )


def _compare(ours: ImcMacro, zz) -> float:
    """Max relative difference over every macro metric and breakdown term; asserts each within REL."""
    x = ours.metrics
    pairs = [
        ("tclk", x.tclk_ns, zz.tclk),
        ("area", x.area_mm2, zz.area),
        ("tops", x.tops, zz.tops_peak),
        ("tops_per_w", x.tops_per_w, zz.topsw_peak),
        ("tops_per_mm2", x.tops_per_mm2, zz.topsmm2_peak),
        ("peak_energy", x.peak_energy_pj, sum(zz.get_peak_energy_single_cycle().values())),
    ]
    pairs += [(f"area.{k}", v, zz.area_breakdown[k]) for k, v in x.area_breakdown.items]
    pairs += [(f"tclk.{k}", v, zz.tclk_breakdown[k]) for k, v in x.tclk_breakdown.items]
    zz_energy = zz.get_peak_energy_single_cycle()
    pairs += [(f"energy.{k}", v, zz_energy[k]) for k, v in x.energy_breakdown.items]
    assert [k for k, _ in x.area_breakdown.items] == list(zz.area_breakdown)
    assert [k for k, _ in x.energy_breakdown.items] == list(zz_energy)
    worst = 0.0
    for name, a, b in pairs:
        assert close(a, b), (name, a, b, ours)
        if a != b:
            worst = max(worst, abs(a - b) / max(abs(a), abs(b)))
    return worst


# --------------------------------------------------------------------------------------------------------------
# The shipped example accelerators
# --------------------------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "path, tclk, area",
    [(AIMC, 14.07244, 2.2878123152749223), (DIMC, 3.75708, 0.8018113023999999)],
    ids=["aimc", "dimc"],
)
def test_example_accelerators_equal_zigzag(path, tclk, area):
    ours = ImcMacro.from_accelerator(load_accelerator(path))
    zz = _zz_parse(path)
    assert _compare(ours, zz) <= REL
    # the values of ZigZag's own tests (tests/main/test_imc)
    assert ours.metrics.tclk_ns == approx(tclk) and zz.tclk == approx(tclk)
    assert ours.metrics.area_mm2 == approx(area) and zz.area == approx(area)
    assert round(ours.metrics.area_mm2, 5) == {AIMC: 2.28781, DIMC: 0.80181}[path]


# --------------------------------------------------------------------------------------------------------------
# Differential: random valid configurations
# --------------------------------------------------------------------------------------------------------------

N_RANDOM = 300


def _random_macro(rng: random.Random) -> tuple[ImcMacro, list[str], list[int]]:
    analog = rng.random() < 0.5
    b_a = rng.choice([1, 2, 4, 8, 16])
    b_w = rng.choice([1, 2, 4, 8, 16])
    b_c = rng.choice([c for c in (1, 2, 4, 8, 16) if c <= b_a])
    n_c = rng.choice([1, 2, 3, 7, 16, 32, 48, 64, 100, 128, 256, 512])
    if analog:
        n_r = rng.choice([1, 2, 5, 16, 24, 32, 64, 100, 128, 256, 1024])
        r = rng.choice([1, 2, 3, 4, 5, 6, 7, 8, 10, 12, b_c + 0.5 * int(math.log2(n_r))])
    else:
        n_r = rng.choice([1, 2, 4, 8, 16, 32, 64, 128, 256, 512, 1024])
        r = 0
    extra = rng.choice([[], [], [rng.choice([2, 3, 4, 8])], [2, rng.choice([2, 3])]])
    dims = ["D1", "D2"] + [f"D{i + 3}" for i in range(len(extra))]
    sizes = [n_c, n_r] + extra
    m = ImcMacro(
        imc_type="analog" if analog else "digital",
        wordline=n_c,
        bitline=n_r,
        macros=math.prod(extra),
        activation_precision=b_a,
        weight_precision=b_w,
        bit_serial_precision=b_c,
        adc_resolution=r,
        cells_size=b_w * rng.choice([1, 1, 2, 4, 32]),
        cells_area=rng.choice([0.0, 0.0, rng.uniform(1e-7, 1e-5)]),
    )
    return m, dims, sizes


def test_random_configurations_equal_zigzag():
    rng = random.Random(20240611)
    worst = 0.0
    kinds = set()
    for _ in range(N_RANDOM):
        m, dims, sizes = _random_macro(rng)
        worst = max(worst, _compare(m, _zz_array(m, dims, sizes)))
        kinds.add((m.imc_type, m.has_accumulator, m.macros > 1, m.pv_inputs > 1))
    assert worst <= REL
    assert len(kinds) >= 12  # AIMC/DIMC x accumulator x macros x place-value tree all exercised


def test_random_yaml_files_equal_zigzag(tmp_path):
    """The same through both YAML parsers (wordline/bitline taken from the sorted dim names)."""
    rng = random.Random(7)
    base = AIMC.read_text().split("operational_array:")[0]
    for i in range(25):
        m, dims, sizes = _random_macro(rng)
        order = list(range(len(dims)))
        rng.shuffle(order)
        lines = [
            "operational_array:",
            "  is_imc: true",
            f"  imc_type: {m.imc_type}",
            f"  input_precision: [{m.activation_precision}, {m.weight_precision}]",
            f"  bit_serial_precision: {m.bit_serial_precision}",
            *([f"  adc_resolution: {m.adc_resolution}"] if m.is_analog else []),
            f"  dimensions: [{', '.join(dims[j] for j in order)}]",
            f"  sizes: [{', '.join(str(sizes[j]) for j in order)}]",
        ]
        text = base.replace("    size: 8\n", f"    size: {m.group_bits}\n", 1).replace(
            "    area: 0\n", f"    area: {m.cells_area!r}\n", 1
        )
        p = tmp_path / f"hw{i}.yaml"
        p.write_text(text + "\n".join(lines) + "\n")
        ours = ImcMacro.from_accelerator(load_accelerator(p))
        assert ours == m
        assert _compare(ours, _zz_parse(p)) <= REL


# --------------------------------------------------------------------------------------------------------------
# Array energy for a given activity (section 7.2) and the partial adder tree (section 7.4)
# --------------------------------------------------------------------------------------------------------------


def test_activity_energy_equals_zigzag_layer_formula():
    """ZigZag's get_energy_for_a_layer with its mapping extraction replaced by the same counts."""
    rng = random.Random(99)
    for _ in range(200):
        m, dims, sizes = _random_macro(rng)
        zz = _zz_array(m, dims, sizes)
        rows = rng.choice([1, 2, 3, m.bitline, max(1, m.bitline // 2), rng.randint(1, m.bitline)])
        cols = rng.choice([1, m.wordline, rng.randint(1, m.wordline)])
        acts = rng.choice([1.0, 64.0, rng.uniform(1, 1e4)])
        pre = rng.choice([0.0, rng.uniform(0, 50)])
        zz.get_mapped_oa_dim = lambda *a, r=rows, c=cols, n=acts: (r, r, c, n)  # type: ignore[method-assign]
        zz.get_precharge_energy = lambda *a, p=pre: (p, 1)  # type: ignore[method-assign]
        expect = zz.get_energy_for_a_layer(None, None)
        got = activity_energy(m, ArrayActivity(rows, cols, acts, pre))
        assert list(got) == list(expect)
        for k in expect:
            assert close(got[k], expect[k]), (k, got[k], expect[k], m, rows, cols, acts)


def test_adder_tree_equals_zigzag():
    zz = _zz_array(ImcMacro("digital", 4, 4, 1, 8, 8, 1))
    for physical in (1, 2, 4, 8, 16, 64, 128, 256):
        for width in (1, 3, 8):
            for active in list(range(0, physical + 3)) + [0.5, 2.5]:
                assert close(
                    adder_tree_energy(active, physical, width),
                    zz.get_regular_adder_trees_energy(width, active, physical),
                )


def test_adder_tree_worked_examples():
    # section 7.4
    assert adder_tree_fa_counts(64, 128, 8) == (561, 14)
    assert adder_tree_energy(64, 128, 8) == approx(1.932336)
    assert adder_tree_fa_counts(128, 128, 8) == (1136, 0)
    assert adder_tree_energy(128, 128, 8) == approx(3.864672)
    for b in (1, 4, 8):
        assert adder_tree_fa_counts(3, 8, b) == (2 * b + 1, 2 * b + 2)
    assert adder_tree_energy(0, 128, 8) == 0


# --------------------------------------------------------------------------------------------------------------
# Worked examples: section 3 (constants and primitives), 7.5, 12.1, 12.2, 12.3
# --------------------------------------------------------------------------------------------------------------


def test_constants_and_primitives():
    t = TECH_28NM
    assert (t.tech_node_um, t.vdd) == (0.028, 0.9)
    assert t.nd2_cap == approx(0.7e-3) and t.wl_cap == approx(0.35e-3) and t.bl_cap == approx(0.35e-3)
    assert t.xor2_cap == approx(1.05e-3) and t.dff_cap == approx(2.1e-3)
    assert t.nd2_area == approx(0.614e-6) and t.xor2_area == approx(1.4736e-6) and t.dff_area == approx(3.684e-6)
    assert t.nd2_dly == 0.0478 and t.xor2_dly == approx(0.11472)
    assert t.fa_energy == approx(3.402e-3)
    assert t.fa_half_energy == approx(1.701e-3)
    assert t.mult_energy == approx(2.835e-4)
    assert t.dff_energy == approx(1.701e-3)
    assert t.fa_area == approx(4.7892e-6)
    assert t.mult_area == approx(0.614e-6)
    assert t.fa_dly_in2sum == approx(0.22944)
    assert t.fa_dly_in2cout == approx(0.21032)
    assert t.fa_dly_cin2cout == approx(0.0956)
    assert t.mult_dly == 0.0478
    assert t.bl_energy == approx(2.835e-4)  # section 7.6
    # section 3 analog blocks: ADC area 0 for R in {0, 1}, no cost at R = 0, no DAC for 1-bit slices
    assert adc_area(0) == adc_area(1) == 0 and adc_delay(0, 128) == 0 and adc_energy(0) == 0
    assert dac_energy(1) == 0


def test_adc_dac_worked_examples():
    # sections 7.5 and 12.1
    assert 10 ** (-0.0369 * 8 + 1.206) == rounded(8.1432919, 7)
    assert adc_area(8) == approx(8.1432919e-3 * 256 / 1000, rel=1e-8)
    assert adc_area(8) == rounded(2.0846827e-3, 10)
    assert adc_delay(8, 128) == approx(11.80672)
    assert adc_energy(8) == approx(0.70108416)
    assert dac_energy(2) == approx(0.081)


def _aimc() -> ImcMacro:
    return ImcMacro.from_accelerator(load_accelerator(AIMC))


def _dimc() -> ImcMacro:
    return ImcMacro.from_accelerator(load_accelerator(DIMC))


def test_worked_example_aimc():
    m = _aimc()
    assert (m.wordline, m.bitline, m.macros, m.activation_precision, m.weight_precision) == (128, 128, 1, 8, 8)
    assert (m.bit_serial_precision, m.adc_resolution, m.group_bits, m.group_depth) == (2, 8, 8, 1)
    assert m.cycles_per_op == 4 and m.adder_depth == 7
    assert (m.pv_inputs, m.pv_input_width, m.fa_per_pv_tree, m.pv_output_width) == (8, 8, 76, 16)
    assert m.accumulator_width == 24
    x = m.metrics
    a = x.area_breakdown
    assert a["adcs"] == rounded(2.1347151, 7)
    assert a["mults"] == rounded(0.0804782, 7)
    assert a["adders_pv"] == rounded(0.0465893, 7)
    assert a["accumulators"] == rounded(0.0260297, 7)
    assert a["cells"] == a["dacs"] == a["adders_regular"] == 0
    assert x.area_mm2 == approx(2.2878123152749223)
    t = x.tclk_breakdown
    assert t["adcs"] == approx(11.80672)
    assert t["mults"] == approx(0.0478)
    assert t["adders_pv"] == approx(1.3384)
    assert t["accumulators"] == approx(0.87952)
    assert x.tclk_ns == approx(14.07244)
    e = x.energy_breakdown
    assert e["dacs"] == approx(10.368)
    assert e["adcs"] == rounded(717.9101798, 7)
    assert e["mults"] == approx(37.158912)
    assert e["analog_bl_addition"] == approx(37.158912)
    assert e["adders_pv"] == approx(33.094656)
    assert e["accumulators"] == approx(15.676416)
    assert x.peak_energy_pj == rounded(851.367076, 6)
    assert x.macs_per_cycle == 4096
    assert x.tops == rounded(0.5821307, 7)
    assert x.tops_per_w == rounded(9.6221715, 7)
    # the spec prints "207.86 fJ/MAC" here and in 12.3; 1000 * 851.367076 / 4096 = 207.853 (a rounding slip)
    assert x.fj_per_mac == rounded(207.853, 3) and 2000 / x.tops_per_w == approx(x.fj_per_mac)
    assert x.tops_per_mm2 == rounded(0.2544486, 7)


def test_worked_example_dimc():
    m = _dimc()
    assert (m.bit_serial_precision, m.adc_resolution, m.cycles_per_op, m.adder_depth) == (1, 0, 8, 7)
    assert m.fa_per_regular_tree == 1136 and m.n_regular_trees == 128 and m.regular_tree_width == 15
    assert (m.pv_inputs, m.fa_per_pv_tree, m.pv_output_width) == (1, 0, 15)
    assert m.accumulator_width == 23
    x = m.metrics
    a = x.area_breakdown
    assert a["mults"] == rounded(0.0804782, 7)
    assert a["adders_regular"] == rounded(0.6963880, 7)
    assert a["accumulators"] == rounded(0.0249451, 7)
    assert a["adcs"] == a["adders_pv"] == 0
    assert x.area_mm2 == approx(0.8018113023999999)
    t = x.tclk_breakdown
    assert t["mults"] == approx(0.0478)
    assert t["adders_regular"] == approx(2.82976)
    assert t["accumulators"] == approx(0.87952)
    assert x.tclk_ns == approx(3.75708)
    e = x.energy_breakdown
    assert e["mults"] == approx(37.158912)
    assert e["adders_regular"] == approx(494.678016)
    assert e["accumulators"] == approx(15.023232)
    assert x.peak_energy_pj == approx(546.860160)
    assert x.macs_per_cycle == 2048
    assert x.tops == rounded(1.0902084, 7)
    assert x.tops_per_w == rounded(7.4900318, 7)
    assert x.fj_per_mac == rounded(267.02, 2)
    assert x.tops_per_mm2 == rounded(1.3596819, 7)


def test_worked_example_layer_mac_energy():
    """Section 12.3: pointwise K=C=128, OX=OY=8 (and C=64), D1 {K:128}, D2 {C}, A = 64 macro activations."""
    aimc, dimc = _aimc(), _dimc()
    e = activity_energy(aimc, ArrayActivity(mapped_rows=128, mapped_cols=128, macro_activations=64))
    assert e["dacs"] == approx(2654.208)
    assert e["adcs"] == rounded(183785.006, 3)
    assert e["mults"] == rounded(9512.681, 3)
    assert e["analog_bl_addition"] == rounded(9512.681, 3)
    assert e["adders_pv"] == rounded(8472.232, 3)
    assert e["accumulators"] == rounded(4013.162, 3)
    assert e.total == rounded(217949.971, 3)
    assert 1000 * e.total / (128 * 128 * 64) == rounded(207.853, 3)
    assert e.total / (128 * 128 * 64) == approx(aimc.metrics.peak_energy_pj / aimc.metrics.macs_per_cycle)
    d = activity_energy(dimc, ArrayActivity(128, 128, 64))
    assert d["mults"] == rounded(19025.363, 3)
    assert d["adders_regular"] == rounded(253275.144, 3)
    assert d["accumulators"] == rounded(7691.895, 3)
    assert d.total == rounded(279992.402, 3)
    assert 1000 * d.total / (128 * 128 * 64) == rounded(267.02, 2)
    # under-utilised variant, C = 64
    e64 = activity_energy(aimc, ArrayActivity(64, 128, 64))
    for k in ("adcs", "analog_bl_addition", "adders_pv", "accumulators"):
        assert e64[k] == e[k]
    assert e64["dacs"] == approx(1327.104)
    assert e64["mults"] == rounded(4756.341, 3)
    assert e64.total == rounded(211866.527, 3)
    assert 1000 * e64.total / (64 * 128 * 64) == rounded(404.10, 2)
    d64 = activity_energy(dimc, ArrayActivity(64, 128, 64))
    assert d64["mults"] == d["mults"]
    assert d64["adders_regular"] == rounded(126637.572, 3)
    assert d64.total == rounded(153354.830, 3)
    assert 1000 * d64.total / (64 * 128 * 64) == rounded(292.50, 2)


def test_precharge_energy_per_pe():
    """Section 7.8: (C_wl V^2 + C_bl V^2 M) B_w per cell group with M > 1 weights, 0 otherwise."""
    assert precharge_energy_per_pe(_dimc()) == 0
    m = ImcMacro("digital", 128, 128, 1, 8, 8, 1, cells_size=16)
    assert m.group_depth == 2
    assert precharge_energy_per_pe(m) == approx((0.35e-3 * 0.81 + 0.35e-3 * 0.81 * 2) * 8)


# --------------------------------------------------------------------------------------------------------------
# Parameters and bad input
# --------------------------------------------------------------------------------------------------------------


def test_imc_parameters_yaml_view_and_defaults():
    acc = load_accelerator(DIMC)
    p = acc.array.imc
    assert isinstance(p, ImcParameters)
    assert p.values == {
        "is_imc": True, "imc_type": "digital", "input_precision": [8, 8], "bit_serial_precision": 1, "adc_resolution": 0,
    }
    assert (p.activation_precision, p.weight_precision, p.cycles_per_op, p.is_analog) == (8, 8, 8.0, False)
    with pytest.raises(InputError, match="bit_serial_precision"):
        ImcParameters("digital", (8, 8), 16)


def _hw(tmp_path: Path, src: Path, old: str, new: str) -> Path:
    text = src.read_text()
    assert old in text, old
    p = tmp_path / "hw.yaml"
    p.write_text(text.replace(old, new, 1))
    return p


BAD_CASES = {
    # name: (source, old, new, field, words in the problem)
    "zero_rows": (AIMC, "sizes: [128, 128]", "sizes: [128, 0]", "operational_array.sizes[1]", "positive"),
    "zero_cols": (DIMC, "sizes: [128, 128]", "sizes: [0, 128]", "operational_array.sizes[0]", "positive"),
    "one_dim": (AIMC, "dimensions: [D1, D2]\n  sizes: [128, 128]", "dimensions: [D1]\n  sizes: [128]", "operational_array.dimensions", "2 dimensions"),
    "adc_zero_analog": (AIMC, "adc_resolution: 8", "adc_resolution: 0", "operational_array.adc_resolution", "> 0"),
    "adc_missing_analog": (AIMC, "  adc_resolution: 8\n", "", "operational_array.adc_resolution", "> 0"),
    "adc_negative": (AIMC, "adc_resolution: 8", "adc_resolution: -2", "operational_array.adc_resolution", ">= 0"),
    "adc_digital": (DIMC, "bit_serial_precision: 1", "bit_serial_precision: 1\n  adc_resolution: 4", "operational_array.adc_resolution", "no ADC"),
    "adc_text": (AIMC, "adc_resolution: 8", "adc_resolution: high", "operational_array.adc_resolution", "expected"),
    "unknown_type": (AIMC, "imc_type: analog", "imc_type: optical", "operational_array.imc_type", "'analog' or 'digital'"),
    "missing_type": (AIMC, "  imc_type: analog\n", "", "operational_array.imc_type", "missing"),
    "bsp_gt_act": (AIMC, "bit_serial_precision: 2", "bit_serial_precision: 16", "operational_array.bit_serial_precision", "exceeds"),
    "bsp_not_pow2": (AIMC, "bit_serial_precision: 2", "bit_serial_precision: 3", "operational_array.bit_serial_precision", "power of 2"),
    "bsp_fraction": (AIMC, "bit_serial_precision: 2", "bit_serial_precision: 0.5", "operational_array.bit_serial_precision", "power of 2"),
    "bsp_missing": (DIMC, "  bit_serial_precision: 1\n", "", "operational_array.bit_serial_precision", "missing"),
    "act_not_pow2": (AIMC, "input_precision: [8, 8]", "input_precision: [7, 8]", "operational_array.input_precision[0]", "power of 2"),
    "w_zero": (DIMC, "input_precision: [8, 8]", "input_precision: [8, 0]", "operational_array.input_precision[1]", "power of 2"),
    "prec_three": (DIMC, "input_precision: [8, 8]", "input_precision: [8, 8, 8]", "operational_array.input_precision", "activation bits, weight bits"),
    "prec_missing": (DIMC, "  input_precision: [8, 8]\n", "", "operational_array.input_precision", "missing"),
    "dimc_rows_not_pow2": (DIMC, "sizes: [128, 128]", "sizes: [128, 100]", "operational_array.sizes[1]", "power of 2"),
    "cells_not_multiple": (AIMC, "  cells:\n    size: 8", "  cells:\n    size: 12", "memories.cells.size", "multiple of the weight precision 8"),
    "cells_operands": (DIMC, "    operands: [I2]", "    operands: [I1, I2]", "memories.cells.operands", "[I2]"),
    "cells_served": (DIMC, "          - \"I2, tl\"\n    served_dimensions: []", "          - \"I2, tl\"\n    served_dimensions: [D1]", "memories.cells.served_dimensions", "must be []"),
    "cells_missing": (AIMC, "  cells:\n", "  weights:\n", "memories.cells", "named 'cells'"),
    "cells_negative_area": (AIMC, "    w_cost: 0.095\n    area: 0", "    w_cost: 0.095\n    area: -1", "memories.cells.area", ">= 0"),
}


@pytest.mark.parametrize("case", sorted(BAD_CASES))
def test_bad_imc_input_one_line_exit_2(tmp_path, case):
    src, old, new, fld, words = BAD_CASES[case]
    p = _hw(tmp_path, src, old, new)
    with pytest.raises(InputError) as err:
        load_accelerator(p)
    assert err.value.field == fld and words in err.value.problem, str(err.value)
    res = runner.invoke(app, ["imc", str(p)])
    assert res.exit_code == 2, res.output
    lines = [ln for ln in res.output.splitlines() if ln.strip()]
    assert len(lines) == 1, res.output
    assert lines[0].startswith("cpmap: error: ") and str(p) in lines[0] and fld in lines[0] and words in lines[0]
    assert "Traceback" not in res.output


def test_bad_input_not_imc_and_missing_file(tmp_path):
    res = runner.invoke(app, ["imc", str(ROOT / "models/accelerators/toy.yaml")])
    assert res.exit_code == 2 and "operational_array.is_imc" in res.output and "toy.yaml" in res.output
    res = runner.invoke(app, ["imc", str(tmp_path / "nothere.yaml")])
    assert res.exit_code == 2 and "nothere.yaml" in res.output and "file not found" in res.output


# --------------------------------------------------------------------------------------------------------------
# CLI: cpmap imc HW.yaml [--json]
# --------------------------------------------------------------------------------------------------------------


def test_cli_imc_json():
    res = runner.invoke(app, ["imc", str(AIMC), "--json"])
    assert res.exit_code == 0, res.output
    doc = json.loads(res.output)
    for k in ("tclk_ns", "area_mm2", "tops", "tops_per_w", "tops_per_mm2"):
        assert k in doc
    assert doc["tclk_ns"] == approx(14.07244) and doc["area_mm2"] == approx(2.2878123152749223)
    assert doc["tops_per_w"] == approx(_aimc().metrics.tops_per_w)
    assert doc["imc_type"] == "analog" and doc["accelerator"] == "aimc"


def test_cli_imc_text():
    res = runner.invoke(app, ["imc", str(DIMC)])
    assert res.exit_code == 0, res.output
    assert "3.75708" in res.output and "0.801811" in res.output and "TOP/s/W" in res.output
