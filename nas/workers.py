"""Workers pull trials from running studies until their budgets are spent.

A worker is a process (litert-torch conversions beside training threads crashed in tests) that
runs one trial at a time. Before asking Optuna for a trial it claims a slot of the study's budget
with one atomic ``UPDATE ... WHERE claimed < budget``, so any number of workers on any number of
machines never run more trials than the budget, on SQLite and PostgreSQL alike.
"""

from __future__ import annotations

import logging
import multiprocessing as mp
import os
import socket
import traceback
import zlib
from dataclasses import dataclass
from pathlib import Path

import optuna
from sqlalchemy import select, update
from sqlalchemy.orm import Session, sessionmaker

from nas.data import FeatureCache, get_source
from nas.db import StudyRow, TrialRow, make_engine, make_sessionmaker
from nas.errors import NasError
from nas.hardware import HardwareProfile, load_profile
from nas.logs import setup_logging
from nas.pipeline import TrialContext, run_trial
from nas.space import SearchSpace, load_space
from nas.study import (CONSTRAINTS_ATTR, constraint_values, load_optuna_study, objective_values,
                       record_failure, record_result)
from nas.study_config import StudyConfig

log = logging.getLogger(__name__)


@dataclass
class _StudyRuntime:
    """What a worker keeps per study between trials (loading data and profiles once)."""

    cfg: StudyConfig
    space: SearchSpace
    ctx: TrialContext
    profiles: dict[str, HardwareProfile]
    study: optuna.Study


def claim_slot(session: Session, study_id: int) -> bool:
    """Atomically take one trial of the budget; False when it is spent or the study is not running."""
    res = session.execute(update(StudyRow)
                          .where(StudyRow.id == study_id, StudyRow.claimed < StudyRow.budget,
                                 StudyRow.status == "running")
                          .values(claimed=StudyRow.claimed + 1))
    session.commit()
    return res.rowcount == 1


def set_torch_threads(n_workers: int) -> int:
    """Split the cores between workers so N workers on N cores do not oversubscribe."""
    import torch

    n = max(1, (os.cpu_count() or 1) // max(1, n_workers))
    torch.set_num_threads(n)
    return n


class Worker:
    """Runs trials of running studies from one database until there is nothing left to do."""

    def __init__(self, db_url: str, *, study_name: str | None = None, artifacts: Path = Path("runs"),
                 cache_dir: Path = Path(".nas_cache"), name: str | None = None):
        self.db_url = db_url
        self.study_name = study_name
        self.artifacts = Path(artifacts)
        self.cache = FeatureCache(cache_dir)
        self.name = name or f"{socket.gethostname()}:{os.getpid()}"
        self.sessions: sessionmaker = make_sessionmaker(make_engine(db_url))
        self._runtimes: dict[str, _StudyRuntime] = {}

    def _runtime(self, row: StudyRow) -> _StudyRuntime:
        if row.name not in self._runtimes:
            cfg = StudyConfig.parse(row.config)
            profiles = {d: load_profile(d) for d in cfg.devices}
            dataset = get_source(cfg.dataset).load()
            ctx = TrialContext(dataset, self.cache, tuple(profiles[d] for d in cfg.devices), seed=cfg.seed,
                               precheck=cfg.precheck, max_latency_ms=cfg.max_latency_ms)
            worker_seed = zlib.crc32(self.name.encode())
            self._runtimes[row.name] = _StudyRuntime(cfg, load_space(cfg.space), ctx, profiles,
                                                     load_optuna_study(cfg, self.db_url, worker_seed))
        return self._runtimes[row.name]

    def _next_study(self, session: Session) -> StudyRow | None:
        q = select(StudyRow).where(StudyRow.status == "running", StudyRow.claimed < StudyRow.budget)
        if self.study_name:
            q = q.where(StudyRow.name == self.study_name)
        return session.scalars(q.order_by(StudyRow.created_at)).first()

    def run(self, *, max_trials: int | None = None) -> int:
        """Run trials until no running study has budget left; returns how many this worker ran."""
        done = 0
        while max_trials is None or done < max_trials:
            with self.sessions() as session:
                row = self._next_study(session)
                if row is None or not claim_slot(session, row.id):
                    if row is None:
                        return done
                    continue
            self.run_one(row)
            done += 1
        return done

    def run_one(self, row: StudyRow) -> None:
        rt = self._runtime(row)
        trial = rt.study.ask()
        candidate = rt.space.sample(trial)
        out_dir = self.artifacts / row.name / f"trial-{trial.number:04d}"
        try:
            result = run_trial(candidate, rt.ctx, out_dir)
        except Exception as e:  # a failed trial is a result; the worker goes on
            reason = str(e) if isinstance(e, NasError) else f"{type(e).__name__}: {e}"
            log.warning("[%s] trial %d failed: %s\n%s", self.name, trial.number, reason,
                        "" if isinstance(e, NasError) else traceback.format_exc())
            rt.study.tell(trial, state=optuna.trial.TrialState.FAIL)
            with self.sessions() as session:
                record_failure(session, row, trial.number, candidate.to_dict(), reason, self.name)
                self._finish_if_done(session, row)
            return
        trial.set_user_attr(CONSTRAINTS_ATTR, constraint_values(rt.cfg, result, rt.profiles))
        tflite = (out_dir / "model.tflite").read_bytes() if result.status == "ok" else None
        with self.sessions() as session:
            record_result(session, row, rt.cfg, trial.number, result, rt.profiles, tflite, self.name)
            n_done = self._finish_if_done(session, row)
        rt.study.tell(trial, objective_values(rt.cfg, result))
        log.info("trial %d/%d [%s] #%d %s", n_done, row.budget, self.name, trial.number,
                 result.summary(rt.cfg.devices[0]))

    def _finish_if_done(self, session: Session, row: StudyRow) -> int:
        n_done = session.query(TrialRow).filter(TrialRow.study_id == row.id).count()
        if n_done >= row.budget:
            session.execute(update(StudyRow).where(StudyRow.id == row.id, StudyRow.status == "running")
                            .values(status="finished"))
            session.commit()
        return n_done


def _worker_main(db_url: str, study_name: str | None, artifacts: str, cache_dir: str, n_workers: int,
                 index: int, verbose: bool) -> None:
    setup_logging(verbose)
    set_torch_threads(n_workers)
    Worker(db_url, study_name=study_name, artifacts=Path(artifacts), cache_dir=Path(cache_dir),
           name=f"w{index}").run()


def run_local_workers(db_url: str, study_name: str | None, n_workers: int, *, artifacts: Path = Path("runs"),
                      cache_dir: Path = Path(".nas_cache")) -> None:
    """Run ``n_workers`` worker processes on this machine until the studies' budgets are spent."""
    ctx = mp.get_context("spawn")
    verbose = logging.getLogger("nas").getEffectiveLevel() <= logging.DEBUG
    procs = [ctx.Process(target=_worker_main, name=f"nas-worker-{i}",
                         args=(db_url, study_name, str(artifacts), str(cache_dir), n_workers, i + 1, verbose))
             for i in range(n_workers)]
    for p in procs:
        p.start()
    for p in procs:
        p.join()
    bad = [p.name for p in procs if p.exitcode not in (0, None)]
    if bad:
        log.warning("worker(s) exited with an error: %s", ", ".join(bad))
