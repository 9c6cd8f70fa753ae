"""The command line: `cpmap evaluate` end to end, and bad input -> one line naming file and field, exit 2."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from typer.testing import CliRunner

from cpmap.cli import app

ROOT = Path(__file__).resolve().parents[1]
TOY_WL = ROOT / "models/networks/toy_conv.yaml"
TOY_HW = ROOT / "models/accelerators/toy.yaml"
TOY_MAP = ROOT / "models/mappings/toy.yaml"
runner = CliRunner()


def _run(*args: str):
    return runner.invoke(app, [str(a) for a in args])


def test_evaluate_toy_prints_table_and_writes_json(tmp_path):
    out = tmp_path / "r.json"
    res = _run("evaluate", TOY_WL, "--accelerator", TOY_HW, "--mapping", TOY_MAP, "--output", out)
    assert res.exit_code == 0, res.output
    assert "1362" in res.output and "69" in res.output
    doc = json.loads(out.read_text())
    assert doc["schema"] == "cpmap.result/1"
    layer = doc["layers"][0]
    assert (layer["energy"], layer["latency"]) == (1362, 69)
    assert [t["dim"] for t in layer["mapping"]["temporal"]] == ["FX", "OX", "C"]
    assert layer["mapping"]["temporal"][0]["memory"] == {"O": "o_reg", "W": "w_reg", "I": "i_reg"}
    # the written mapping evaluates back to the same numbers
    res2 = _run("evaluate", TOY_WL, "--accelerator", TOY_HW, "--mapping-file", out)
    assert res2.exit_code == 0, res2.output
    assert "1362" in res2.output


def _bad_yaml(tmp_path: Path, name: str, text: str) -> Path:
    p = tmp_path / name
    p.write_text(text)
    return p


def _hw_with(tmp_path: Path, old: str, new: str) -> Path:
    return _bad_yaml(tmp_path, "hw.yaml", TOY_HW.read_text().replace(old, new, 1))


@pytest.mark.parametrize(
    "case, expect",
    [
        ("missing_file", ["nothere.yaml", "file not found"]),
        ("malformed_yaml", ["hw.yaml", "malformed YAML"]),
        ("missing_field", ["hw.yaml", "memories.w_reg.size", "missing"]),
        ("mistyped_field", ["hw.yaml", "memories.w_reg.r_cost", "expected a number"]),
        ("unknown_link", ["map.yaml", "memory_operand_links.W", "I3"]),
        ("unstored_link", ["map.yaml", "memory_operand_links", "no memory"]),
        ("not_onnx", ["model.onnx", "not an ONNX model"]),
        ("bad_result_json", ["r.json", "malformed JSON"]),
    ],
)
def test_bad_input_one_line_exit_2(tmp_path, case, expect):
    wl, hw, mp, extra = TOY_WL, TOY_HW, TOY_MAP, []
    if case == "missing_file":
        hw = tmp_path / "nothere.yaml"
    elif case == "malformed_yaml":
        hw = _bad_yaml(tmp_path, "hw.yaml", "name: x\nmemories: [a, b\n")
    elif case == "missing_field":
        hw = _hw_with(tmp_path, "    size: 24\n", "")
    elif case == "mistyped_field":
        hw = _hw_with(tmp_path, "r_cost: 1.0", "r_cost: cheap")
    elif case == "unknown_link":
        mp = _bad_yaml(tmp_path, "map.yaml", TOY_MAP.read_text().replace("W: I2", "W: I3"))
    elif case == "unstored_link":
        text = TOY_HW.read_text().replace("operands: [I2]", "operands: [I1]").replace("I2, tl", "I1, tl").replace("I2, fh", "I1, fh")
        text = text.replace("operands: [I1, I2, O]", "operands: [I1, O]").replace("          - I2, tl\n", "").replace("          - I2, fh\n", "")
        hw = _bad_yaml(tmp_path, "hw.yaml", text)
        mp = _bad_yaml(tmp_path, "map.yaml", TOY_MAP.read_text())
    elif case == "not_onnx":
        wl = tmp_path / "model.onnx"
        wl.write_bytes(b"this is not a protobuf \x00\xff")
    elif case == "bad_result_json":
        p = tmp_path / "r.json"
        p.write_text("{not json")
        extra = ["--mapping-file", p]
    res = _run("evaluate", wl, "--accelerator", hw, "--mapping", mp, *extra)
    assert res.exit_code == 2, res.output
    lines = [ln for ln in res.output.splitlines() if ln.strip()]
    assert len(lines) == 1, res.output
    assert "Traceback" not in res.output
    for word in expect:
        assert word in lines[0], lines[0]


def test_bad_input_writes_nothing(tmp_path):
    out = tmp_path / "r.json"
    res = _run("evaluate", TOY_WL, "--accelerator", tmp_path / "nothere.yaml", "--output", out)
    assert res.exit_code == 2
    assert not out.exists()
