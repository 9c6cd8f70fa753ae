"""28 nm calibration constants of the IMC macro model and the 1-bit primitives built from them.

Spec: imc_model.md section 3. Units inside the model: capacitance in pF (so C*V^2 is pJ), energy in pJ,
area in mm^2, delay in ns. The unit gate is a NAND2; XOR2 and DFF are multiples of it. Main ZigZag fixes these
constants at 28 nm and 0.9 V (they are not YAML parameters); :data:`TECH_28NM` holds them.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class TechParams:
    """Gate-level technology constants (pF, mm^2, ns, V)."""

    tech_node_um: float  #: only drives CACTI in ZigZag; informative here
    vdd: float  #: supply voltage (V)
    nd2_cap: float  #: NAND2 input capacitance (pF)
    wl_cap: float  #: wordline capacitance per cell (pF), NAND2_cap / 2
    bl_cap: float  #: bitline capacitance per cell (pF), NAND2_cap / 2
    xor2_cap: float  #: XOR2 capacitance (pF), 1.5 x NAND2
    dff_cap: float  #: DFF capacitance per bit (pF), 3 x NAND2
    nd2_area: float  #: NAND2 area (mm^2)
    xor2_area: float  #: XOR2 area (mm^2), 2.4 x NAND2
    dff_area: float  #: DFF area per bit (mm^2), 6 x NAND2
    nd2_dly: float  #: NAND2 delay (ns)
    xor2_dly: float  #: XOR2 delay (ns), 2.4 x NAND2

    @property
    def v2(self) -> float:
        """``vdd ** 2`` (V^2): multiplies a capacitance in pF into an energy in pJ."""
        return self.vdd**2

    # -- 1-bit primitives (section 3, "Derived 1-bit primitives") ---------------------------------------------

    @property
    def fa_energy(self) -> float:
        """Full adder (3 NAND2 + 2 XOR2), pJ per operation."""
        return (3 * self.nd2_cap + 2 * self.xor2_cap) * self.v2

    @property
    def fa_half_energy(self) -> float:
        """Half-activated full adder (one input held at 0, carry path idle): the two XOR2 only, pJ."""
        return 2 * self.xor2_cap * self.v2

    @property
    def mult_energy(self) -> float:
        """1-bit multiplier (one NOR counted as a NAND2), x 0.5 because the weight input is static, pJ."""
        return 0.5 * self.nd2_cap * self.v2

    @property
    def dff_energy(self) -> float:
        """1-bit register (DFF), pJ per write."""
        return self.dff_cap * self.v2

    @property
    def bl_energy(self) -> float:
        """One cell's bitline load charged once, pJ (``C_bl * V^2``)."""
        return self.bl_cap * self.v2

    @property
    def wl_energy(self) -> float:
        """One cell's wordline load charged once, pJ (``C_wl * V^2``)."""
        return self.wl_cap * self.v2

    @property
    def fa_area(self) -> float:
        """Full adder area, mm^2."""
        return 3 * self.nd2_area + 2 * self.xor2_area

    @property
    def mult_area(self) -> float:
        """1-bit multiplier area (one NAND2), mm^2."""
        return self.nd2_area

    @property
    def fa_dly_in2sum(self) -> float:
        """Full adder delay input -> sum (two XOR2), ns."""
        return 2 * self.xor2_dly

    @property
    def fa_dly_in2cout(self) -> float:
        """Full adder delay input -> carry-out (XOR2 + two NAND2), ns."""
        return self.xor2_dly + 2 * self.nd2_dly

    @property
    def fa_dly_cin2cout(self) -> float:
        """Full adder delay carry-in -> carry-out (two NAND2), ns."""
        return 2 * self.nd2_dly

    @property
    def mult_dly(self) -> float:
        """1-bit multiplier delay (one NAND2), ns."""
        return self.nd2_dly


#: The 28 nm / 0.9 V constants (imc_model.md section 3), written as value / unit conversion.
TECH_28NM = TechParams(
    tech_node_um=0.028,
    vdd=0.9,
    nd2_cap=0.7 / 1e3,
    wl_cap=0.7 / 2 / 1e3,
    bl_cap=0.7 / 2 / 1e3,
    xor2_cap=0.7 * 1.5 / 1e3,
    dff_cap=0.7 * 3 / 1e3,
    nd2_area=0.614 / 1e6,
    xor2_area=0.614 * 2.4 / 1e6,
    dff_area=0.614 * 6 / 1e6,
    nd2_dly=0.0478,
    xor2_dly=0.0478 * 2.4,
)

# -- Analog blocks, fitted against the three AIMC chips (ADC) or taken from earlier work (DAC) ------------------

#: ADC area fit: ``10 ** (ADC_K1 * R + ADC_K2) * 2 ** R * 1e-6`` mm^2.
ADC_K1 = -0.0369
ADC_K2 = 1.206
#: ADC delay fit: ``R * (ADC_K3 * N_r + ADC_K4)`` ns.
ADC_K3 = 0.00653
ADC_K4 = 0.640
#: ADC energy fit: ``(ADC_K5 * R + ADC_K6 * 4 ** R) * V^2`` fJ (k5, k6 in fF).
ADC_K5 = 100.0
ADC_K6 = 0.001
#: DAC energy: ``DAC_K0 * B_c * V^2`` pJ (k0 in pF), 0 when B_c = 1.
DAC_K0 = 50e-3


def adc_area(resolution: float) -> float:
    """Area of one ADC of ``resolution`` bits, mm^2 (0 for a 0- or 1-bit ADC)."""
    if resolution in (0, 1):
        return 0.0
    return 10 ** (ADC_K1 * resolution + ADC_K2) * 2**resolution * 1e-6


def adc_delay(resolution: float, rows: int) -> float:
    """Conversion delay of one ADC reading a bitline of ``rows`` cell groups, ns (0 without an ADC)."""
    if resolution == 0:
        return 0.0
    return resolution * (ADC_K3 * rows + ADC_K4)


def adc_energy(resolution: float, tech: TechParams = TECH_28NM) -> float:
    """Energy of one ADC conversion, pJ (0 without an ADC)."""
    if resolution == 0:
        return 0.0
    return (ADC_K5 * resolution + ADC_K6 * 4**resolution) * tech.v2 / 1000


def dac_energy(bits: int, tech: TechParams = TECH_28NM) -> float:
    """Energy of one DAC conversion of a ``bits``-bit input slice, pJ (no DAC for 1-bit slices). Area and delay
    of the DAC are neglected by the model."""
    if bits == 1:
        return 0.0
    return DAC_K0 * bits * tech.v2
