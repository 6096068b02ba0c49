"""Fixtures of the API tests: one real tiny study (4 trials, trained and exported for real, once per
session) on a temporary SQLite file, and an app + TestClient on it."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from nas import service
from nas.api import Settings, create_app
from nas.study.config import StudyConfig
from nas.study.tables import make_engine, make_sessionmaker

TOKEN = "test-token-0123456789abcdef"
STUDY = "api-tiny"
FAKE = "api-fake"
FAKE_TRIALS = 120


@dataclass(frozen=True)
class Seeded:
    url: str
    root: Path
    study: str


def seed_tiny_study(root: Path, space: Path, name: str = STUDY, n_trials: int = 4) -> Seeded:
    """A finished study of ``n_trials`` real trials, run by one in-process worker."""
    from nas.study.worker import Worker

    url = f"sqlite:///{root / 'nas.db'}"
    cfg = StudyConfig.parse({"name": name, "dataset": "synthetic:160", "space": str(space), "n_trials": n_trials,
                             "devices": ["nucleo-l4r5zi", "nrf52840"], "seed": 3})
    with make_sessionmaker(make_engine(url))() as s:
        service.create_study(s, url, cfg)
    Worker(url, study_name=name, artifacts=root / "runs", cache_dir=root / "cache", name="w1").run()
    return Seeded(url, root, name)


@pytest.fixture(scope="session")
def seeded(tmp_path_factory, tiny_space_path) -> Seeded:
    """The real tiny study, plus ``api-fake``: 120 realistic rows (benchmark generator) for paging."""
    from benchmarks.bench_api import seed_fake_study

    s = seed_tiny_study(tmp_path_factory.mktemp("api"), tiny_space_path)
    seed_fake_study(s.url, FAKE, FAKE_TRIALS, seed=1, history_every=10)
    return s


@pytest.fixture(scope="session")
def settings(seeded) -> Settings:
    return Settings(db_url=seeded.url, api_token=TOKEN)


@pytest.fixture(scope="session")
def client(settings) -> TestClient:
    with TestClient(create_app(settings)) as c:
        yield c


@pytest.fixture()
def auth() -> dict[str, str]:
    return {"Authorization": f"Bearer {TOKEN}"}
