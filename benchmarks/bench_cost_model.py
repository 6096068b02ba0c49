"""Benchmark the hardware cost model against published measurements of the MLPerf Tiny models.

Run: ``PYTHONPATH=. python benchmarks/bench_cost_model.py [--fit]``

Prints, for every MLPerf Tiny reference model x profile: predicted latency, arena and flash, and beside
them the published figure (citation short name), the relative error, and whether that figure was used to
calibrate the profile (CAL) or kept out of the fit (HOLD-OUT). Then the time to price one model on all
profiles after the first call. ``--fit`` prints the ``mem_factor`` that least-squares (in log space)
fits each board's CAL points, given the other coefficients: that is how the YAML values were set.

Energy (issue 19): published MLPerf Tiny energy per inference (EEMBC energy monitor on the DUT supply)
of the same models on TFLite-Micro + CMSIS-NN only, against ``CostReport.energy_uj``; ``--fit-energy``
prints the active power fitted on the CAL points (the ``cost.active_mw`` of the profiles).
"""

from __future__ import annotations

import argparse
import math
import os
import sys
import time
from pathlib import Path

from nas.hardware import list_profiles, price, price_all

MODELS = {"ad": "ad01_int8", "ic": "pretrainedResnet_quant", "kws": "kws_ref_model", "vww": "vww_96_int8",
          "sww": "str_ww_ref_model"}

# Published whole-model latencies (ms) of exactly these .tflite files with TFLite-Micro + CMSIS-NN.
#   MLPerf Tiny = 1000 / "Median throughput" in results/<board>/<task>/performance/results.txt.
#   EdgeMark    = cycles/MAC published for NUCLEO-L4R5ZI (TFLM 2024, GCC -O3; EdgeMark Experiments.xlsx,
#                 arXiv:2502.01700) as tabulated in COST_MODEL.md §2.3 (CPI x instructions/MAC), x MACs / 120 MHz.
LATENCY: list[tuple[str, str, float, str, str]] = [
    # (profile, task, ms, citation, CAL | HOLD-OUT)
    ("nucleo-l4r5zi", "kws", 1.69 * 2.95 * 2656768 / 120e3, "EdgeMark L4R5 TFLM-2024", "CAL"),
    ("nucleo-l4r5zi", "ic", 1.63 * 2.39 * 12501632 / 120e3, "EdgeMark L4R5 TFLM-2024", "CAL"),
    ("nucleo-l4r5zi", "ad", 1.83 * 2.21 * 264192 / 120e3, "EdgeMark L4R5 TFLM-2024", "HOLD-OUT"),
    ("nucleo-l4r5zi", "vww", 1.87 * 3.30 * 7489664 / 120e3, "EdgeMark L4R5 TFLM-2024", "HOLD-OUT"),
    ("nucleo-l4r5zi", "kws", 1000 / 5.497, "MLPerf-Tiny v0.5 reference (TFLM 2021)", "HOLD-OUT"),
    ("nucleo-l4r5zi", "ic", 1000 / 1.420, "MLPerf-Tiny v0.5 reference (TFLM 2021)", "HOLD-OUT"),
    ("nucleo-l4r5zi", "ad", 1000 / 99.487, "MLPerf-Tiny v0.5 reference (TFLM 2021)", "HOLD-OUT"),
    ("nucleo-l4r5zi", "vww", 1000 / 1.665, "MLPerf-Tiny v0.5 reference (TFLM 2021)", "HOLD-OUT"),
    ("ek-ra6m4", "kws", 1000 / 19.774, "MLPerf-Tiny v0.7 Renesas", "CAL"),
    ("ek-ra6m4", "ic", 1000 / 4.062, "MLPerf-Tiny v0.7 Renesas", "HOLD-OUT"),
    ("ek-ra6m4", "vww", 1000 / 6.159, "MLPerf-Tiny v0.7 Renesas", "HOLD-OUT"),
    ("ek-ra6m4", "ad", 1000 / 216.772, "MLPerf-Tiny v0.7 Renesas", "HOLD-OUT"),
    ("ek-ra8d1", "ic", 1000 / 117.948, "MLPerf-Tiny v1.2 Renesas", "CAL"),
    ("ek-ra8d1", "kws", 1000 / 288.611, "MLPerf-Tiny v1.2 Renesas", "HOLD-OUT"),
    ("ek-ra8d1", "vww", 1000 / 74.665, "MLPerf-Tiny v1.2 Renesas", "HOLD-OUT"),
    ("ek-ra8d1", "ad", 1000 / 1884.138, "MLPerf-Tiny v1.2 Renesas", "HOLD-OUT"),
    ("pi-4", "kws", 0.424, "MLPerf-Tiny v0.5 latentai Pi4 (TVM, not LiteRT)", "HOLD-OUT"),
    ("pi-4", "ic", 1.078, "MLPerf-Tiny v0.5 latentai Pi4 (TVM, not LiteRT)", "HOLD-OUT"),
    ("pi-4", "vww", 2.95, "MLPerf-Tiny v0.5 latentai Pi4 (TVM, not LiteRT)", "HOLD-OUT"),
    ("pi-4", "ad", 0.176, "MLPerf-Tiny v0.5 latentai Pi4 (TVM, not LiteRT)", "HOLD-OUT"),
]
# Published MLPerf Tiny energy-mode results of TFLite-Micro + CMSIS-NN stacks (the stack the profiles model).
#   v0.5 reference: NUCLEO-L4R5ZI, "TensorFlow Lite for Microcontrollers v2.3.1", setup_example.sh TAGS=cmsis-nn,
#        mbed-os bare-metal, GCC 6-2017-q2, 1.8 V (closed/reference/systems/Nucleo_L4R5ZI_System_Description.json).
#   v0.7 Renesas: EK-RA6M4, "tflite-micro" + "CMSIS", GCC 8.3.1, 3.0 V (closed/renesas/systems/
#        EK-RA6M4_System_Description.json).
# Left out on purpose: X-CUBE-AI (ST, Krai), Plumerai, microTVM (OctoML, Krai, cTuning), ONNC (Skymizer,
# Nuvoton), Bosch HALE, Syntiant/GAP9 accelerators (other stacks or chips); Renesas RX65N (TFLM, but not a
# Cortex-M and not profiled). No other TFLM submission in v0.5-v1.3 has an energy result.
# Each row: (profile, task, median uJ/inference, median energy-mode throughput inf/s, path, CAL | HOLD-OUT).
# Paths are in github.com/mlcommons/tiny_results_v0.5 (L4R5ZI) and tiny_results_v0.7 (RA6M4).
_V05 = "tiny_results_v0.5/closed/reference/results/Nucleo-L4R5ZI/{}/energy/results.txt"
_V07 = "tiny_results_v0.7/closed/renesas/results/EK-RA6M4/{}/energy/results.txt"
ENERGY: list[tuple[str, str, float, float, str, str]] = [
    ("nucleo-l4r5zi", "kws", 7373.704, 5.539, _V05.format("kws"), "CAL"),
    ("nucleo-l4r5zi", "ic", 29207.010, 1.420, _V05.format("ic"), "CAL"),
    ("nucleo-l4r5zi", "ad", 416.312, 96.154, _V05.format("ad"), "HOLD-OUT"),  # run shorter than the 10 s rule
    ("nucleo-l4r5zi", "vww", 24312.648, 1.658, _V05.format("vww"), "HOLD-OUT"),
    ("ek-ra6m4", "kws", 3796.957, 19.685, _V07.format("kws"), "CAL"),
    ("ek-ra6m4", "ic", 17723.829, 4.055, _V07.format("ic"), "HOLD-OUT"),
    ("ek-ra6m4", "vww", 11851.829, 6.239, _V07.format("vww"), "HOLD-OUT"),
    ("ek-ra6m4", "ad", 324.088, 219.568, _V07.format("ad"), "HOLD-OUT"),
]
#: The cross-board check: active power per MHz fitted on this board's CAL points only, applied to the others.
ENERGY_CROSS_FIT = "nucleo-l4r5zi"

# Published whole-firmware flash (KB text) on NUCLEO-L4R5ZI, EdgeMark TFLM -O3 (COST_MODEL.md §3.1).
FLASH: list[tuple[str, str, float, str, str]] = [
    ("nucleo-l4r5zi", "kws", 182.0, "EdgeMark L4R5 firmware", "CAL"),
    ("nucleo-l4r5zi", "ic", 228.0, "EdgeMark L4R5 firmware", "HOLD-OUT"),
    ("nucleo-l4r5zi", "vww", 437.0, "EdgeMark L4R5 firmware", "HOLD-OUT"),
]


def shared_dir() -> Path:
    env = os.environ.get("NAS_SHARED_DIR")
    return Path(env) if env else Path(__file__).resolve().parents[1].parent / "shared"


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--fit", action="store_true", help="print the mem_factor fitted on CAL points")
    ap.add_argument("--fit-energy", action="store_true", help="print the active power fitted on CAL energy points")
    args = ap.parse_args(argv)
    d = shared_dir() / "data" / "mlperf_tiny"
    if not d.is_dir():
        print(f"MLPerf Tiny models not found in {d}; set NAS_SHARED_DIR", file=sys.stderr)
        return 2
    data = {task: (d / f"{m}.tflite").read_bytes() for task, m in MODELS.items()}
    profiles = list_profiles()
    by_name = {p.name: p for p in profiles}
    t0 = time.perf_counter()
    reports = {(task, r.device): r for task, b in data.items() for r in price_all(b, profiles)}
    first_s = time.perf_counter() - t0

    print(f"{'model':<24}{'profile':<17}{'pred ms':>10}{'arena KB':>10}{'flash KB':>10}   "
          f"{'published':>10}  {'err':>7}  {'use':<9}source")
    for task, m in MODELS.items():
        for p in profiles:
            r = reports[(task, p.name)]
            pubs = [x for x in LATENCY if x[0] == p.name and x[1] == task] or [None]
            for pub in pubs:
                head = f"{m:<24}{p.name:<17}{r.latency_ms:>10.3f}{r.arena_kb:>10.1f}{r.flash_kb:>10.1f}   "
                if pub is None:
                    tag = "measured here" if r.latency_source == "measured" else "no published figure"
                    print(head + f"{'-':>10}  {'-':>7}  {'-':<9}{tag}")
                else:
                    err = (r.latency_ms - pub[2]) / pub[2]
                    print(head + f"{pub[2]:>10.3f}  {err:>+7.1%}  {pub[4]:<9}{pub[3]}")
    print("\nFlash (whole firmware) vs published:")
    for prof, task, kb, cite, use in FLASH:
        r = reports[(task, prof)]
        print(f"  {MODELS[task]:<24}{prof:<17}pred {r.flash_kb:7.1f} KB  published {kb:7.1f} KB  "
              f"err {(r.flash_kb - kb) / kb:+6.1%}  {use:<9}{cite}")
    _summary({(dev, task): r.latency_ms for (task, dev), r in reports.items()})

    t = time.perf_counter()
    price_all(data["kws"], profiles)
    warm_s = time.perf_counter() - t
    print(f"\nTiming: first pricing of {len(data)} models x {len(profiles)} profiles {first_s:.2f} s "
          f"(TFLM arena + LiteRT host timing); kws_ref_model on all {len(profiles)} profiles after the "
          f"first call: {warm_s * 1e3:.1f} ms")
    _energy(reports, by_name)
    if args.fit:
        _fit(data, by_name)
    if args.fit_energy:
        _fit_energy()
    return 0


def _summary(pred: dict[tuple[str, str], float]) -> None:
    errs: dict[str, list[float]] = {}
    for prof, task, ms, cite, use in LATENCY:
        if (prof, task) in pred:
            e = abs(pred[(prof, task)] - ms) / ms
            errs.setdefault(use, []).append(e)
            errs.setdefault(f"{use:<9}{prof} / {cite}", []).append(e)
    print("\nLatency error summary (mean |relative error|):")
    for key, e in sorted(errs.items(), key=lambda kv: (len(kv[0]) > 8, kv[0])):
        print(f"  {key:<72} {sum(e) / len(e):6.1%}  (n={len(e)}, max {max(e):.1%})")


def _published_mw(uj: float, hz: float) -> float:
    return uj * hz / 1000.0  # uJ/inference x inferences/s = uW; /1000 = mW


def _cal_mw(prof: str) -> float:
    """Active power fitted on a board's CAL energy points: the mean measured power (energy x throughput)."""
    mws = [_published_mw(uj, hz) for pr, _, uj, hz, _, use in ENERGY if pr == prof and use == "CAL"]
    return sum(mws) / len(mws)


def _energy(reports: dict, by_name: dict) -> None:
    """Published energy vs the profile's model, three ways; returns nothing, prints the table and summary.

    power only: cost.active_mw x the published latency of the same energy run (tests "one active power per
      board", free of latency-model error);
    full chain: CostReport.energy_uj = cost.active_mw x the predicted latency (what `nas profile` prints);
    cross-board: active power = (mW/MHz of ENERGY_CROSS_FIT's CAL points) x this board's clock, x the predicted
      latency: a board whose energy was never used to fit (its own CAL points included, so all are HOLD-OUT).
    """
    per_mhz = _cal_mw(ENERGY_CROSS_FIT) / by_name[ENERGY_CROSS_FIT].clock_mhz
    print("\nEnergy per inference vs published MLPerf Tiny (TFLite-Micro + CMSIS-NN stacks only):")
    print(f"  {'model':<24}{'profile':<15}{'published uJ':>13}{'power only':>12}{'err':>8}{'full chain':>12}"
          f"{'err':>8}  {'use':<9}source")
    errs: dict[str, list[float]] = {}
    for prof, task, uj, hz, path, use in ENERGY:
        p, r = by_name[prof], reports[(task, prof)]
        pow_only = p.coef("active_mw") * 1000.0 / hz
        chain = r.energy_uj
        e1, e2 = (pow_only - uj) / uj, (chain - uj) / uj
        print(f"  {MODELS[task]:<24}{prof:<15}{uj:>13.1f}{pow_only:>12.1f}{e1:>+8.1%}{chain:>12.1f}{e2:>+8.1%}  "
              f"{use:<9}{path}")
        errs.setdefault(f"{use:<9}power only", []).append(abs(e1))
        errs.setdefault(f"{use:<9}full chain", []).append(abs(e2))
        errs.setdefault(f"{use:<9}full chain, {prof}", []).append(abs(e2))
        if prof != ENERGY_CROSS_FIT:
            cross_mw = per_mhz * p.clock_mhz
            c1 = (cross_mw * 1000.0 / hz - uj) / uj
            c2 = (cross_mw * r.latency_ms - uj) / uj
            cross = f"HOLD-OUT cross-board ({ENERGY_CROSS_FIT} mW/MHz -> {prof})"
            errs.setdefault(f"{cross}, power only", []).append(abs(c1))
            errs.setdefault(f"{cross}, full chain", []).append(abs(c2))
    print(f"  cross-board active power: {per_mhz:.4f} mW/MHz from {ENERGY_CROSS_FIT} CAL points")
    print("\nEnergy error summary (mean |relative error|):")
    for key, e in sorted(errs.items()):
        print(f"  {key:<80} {sum(e) / len(e):6.1%}  (n={len(e)}, max {max(e):.1%})")


def _fit_energy() -> None:
    print("\nFitted active power on CAL energy points (mean of published energy x throughput):")
    for prof in sorted({x[0] for x in ENERGY if x[5] == "CAL"}):
        mws = [f"{MODELS[t]} {_published_mw(uj, hz):.1f}" for pr, t, uj, hz, _, use in ENERGY
               if pr == prof and use == "CAL"]
        print(f"  {prof:<16} active_mw = {_cal_mw(prof):.2f}  ({', '.join(mws)} mW)")


def _fit(data: dict[str, bytes], by_name: dict) -> None:
    from dataclasses import replace
    from types import MappingProxyType

    print("\nFitted mem_factor on CAL points (log least squares, other coefficients fixed):")
    for prof in sorted({x[0] for x in LATENCY if x[4] == "CAL" and by_name[x[0]].kind == "mcu"}):
        p = by_name[prof]
        unit = replace(p, cost=MappingProxyType({**p.cost, "mem_factor": 1.0}))
        logs = [math.log(ms / price(data[task], unit).latency_ms)
                for pr, task, ms, _, use in LATENCY if pr == prof and use == "CAL"]
        print(f"  {prof:<16} mem_factor = {math.exp(sum(logs) / len(logs)):.3f} (now {p.coef('mem_factor', 1.0):.3f})")


if __name__ == "__main__":
    raise SystemExit(main())
