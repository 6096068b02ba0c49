"""Multi-fidelity search: rungs, Pareto promotion, every rung recorded once, stopped candidates never
exported, the front built from fully trained files only (SQLite and PostgreSQL)."""

from __future__ import annotations

import time
from pathlib import Path

import optuna
import pytest
import yaml
from sqlalchemy import select

from nas import service
from nas.status import TrialStatus
from nas.study.config import StudyConfig
from nas.study.fidelity import FidelityConfig, RungGate, RungResult, nondominated_fronts, promotable
from nas.study.records import TrialFigures
from nas.study.store import judge_rung, search_effort
from nas.study.tables import ArtifactRow, ParetoPointRow, RungRow, StudyRow, TrialRow, make_engine, make_sessionmaker
from nas.study.worker import Worker, WorkerOptions


def test_rungs_stop_below_full_training():
    assert FidelityConfig().rungs(8) == (2, 6)
    assert FidelityConfig(eta=2, min_epochs=1).rungs(8) == (1, 2, 4)
    assert FidelityConfig().rungs(2) == ()  # nothing to save: trained fully, as without fidelity


def test_promotion_keeps_the_best_third_by_front_then_crowding():
    # loss vectors (1 - accuracy, latency): the newcomer is last
    assert not promotable((0.9, 9.0), [(0.1, 1.0), (0.2, 2.0)], eta=3)  # dominated by both: stops
    assert promotable((0.05, 0.5), [(0.1, 1.0), (0.2, 2.0)], eta=3)  # dominates both: goes on
    # fewer competitors than eta: promoted unless one dominates it
    assert promotable((0.5, 0.5), [(0.1, 1.0)], eta=3)
    assert not promotable((0.5, 1.5), [(0.1, 1.0)], eta=3)
    # 5 others on one front, 2 of 6 go on: an extreme (the cheapest) is kept, a crowded middle one is not
    front = [(0.1, 5.0), (0.2, 4.0), (0.3, 3.0), (0.4, 2.0), (0.5, 1.0)]
    assert promotable((0.9, 0.1), front, eta=3)
    assert not promotable((0.25, 3.5), front, eta=3)
    assert nondominated_fronts([(1, 1), (2, 2), (0, 3), (3, 3)]) == [[0, 2], [1], [3]]
    # the final rung (eta None): only dominance stops, however many are there
    assert promotable((0.25, 3.5), front, eta=None)
    assert not promotable((0.35, 3.5), front, eta=None)  # (0.3, 3.0) is better on both


def test_the_final_rung_judges_a_fully_trained_candidate_once():
    calls = []

    def judge(rung, epoch, acc, costs):
        calls.append((rung, epoch, acc))
        return RungResult(rung, epoch, acc, costs, rung == 0, 1)  # goes on at the first rung, stops at the final

    assert not RungGate((2,), ("latency_ms",), judge).after_training(8, 0.9) and not calls  # final rung off
    gate = RungGate((2,), ("latency_ms",), judge, final=True)
    assert not gate(2, 0.6)
    assert gate.after_training(8, 0.55)
    assert calls == [(0, 2, 0.6), (1, 8, 0.6)]  # numbered after the rungs below; the best accuracy ranked
    assert gate.stopped is gate.results[-1] and gate.is_final(gate.stopped)
    assert not gate.after_training(8, 0.9) and len(calls) == 2  # judged once


def test_gate_stops_training_at_the_first_rung_it_fails():
    verdicts = iter([True, False])
    gate = RungGate((2, 4), ("latency_ms",),
                    lambda rung, epoch, acc, costs: RungResult(rung, epoch, acc, costs, next(verdicts), 3))
    gate.costs = (5.0,)
    assert [gate(e, a) for e, a in ((1, 0.3), (2, 0.2), (3, 0.5), (4, 0.6))] == [False, False, False, True]
    assert gate.stopped is not None and gate.stopped.epoch == 4
    assert [r.val_accuracy for r in gate.results] == [0.3, 0.6]  # the best accuracy so far is ranked


def _study(sessions, url: str, space: Path, **overrides) -> StudyRow:
    cfg = StudyConfig.parse({"name": "fid", "dataset": "synthetic:160", "space": str(space), "n_trials": 6,
                             "devices": ["nucleo-l4r5zi"], "sampler": "random", **overrides})
    with sessions() as s:
        service.create_study(s, url, cfg)
        return s.scalars(select(StudyRow)).one()


def test_a_rung_is_recorded_once_per_candidate(db_url, tiny_space_path):
    sessions = make_sessionmaker(make_engine(db_url))
    row = _study(sessions, db_url, tiny_space_path)
    with sessions() as s:
        first = judge_rung(s, row, 3, 0, 0, 2, 0.8, (10.0, 30.0))
        worse = judge_rung(s, row, 3, 1, 0, 2, 0.5, (20.0, 40.0))
        again = judge_rung(s, row, 3, 0, 0, 2, 0.1, (99.0, 99.0))  # trial 0 re-run after its worker was lost
        rows = s.scalars(select(RungRow).where(RungRow.study_id == row.id)).all()
    assert first.promoted and not worse.promoted and worse.competitors == 1
    assert again == first  # the recorded decision, not a new one
    assert sorted((r.number, r.rung) for r in rows) == [(0, 0), (1, 0)]


def test_the_final_rung_ranks_against_recorded_files_not_float_accuracies(db_url, tiny_space_path):
    sessions = make_sessionmaker(make_engine(db_url))
    row = _study(sessions, db_url, tiny_space_path)
    with sessions() as s:
        assert judge_rung(s, row, None, 0, 1, 4, 0.9, (10.0, 30.0)).promoted  # nothing recorded yet
        # trial 0's file, pruned and quantized, holds 0.6 of its 0.9
        s.add(TrialRow(study_id=row.id, candidate={}, details={}, **TrialFigures.of_failure(0, {}, "", "w1").columns()
                       | {"status": TrialStatus.OK, "reason": None, "accuracy": 0.6, "feasible": True}))
        s.commit()
        beats_the_file = judge_rung(s, row, None, 1, 1, 4, 0.7, (20.0, 40.0))  # not its float accuracy, though
        beaten = judge_rung(s, row, None, 2, 1, 4, 0.5, (20.0, 40.0))  # trial 1, not recorded yet, is no competitor
    assert beats_the_file.promoted and not beaten.promoted and beaten.competitors == 1


@pytest.fixture
def four_epoch_space(tmp_path, tiny_space_path) -> Path:
    doc = yaml.safe_load(tiny_space_path.read_text())
    doc["training"]["epochs"] = 4
    path = tmp_path / "four_epochs.yaml"
    path.write_text(yaml.safe_dump(doc))
    return path


@pytest.mark.slow
def test_stopped_candidates_are_recorded_not_exported(db_url, tmp_path, four_epoch_space):
    sessions = make_sessionmaker(make_engine(db_url))
    row = _study(sessions, db_url, four_epoch_space, fidelity={"eta": 2, "min_epochs": 1})
    Worker(db_url, study_name="fid", artifacts=tmp_path / "runs", cache_dir=tmp_path / "cache", name="w1",
           options=WorkerOptions(linger=False)).run()
    with sessions() as s:
        trials = s.scalars(select(TrialRow).where(TrialRow.study_id == row.id)).all()
        rungs = s.scalars(select(RungRow).where(RungRow.study_id == row.id)).all()
        front = set(s.scalars(select(ParetoPointRow.number).where(ParetoPointRow.study_id == row.id)).all())
        exported = set(s.scalars(select(TrialRow.number).join(ArtifactRow, ArtifactRow.trial_id == TrialRow.id)
                                 .where(TrialRow.study_id == row.id, ArtifactRow.kind == "model.tflite")).all())
        effort = search_effort(s, row.id, "nucleo-l4r5zi")
    by_status = {st: {t.number for t in trials if t.status == st} for st in ("ok", "stopped", "infeasible")}
    assert len(trials) == 6 and sum(map(len, by_status.values())) == 6  # exact budget; nothing failed
    assert by_status["stopped"] and by_status["ok"]
    assert exported == by_status["ok"] and front <= by_status["ok"]  # stopped ones are never exported
    assert len({(r.number, r.rung) for r in rungs}) == len(rungs)  # each rung once per candidate
    assert {r.number for r in rungs if r.rung == 0} == {t.number for t in trials}  # everyone met the first rung
    for t in trials:
        reached = [r for r in rungs if r.number == t.number]
        if t.status == "stopped":  # trained up to the rung it failed, not one epoch more
            assert not reached[-1].promoted and len(t.details["history"]) == reached[-1].epoch
        else:
            assert all(r.promoted for r in reached) and len(reached) == 3  # rungs 1 and 2, and the final rung
    ostudy = optuna.load_study(study_name="fid", storage=db_url)
    states = {t.number: t.state for t in ostudy.trials}
    assert {n for n, st in states.items() if st == optuna.trial.TrialState.PRUNED} == by_status["stopped"]
    assert front == {t.number for t in ostudy.best_trials}
    assert effort.rungs[0][1] == 6 and effort.epochs == sum(len(t.details["history"]) for t in trials)
    assert 0 < effort.outside_training_share < 1


@pytest.mark.slow
def test_a_killed_workers_candidate_is_rerun_and_judged_once(db_url, tmp_path, tiny_space_path):
    from test_studies_workers import _start_worker, kill_one_and_finish, stop_all  # as the kill test does

    doc = yaml.safe_load(tiny_space_path.read_text())
    doc["training"]["epochs"] = 8  # one rung after epoch 1, then 7 epochs to kill the worker in
    space = tmp_path / "eight_epochs.yaml"
    space.write_text(yaml.safe_dump(doc))
    sessions = make_sessionmaker(make_engine(db_url))
    row = _study(sessions, db_url, space, n_trials=5, fidelity={"eta": 8, "min_epochs": 1})
    ostudy = optuna.load_study(study_name="fid", storage=db_url)
    procs = {name: _start_worker(db_url, "fid", name, tmp_path) for name in ("w1", "w2")}
    victim = None
    try:
        deadline = time.monotonic() + 240
        while victim is None and time.monotonic() < deadline:
            with sessions() as s:
                judged = set(s.scalars(select(RungRow.number).where(RungRow.study_id == row.id)).all())
                recorded = set(s.scalars(select(TrialRow.number).where(TrialRow.study_id == row.id)).all())
            victim = next((t for t in ostudy.get_trials(states=(optuna.trial.TrialState.RUNNING,))
                           if t.number in judged - recorded and "pid" in t.user_attrs), None)
            time.sleep(0.1)
        assert victim is not None, "no trial was caught between its first rung and its record"
        kill_one_and_finish(procs, victim.user_attrs["pid"])
    finally:
        stop_all(procs)
    with sessions() as s:
        trials = s.scalars(select(TrialRow).where(TrialRow.study_id == row.id)).all()
        rungs = s.scalars(select(RungRow).where(RungRow.study_id == row.id)).all()
    numbers = [t.number for t in trials]
    assert len(trials) == 5 and len(set(numbers)) == 5 and victim.number not in numbers
    rerun = [t for t in trials if t.details.get("retry_of") == victim.number]
    assert len(rerun) == 1 and rerun[0].candidate == victim.user_attrs["candidate"]
    # its rung was judged when it first ran and is not recorded again under the re-run's number
    assert [(r.number, r.rung) for r in rungs].count((victim.number, 0)) == 1
    assert rerun[0].number not in {r.number for r in rungs}
    assert rerun[0].details["extra"]["rungs"][0]["val_accuracy"] == next(r.val_accuracy for r in rungs
                                                                if r.number == victim.number)
