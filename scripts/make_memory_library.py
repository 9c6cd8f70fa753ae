"""Write models/memory_libraries/sram_28nm.yaml, the SRAM macro library of `cpmap sweep` (see its header).

    python scripts/make_memory_library.py
"""

from __future__ import annotations

import math
from pathlib import Path

import yaml

ROOT = Path(__file__).resolve().parents[1]
OUT = ROOT / "models/memory_libraries/sram_28nm.yaml"

#: (words deep, read pJ per bit of word, write pJ per bit of word) of two shipped SRAMs
ANCHOR_HIGH = (16777216 // 2048, 416.16 / 2048, 378.4 / 2048)  # tpu_like sram_2MB: 2 MB, 2048-bit words
ANCHOR_LOW = (524288 // 512, 26.56 / 512, 30.8 / 512)  # meta_prototype sram_64KB: 64 KB, 512-bit words
EXP_R = math.log(ANCHOR_HIGH[1] / ANCHOR_LOW[1]) / math.log(ANCHOR_HIGH[0] / ANCHOR_LOW[0])
EXP_W = math.log(ANCHOR_HIGH[2] / ANCHOR_LOW[2]) / math.log(ANCHOR_HIGH[0] / ANCHOR_LOW[0])
MM2_PER_BIT = 0.127e-6 / 0.5  # 0.127 um^2 6T cell at 50 % array efficiency
BANDWIDTHS = (256, 512, 1024, 2048, 4096)
DEPTHS = (512, 32768)  # words: half the low anchor's depth to four times the high anchor's

HEADER = f"""\
# SRAM macro library for `cpmap sweep` (memory_library: ...): one entry per macro,
#   size (bits), bandwidth (bits per access = the port's bandwidth_max), r_cost / w_cost (pJ per word), area (mm2).
# Written by scripts/make_memory_library.py; the numbers follow these stated rules, not a CACTI run.
#
# Energy: derived from the shipped accelerators' own SRAMs (ZigZag's example numbers). Their energy per bit of
# word depends on the depth D = size / bandwidth (words): a 2048-bit-wide 2 MB SRAM (tpu_like sram_2MB, D = 8192)
# costs 416.16 / 378.4 pJ per read / write word, a 512-bit-wide 64 KB one (meta_prototype sram_64KB, D = 1024)
# 26.56 / 30.8 pJ. A power law through these two anchors,
#   r_cost = bandwidth x {ANCHOR_HIGH[1]:.6f} pJ x (D / 8192) ** {EXP_R:.4f}
#   w_cost = bandwidth x {ANCHOR_HIGH[2]:.6f} pJ x (D / 8192) ** {EXP_W:.4f}
# reproduces exactly every shipped SRAM of depth 1024 or 8192: tpu_like and edge_tpu_like sram_2MB, meta_prototype
# sram_64KB, sram_32KB, sram_1MB_A/W and tesla_npu_like sram_1MB_A/W. It does not fit the small or oddly shaped
# ones (tesla_npu_like's 1 KB, D = 32; ascend_like's); entries span D = {DEPTHS[0]} to {DEPTHS[1]}, at most 2x below and
# 4x above the anchors.
# Area: {MM2_PER_BIT * 1e6:.3f} um2 per bit = the 0.127 um2 high-density 6T cell published for 28 nm processes at an
#   assumed 50 % array efficiency (periphery, sense amplifiers, redundancy). An estimate for relative comparisons.
"""


def macros() -> list[dict]:
    out = []
    for bw in BANDWIDTHS:
        size_bytes = 1024
        while size_bytes <= 64 * 2**20:
            bits = size_bytes * 8
            depth = bits // bw
            if DEPTHS[0] <= depth <= DEPTHS[1]:
                label = f"{size_bytes // 2**20}MB" if size_bytes >= 2**20 else f"{size_bytes // 1024}KB"
                out.append(
                    {
                        "name": f"sram_{label}_w{bw}",
                        "size": bits,
                        "bandwidth": bw,
                        "r_cost": round(bw * ANCHOR_HIGH[1] * (depth / ANCHOR_HIGH[0]) ** EXP_R, 4),
                        "w_cost": round(bw * ANCHOR_HIGH[2] * (depth / ANCHOR_HIGH[0]) ** EXP_W, 4),
                        "area": round(bits * MM2_PER_BIT, 6),
                    }
                )
            size_bytes *= 2
    return out


def main() -> None:
    OUT.parent.mkdir(parents=True, exist_ok=True)
    body = yaml.safe_dump(macros(), sort_keys=False, default_flow_style=None, width=200)
    OUT.write_text(HEADER + "\n" + body)
    print(f"wrote {OUT}")


if __name__ == "__main__":
    main()
