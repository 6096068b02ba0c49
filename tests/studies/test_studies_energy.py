"""A study with objectives accuracy and energy_uj runs end to end; its front, the API and the dashboard
show energy; energy objectives and limits on a device without an energy model are refused."""

from __future__ import annotations

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import select

from nas import service
from nas.api import Settings, create_app
from nas.cli.common import sessions
from nas.errors import ConfigError
from nas.study.config import StudyConfig
from nas.study.sampler import figure
from nas.study.tables import MeasurementRow, ParetoPointRow


def test_energy_objectives_need_an_mcu_first_device(tmp_path):
    url = f"sqlite:///{tmp_path / 'nas.db'}"
    for fields in ({"objectives": ["accuracy", "energy_uj"]}, {"max_energy_uj": 100.0}):
        cfg = StudyConfig.parse({"name": "pi", "devices": ["pi-4"], **fields})
        with sessions(url, create=True)() as s, pytest.raises(ConfigError, match="'pi-4' has no energy model"):
            service.create_study(s, url, cfg)
    with pytest.raises(ConfigError, match="inference_rate_hz"):
        StudyConfig.parse({"name": "x", "inference_rate_hz": 0})


@pytest.mark.slow
def test_a_study_on_accuracy_and_energy_runs_and_shows_energy(tmp_path, tiny_space_path):
    from nas.study.worker import Worker

    url = f"sqlite:///{tmp_path / 'nas.db'}"
    cfg = StudyConfig.parse({"name": "energy", "dataset": "synthetic:160", "space": str(tiny_space_path),
                             "n_trials": 3, "devices": ["nucleo-l4r5zi"], "objectives": ["accuracy", "energy_uj"],
                             "inference_rate_hz": 4.0, "max_energy_uj": 1e6, "seed": 2})
    make = sessions(url, create=True)
    with make() as s:
        service.create_study(s, url, cfg)
    Worker(url, study_name="energy", artifacts=tmp_path / "runs", cache_dir=tmp_path / "cache", name="w1").run()
    with make() as s:
        points = service.pareto(s, "energy")
        stored = {p.trial_id: p.values for p in s.scalars(select(ParetoPointRow))}
        m = s.scalars(select(MeasurementRow)).first()
        assert m is not None and m.report["energy"]["inference_rate_hz"] == 4.0
        assert figure("energy_uj", None, m) == pytest.approx(m.report["energy"]["energy_uj"])
        info = service.study_info(s, "energy")
    assert info.finished == 3 and points
    for p in points:
        assert p.energy_uj is not None and p.energy_uj > 0 and p.inference_rate_hz == 4.0
        assert stored[p.trial_id] == pytest.approx([p.accuracy, p.energy_uj])  # the objective stored is energy
        assert p.power_mw is not None and p.power_mw < p.energy_uj * 4.0 / 1000 + 0.01

    with TestClient(create_app(Settings(db_url=url, api_token="energy-test-token-0123456789"))) as client:
        body = client.get("/api/studies/energy/pareto").json()
        assert body["objectives"] == ["accuracy", "energy_uj"]
        assert all(pt["energy_uj"] > 0 and pt["power_mw"] > 0 for pt in body["points"])
        page = client.get("/studies/energy").text
        assert '<option value="energy_uj"' in page and '<option value="power_mw"' in page
        trial = client.get(f"/trials/{points[0].trial_id}").text
        assert "energy µJ" in trial and "estimated" in trial


def test_the_energy_limit_is_a_precheck_violation_and_a_named_constraint():
    from nas.candidate import ArchConfig, Candidate, FrontendConfig
    from nas.hardware import load_profile
    from nas.pipeline import TrialContext, TrialResult, precheck
    from nas.study.sampler import constraint_values, objective_values

    cand = Candidate(FrontendConfig(n_mels=16, hop_ms=32), ArchConfig.of("dscnn", n_blocks=1, channels=8), bits=8)
    board = load_profile("nucleo-l4r5zi")

    def ctx(**kw) -> TrialContext:
        return TrialContext(dataset=None, cache=None, profiles=(board,), **kw)  # type: ignore[arg-type]

    ok, report = precheck(cand, ctx(inference_rate_hz=10.0), cand.frontend.feature_shape, 8)
    assert ok is None and report.energy is not None and report.energy.inference_rate_hz == 10.0
    limit = report.energy_uj / 2
    violation, _ = precheck(cand, ctx(max_energy_uj=limit), cand.frontend.feature_shape, 8)
    assert violation == f"energy {report.energy_uj:.1f} uJ per inference exceeds the {limit:g} uJ limit"

    cfg = StudyConfig.parse({"name": "e", "objectives": ["accuracy", "energy_uj", "power_mw"],
                             "max_energy_uj": limit, "inference_rate_hz": 10.0})
    result = TrialResult(cand, "ok", None, 0.9, 0.9, 0.9, report.params, report.macs, 1, {board.name: report}, {})
    assert objective_values(cfg, result) == [0.9, report.energy_uj, report.power_mw]
    assert constraint_values(cfg, result, {board.name: board})["max_energy_uj"] == pytest.approx(report.energy_uj / 2)
