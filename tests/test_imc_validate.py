"""`cpmap imc validate`: the 7 chips of ZigZag-IMC's validation (AIMC1-3, DIMC1-4).

- cpmap's integrated-model values for every chip equal zigzag-dse 3.9.1's ImcArray on the same macro (1e-9);
- for the chips where the model applies (28 nm / 0.9 V, fits the YAML template: AIMC2, DIMC1-4) the shipped
  hardware YAMLs give the same macro through cpmap's and ZigZag's parsers;
- the reported and validation-script figures are those of the shared data file;
- the table says where and why model and silicon differ; the chart and CSV are written.
"""

from __future__ import annotations

import csv
import json
import logging
import math
import xml.etree.ElementTree as ET
from pathlib import Path

import pytest
from typer.testing import CliRunner

from cpmap.cli import app
from cpmap.imc import ImcMacro
from cpmap.imc.validation import DEFAULT_CHIPS_FILE, load_chips, validation_rows, write_charts
from cpmap.io.hardware_yaml import load_accelerator

ROOT = Path(__file__).resolve().parents[1]
CHIP_DIR = ROOT / "models" / "imc_chips"
SHARED_DATA = Path(__file__).resolve().parent / "fixtures/imc_chips.json"
NAMES = ["AIMC1", "AIMC2", "AIMC3", "DIMC1", "DIMC2", "DIMC3", "DIMC4"]
APPLIES = {"AIMC2", "DIMC1", "DIMC2", "DIMC3", "DIMC4"}
runner = CliRunner()


def _zz_metrics(m: ImcMacro) -> dict[str, float]:
    import zigzag  # noqa: F401 (the test extra installs it)
    from zigzag.datatypes import OADimension
    from zigzag.hardware.architecture.imc_array import ImcArray

    logging.getLogger("zigzag").setLevel(logging.ERROR)
    a = ImcArray(
        is_analog_imc=m.is_analog,
        bit_serial_precision=m.bit_serial_precision,
        input_precision=[m.activation_precision, m.weight_precision],
        adc_resolution=m.adc_resolution,
        cells_size=m.group_bits,
        cells_area=m.cells_area,
        dimension_sizes={OADimension("D1"): m.wordline, OADimension("D2"): m.bitline, OADimension("D3"): m.macros},
    )
    return {"tclk_ns": a.tclk, "area_mm2": a.area, "tops": a.tops_peak, "tops_per_w": a.topsw_peak, "tops_per_mm2": a.topsmm2_peak}


def test_chip_set():
    chips = load_chips()
    assert [c.name for c in chips] == NAMES
    assert {c.name for c in chips if c.model_applies} == APPLIES
    for c in chips:
        # the model applies exactly to the chips at its fixed 28 nm / 0.9 V
        assert c.model_applies == (c.tech_nm == 28 and c.vdd == 0.9)
        assert c.differences and c.applies_note and c.condition


def test_integrated_model_equals_zigzag_on_every_chip():
    """The 'integrated' column is ZigZag's own integrated model on the chip's macro."""
    rows = validation_rows()
    assert len(rows) == 7
    for row in rows:
        ours = row.model.to_json()
        for k, v in _zz_metrics(row.chip.macro).items():
            assert ours[k] == pytest.approx(v, rel=1e-9), (row.chip.name, k)


@pytest.mark.parametrize("name", sorted(APPLIES))
def test_chip_yaml_files_equal_template_and_zigzag(name):
    import zigzag  # noqa: F401 (the test extra installs it)
    from zigzag.stages.parser.accelerator_parser import AcceleratorParserStage

    chip = {c.name: c for c in load_chips()}[name]
    path = CHIP_DIR / f"{name.lower()}.yaml"
    ours = ImcMacro.from_accelerator(load_accelerator(path))
    assert ours == chip.macro
    logging.getLogger("zigzag").setLevel(logging.ERROR)
    zz = AcceleratorParserStage.parse_accelerator(str(path)).operational_array
    x = ours.metrics
    for a, b in ((x.tclk_ns, zz.tclk), (x.area_mm2, zz.area), (x.tops_per_w, zz.topsw_peak), (x.tops, zz.tops_peak)):
        assert a == pytest.approx(b, rel=1e-9)
    res = runner.invoke(app, ["imc", str(path), "--json"])
    assert res.exit_code == 0, res.output
    assert json.loads(res.output)["tops_per_w"] == pytest.approx(x.tops_per_w, rel=1e-12)


def test_no_yaml_for_chips_outside_the_model():
    assert not (CHIP_DIR / "aimc1.yaml").exists() and not (CHIP_DIR / "aimc3.yaml").exists()
    aimc1 = {c.name: c for c in load_chips()}["AIMC1"].macro
    assert aimc1.activation_precision == 7  # not a power of 2: ZigZag's YAML validator rejects it


def test_figures_are_those_of_the_shared_data():
    data = json.loads(SHARED_DATA.read_text())["chips"]
    for c in load_chips():
        d = data[c.name]
        rep, scr = d["reported"], d["model_validation_script"]
        assert (c.reported.tops_per_w, c.reported.area_mm2, c.reported.tclk_ns) == (rep["TOPS_per_W"], rep["area_mm2"], rep["tclk_ns"])
        assert (c.script.tops_per_w, c.script.area_mm2, c.script.tclk_ns) == (scr["TOPS_per_W"], scr["area_mm2"], scr["tclk_ns"])
        assert c.imc_type == d["type"] and c.tech_nm == d["tech_nm"] and c.vdd == d["vdd_V"]
        m = c.macro
        b_a, b_w, _ = (int(x) for x in d["precision_in_w_out"].split("/"))
        assert (m.activation_precision, m.weight_precision, m.bit_serial_precision) == (b_a, b_w, d["bits_per_cycle"])
        assert m.adc_resolution == (d["adc_bits"] or 0)
        assert (m.bitline, m.macros) == (d["script_params"]["input_channel"], d["script_params"]["banks"])
        # the cell array's area is the script's CACTI bank area
        assert m.metrics.area_breakdown["cells"] == pytest.approx(scr["area_breakdown_mm2"]["area_banks"], rel=1e-12)
        # the template's peak throughput is the chip's (from the scripts' own op counts), except AIMC2
        chip_macs = d["derived_from_repo_params"]["peak_TOPS"] * rep["tclk_ns"] * 1000 / 2
        if c.name != "AIMC2":
            assert m.macs_per_cycle == pytest.approx(chip_macs, rel=1e-9)
        # the script's own ratios (energy ratio = inverse of the TOP/s/W ratio)
        row = validation_rows((c,))[0]
        assert row.ratio("script", "area_mm2") == pytest.approx(scr["ratio_area"], rel=1e-9)
        assert row.ratio("script", "tclk_ns") == pytest.approx(scr["ratio_tclk"], rel=1e-9)
        assert 1 / row.ratio("script", "tops_per_w") == pytest.approx(scr["ratio_energy"], rel=1e-6)


def test_cli_validate_table_chart_csv(tmp_path):
    res = runner.invoke(app, ["imc", "validate", "--output-dir", str(tmp_path)])
    assert res.exit_code == 0, res.output
    out = res.output
    for n in NAMES:
        assert n in out
    assert "AIMC1*" in out and "AIMC3*" in out and "DIMC1*" not in out
    assert out.count("model does NOT apply") == 2 and out.count("model applies") == 5
    assert "100 % switching" in out and "Where and why model and silicon differ" in out
    svg = tmp_path / "imc_validation.svg"
    root = ET.parse(svg).getroot()
    texts = [t.text for t in root.iter("{http://www.w3.org/2000/svg}text")]
    assert all(texts.count(n + ("" if n in APPLIES else "*")) == 3 for n in NAMES)
    bars = [g.get("id") for g in root.iter("{http://www.w3.org/2000/svg}g") if " | " in (g.get("id") or "")]
    assert len(bars) == 2 * 3 * 7
    dimc3 = {c.name: c for c in load_chips()}["DIMC3"]
    assert f"DIMC3 | integrated | {dimc3.macro.metrics.tops_per_w / 19.5:.3g}" in bars
    assert (tmp_path / "imc_validation.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    with (tmp_path / "imc_validation.csv").open() as fh:
        rows = list(csv.DictReader(fh))
    assert len(rows) == 21
    dimc3 = next(r for r in rows if r["chip"] == "DIMC3" and r["metric"] == "tops_per_w")
    model = {c.name: c for c in load_chips()}["DIMC3"].macro.metrics.tops_per_w
    assert float(dimc3["integrated"]) == pytest.approx(model, rel=1e-12)
    assert float(dimc3["integrated_over_reported"]) == pytest.approx(model / 19.5, rel=1e-12)


def test_cli_validate_json(tmp_path):
    res = runner.invoke(app, ["imc", "validate", "--json", "-o", str(tmp_path)])
    assert res.exit_code == 0, res.output
    doc = json.loads(res.output)
    assert [c["chip"] for c in doc["chips"]] == NAMES
    for c in doc["chips"]:
        assert c["model_applies"] == (c["chip"] in APPLIES)
        r = c["ratio_integrated"]["tops_per_w"]
        assert math.isclose(r, c["integrated"]["tops_per_w"] / c["reported"]["tops_per_w"], rel_tol=1e-12)


def test_charts_are_self_contained_and_deterministic(tmp_path):
    rows = validation_rows()
    first = [p.read_bytes() for p in write_charts(rows, tmp_path / "a")]
    again = [p.read_bytes() for p in write_charts(rows, tmp_path / "b")]
    assert first == again  # no date, no random ids
    svg = first[1].decode()
    assert "<svg" in svg and "<script" not in svg and "<image" not in svg and 'href="http' not in svg


def test_cli_validate_bad_chips_file(tmp_path):
    bad = tmp_path / "chips.yaml"
    bad.write_text(DEFAULT_CHIPS_FILE.read_text().replace("      bitline: 16\n", "      bitline: zero\n", 1))
    res = runner.invoke(app, ["imc", "validate", "--chips", str(bad), "-o", str(tmp_path)])
    assert res.exit_code == 2
    lines = [ln for ln in res.output.splitlines() if ln.strip()]
    assert len(lines) == 1 and "chips.yaml" in lines[0] and "chips.AIMC2.template.bitline" in lines[0]


def test_cli_output_dir_only_for_validate(tmp_path):
    res = runner.invoke(app, ["imc", str(CHIP_DIR / "dimc1.yaml"), "--output-dir", str(tmp_path)])
    assert res.exit_code == 2 and "--output-dir" in res.output


def test_readme_ratios():
    """The integrated-model TOP/s/W ratios quoted in the README."""
    ratios = {r.chip.name: round(r.ratio("integrated", "tops_per_w"), 2) for r in validation_rows()}
    assert {k: ratios[k] for k in sorted(APPLIES)} == {"AIMC2": 0.14, "DIMC1": 0.20, "DIMC2": 0.33, "DIMC3": 0.39, "DIMC4": 0.03}
