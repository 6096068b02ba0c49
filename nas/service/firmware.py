"""Firmware export of one trial: C sources for TFLite-Micro plus the manifest the device code needs.

``firmware_files`` is what ``nas study export --format c``, ``GET /api/trials/{id}/firmware.zip`` and
the trial page's download all call. The files:

- ``model_data.h`` / ``model_data.cc``: the model as a 16-byte aligned array, ``kTensorArenaSize`` (the
  cost model's arena for the chosen device plus a margin) and ``RegisterModelOps`` for a
  ``MicroMutableOpResolver<N>`` with exactly the model's ops. On an Ethos-U profile the array holds
  vela's compiled model (its NPU command stream + the ops left on the CPU).
- ``manifest.json``: the frontend the device must compute (sample rate, window, hop, FFT, mel/MFCC),
  the normalization constants, class names, input/output quantization and the device's figures
  (frontend, network and total, each with how it was obtained), energy per inference and average power
  at the study's ``inference_rate_hz`` (``estimated``; null on a profile without an energy model).
- ``model.tflite``: the bytes of the array, for the LiteRT / TFLM host tools.
"""

from __future__ import annotations

import io
import json
import zipfile
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from nas.candidate import Candidate, FrontendConfig
from nas.deploy.c_source import c_sources
from nas.errors import ConfigError, ExportError, NotFoundError
from nas.hardware import CostReport, price, read_graph
from nas.hardware.ethosu import compile_for_npu
from nas.service.studies import _study, export_model
from nas.study.config import StudyConfig
from nas.study.tables import StudyRow, TrialRow

#: ``kTensorArenaSize`` = the cost model's arena x (1 + margin): the 32-bit planner matched TFLM's own
#: allocator within a few percent on the MLPerf Tiny models (COST_MODEL.md §1), so 20 % covers it
#: with room for the allocator's alignment and a differently configured TFLM build.
ARENA_MARGIN = 0.20
FORMATS = ("tflite", "c")


@dataclass(frozen=True)
class FirmwareBundle:
    files: dict[str, bytes]
    manifest: dict[str, Any]


def trial_number_row(session: Session, name: str, number: int) -> TrialRow:
    row = _study(session, name)
    t = session.scalars(select(TrialRow).where(TrialRow.study_id == row.id, TrialRow.number == number)).first()
    if t is None:
        raise NotFoundError(f"study '{name}' has no finished trial {number}")
    return t


def export_firmware(session: Session, name: str, number: int, out_dir: Path, *, device: str | None = None,
                    cache_dir: Path = Path(".nas_cache")) -> FirmwareBundle:
    """Write the firmware files of trial ``number`` of study ``name`` into ``out_dir``."""
    trial = trial_number_row(session, name, number)
    bundle = firmware_files(session, trial.id, device=device, cache_dir=cache_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    for fname, data in bundle.files.items():
        (out_dir / fname).write_bytes(data)
    return bundle


def firmware_zip(session: Session, trial_id: int, *, device: str | None = None,
                 cache_dir: Path = Path(".nas_cache")) -> tuple[str, bytes]:
    """``(file name, zip bytes)`` of :func:`firmware_files` (the API's and trial page's download)."""
    bundle = firmware_files(session, trial_id, device=device, cache_dir=cache_dir)
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", zipfile.ZIP_DEFLATED) as z:
        for fname, data in bundle.files.items():
            z.writestr(fname, data)
    m = bundle.manifest
    return f"{m['study']}-trial-{m['trial']:04d}-{m['device']['name']}-firmware.zip", buf.getvalue()


def firmware_files(session: Session, trial_id: int, *, device: str | None = None,
                   cache_dir: Path = Path(".nas_cache")) -> FirmwareBundle:
    """The C sources, manifest and model of one trial for ``device`` (default: the study's first).

    Raises:
        NotFoundError: no such trial, or it has no ``.tflite``. ConfigError: the device does not run
        TFLite-Micro (a Raspberry Pi profile: use the ``.tflite``), or is unknown.
        ExportError: vela could not compile the model for an NPU profile.
    """
    trial = session.get(TrialRow, trial_id)
    if trial is None:
        raise NotFoundError(f"no trial with id {trial_id} (ids are in GET /api/studies/NAME/trials)")
    study = session.get_one(StudyRow, trial.study_id)
    tflite = export_model(session, study.name, trial.number)
    device = device or study.config["devices"][0]
    # The profile stored with the study (an inline one too), else the shipped profile or file of that name.
    profile = StudyConfig.parse(study.config).profile(device)
    if profile.kind != "mcu":
        raise ConfigError(f"device '{device}' runs LiteRT ({profile.kind}), not TFLite-Micro: "
                          "export the .tflite instead (--format tflite)")
    candidate = Candidate.from_dict(trial.candidate)
    report = price(tflite, profile, frontend=candidate.frontend,
                   inference_rate_hz=float(study.config.get("inference_rate_hz", 1.0)))
    model = tflite
    if profile.npu is not None:
        vela = compile_for_npu(tflite, profile.npu)
        if not vela.ok:
            raise ExportError(f"cannot compile trial {trial.number} for {device}: {vela.message}")
        model = vela.tflite
    arena = int(report.arena_kb * 1024 * (1 + ARENA_MARGIN))
    classes = list(((study.dataset_summary or {}).get("class_counts") or {}).keys())
    norm = (trial.details or {}).get("extra", {}).get("normalization")
    if norm is None:
        norm = _recompute_normalization(study, candidate.frontend, cache_dir)
    manifest = _manifest(study.name, trial, candidate, report, profile.name, model, tflite, arena, classes, norm)
    comment = (f"study {study.name}, trial {trial.number}: {trial.arch}, {trial.bits}-bit\n"
               f"device {profile.name}: arena {report.arena_kb * 1024:.0f} bytes ({report.ram_source}, "
               f"cost model) + {ARENA_MARGIN:.0%} margin\n"
               "frontend, normalization and quantization: manifest.json")
    src = c_sources(model, read_graph(model).op_types, arena, comment=comment)
    manifest["c"] = {"array": "g_model_data", "length": len(model), "kTensorArenaSize": src.arena_bytes,
                     "arena_margin": ARENA_MARGIN, "ops": list(src.ops), "resolver_calls": list(src.methods)}
    files = {"model_data.h": src.header.encode(), "model_data.cc": src.source.encode(), "model.tflite": model,
             "manifest.json": (json.dumps(manifest, indent=2) + "\n").encode()}
    return FirmwareBundle(files, manifest)


def _manifest(study: str, trial: TrialRow, candidate: Candidate, report: CostReport, device: str, model: bytes,
              original: bytes, arena: int, classes: list[str], norm: dict[str, Any]) -> dict[str, Any]:
    frontend = frontend_manifest(candidate.frontend)
    return {
        "format": "nas-firmware-1", "study": study, "trial": trial.number, "architecture": trial.arch,
        "bits": trial.bits, "accuracy": trial.accuracy, "test_accuracy": trial.test_accuracy,
        "classes": classes, "frontend": frontend, "normalization": norm,
        "input": _io(original, "input"), "output": _io(original, "output"),
        "model_bytes": len(model), "original_tflite_bytes": len(original),
        "device": {"name": device, "deployable": report.deployable, "reason": report.reason,
                   "arena_kb": report.arena_kb, "arena_source": report.ram_source,
                   "figures": _figures(report), "energy": asdict(report.energy) if report.energy else None,
                   "npu": report.details.get("npu")},
    }


def frontend_manifest(fe: FrontendConfig) -> dict[str, Any]:
    """Everything device code needs to compute the model's input features from audio (manifest.json)."""
    return {
        **fe.to_dict(), "win_length": fe.win_length, "hop_length": fe.hop_length, "n_fft": fe.n_fft,
        "n_samples": fe.n_samples, "n_frames": fe.n_frames, "n_features": fe.n_features,
        "input_scale": "audio as float in [-1, 1] (int16 PCM / 32768), mono, resampled to sample_rate",
        "level_step": ({"step": "peak", "formula": "x / max|x| over the clip window (left as is when all zero), "
                   "before resampling and the STFT"} if fe.level == "peak" else {"step": "none"}),
        "window": {"type": "hann", "periodic": True, "length": fe.win_length,
                   "placement": "centred in n_fft with (n_fft - win_length) // 2 zeros on the left"},
        "stft": {"center": True, "pad_mode": "reflect", "pad": fe.n_fft // 2,
                 "frame_t_starts_at": "t * hop_length of the padded signal"},
        "power": "re^2 + im^2 of the n_fft // 2 + 1 rfft bins",
        "mel": {"scale": "htk", "f_min_hz": 20.0, "f_max_hz": fe.sample_rate / 2, "n_mels": fe.n_mels,
                "norm": None, "formula": "mel = 2595 log10(1 + f / 700); triangles on n_mels + 2 points "
                                         "equally spaced in mel, evaluated at bin k * sample_rate / n_fft"},
        "log": {"function": "natural log", "offset": 1e-6},
        "dct": ({"type": 2, "norm": "ortho", "n_mfcc": fe.n_mfcc, "input": "log mel"} if fe.kind == "mfcc"
                else None),
        "feature_matrix": "(n_features, n_frames), feature-major: features[f][t]",
    }


def _figures(r: CostReport) -> dict[str, dict[str, Any]]:
    s = r.split()
    sources = {"latency_ms": r.latency_source, "ram_kb": r.ram_source, "flash_kb": r.flash_source}
    out = {k: {"frontend": s["frontend"][k], "network": s["network"][k], "total": s["total"][k],
               "frontend_source": "estimated", "network_source": sources[k], "total_source": sources[k]}
           for k in sources}
    if r.energy is not None:  # per inference, split the same way (always estimated)
        e = r.energy
        out["energy_uj"] = {"frontend": e.frontend_uj, "network": e.model_uj, "total": e.energy_uj,
                            "frontend_source": e.source, "network_source": e.source, "total_source": e.source}
    return out


def _io(tflite: bytes, which: str) -> dict[str, Any]:
    """Name, shape, dtype and (scale, zero point) of the model's input or output (LiteRT's reading)."""
    from ai_edge_litert.interpreter import Interpreter

    interp = Interpreter(model_content=tflite)
    d = (interp.get_input_details() if which == "input" else interp.get_output_details())[0]
    scale, zero = d["quantization"]
    out: dict[str, Any] = {"name": d["name"], "shape": [int(x) for x in d["shape"]],
                           "dtype": str(d["dtype"].__name__), "scale": float(scale), "zero_point": int(zero)}
    out["quantize"] = ("q = clamp(round(x / scale) + zero_point, dtype min, dtype max)" if which == "input"
                       else "x = (q - zero_point) * scale") if scale else "float: no quantization"
    return out


def _recompute_normalization(study: StudyRow, fe: FrontendConfig, cache_dir: Path) -> dict[str, Any]:
    """Trials stored before the constants were saved: recompute them from the study's dataset."""
    from nas.data import FeatureCache, get_source

    try:
        dataset = get_source(study.config["dataset"]).load()
    except Exception as e:
        raise ExportError(f"trial has no stored normalization constants and the dataset "
                          f"'{study.config['dataset']}' cannot be read here: {e}") from e
    return FeatureCache(cache_dir).features(dataset, fe).normalization()
