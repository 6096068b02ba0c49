"""What a worker loads once per study and keeps between its trials: the config, the search space, the
dataset and profiles (as a :class:`~nas.pipeline.TrialContext`) and the Optuna study with its sampler."""

from __future__ import annotations

import logging
import zlib
from dataclasses import dataclass
from pathlib import Path

import optuna
from sqlalchemy.orm import Session, sessionmaker

from nas.data import FeatureCache, get_source
from nas.hardware import HardwareProfile
from nas.pipeline import CostCache, TrialContext
from nas.space import SearchSpace
from nas.study.config import StudyConfig
from nas.study.recovery import RetryPolicy, StaleTrialHandler, with_db_retry
from nas.study.sampler import Heartbeat, load_optuna_study
from nas.study.store import store_dataset_summary
from nas.study.tables import StudyRow

log = logging.getLogger(__name__)


@dataclass
class StudyRuntime:
    """One study as a worker runs it."""

    cfg: StudyConfig
    space: SearchSpace
    ctx: TrialContext
    profiles: dict[str, HardwareProfile]
    study: optuna.Study
    artifacts: Path  # this study's folder of trial files (nas.artifacts: never another study's)

    @classmethod
    def load(cls, row: StudyRow, *, db_url: str, sessions: sessionmaker[Session], worker: str, cache: FeatureCache,
             cost_cache: CostCache, heartbeat: Heartbeat, max_retries: int, retry: RetryPolicy,
             accelerator: str, artifacts: Path) -> StudyRuntime:
        """Parse the stored config, load the dataset (the first worker to do so stores and logs its summary)
        and the profiles, and open the Optuna study with this worker's sampler seed and stale-trial handler."""
        cfg = StudyConfig.parse(row.config)
        profiles = {d: cfg.profile(d) for d in cfg.devices}
        dataset = get_source(cfg.dataset).load()

        def store_summary() -> bool:
            with sessions() as session:
                return store_dataset_summary(session, row.id, dataset.summary.to_dict())

        if with_db_retry(store_summary, f"[{worker}] store the dataset summary", retry):
            for line in dataset.summary.lines():
                log.info(line)
        ctx = TrialContext(dataset, cache, tuple(profiles[d] for d in cfg.devices), seed=cfg.seed,
                           precheck=cfg.precheck, max_latency_ms=cfg.max_latency_ms,
                           inference_rate_hz=cfg.inference_rate_hz, max_energy_uj=cfg.max_energy_uj,
                           cost_cache=cost_cache, accelerator=accelerator)
        on_stale = StaleTrialHandler(sessions, row.name, max_retries=max_retries, worker=worker)
        study = load_optuna_study(cfg, db_url, zlib.crc32(worker.encode()), heartbeat=heartbeat, on_stale=on_stale)
        return cls(cfg, cfg.search_space(), ctx, profiles, study, artifacts)
