"""Search spaces and hardware profiles given as JSON objects: ``POST /api/spaces`` / ``/api/devices`` check one with
the YAML files' schema and messages, ``POST /api/studies`` takes them inline, and every study keeps its space and
profiles as documents, so it runs the same after the files change."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml
from fastapi.testclient import TestClient

from nas import service
from nas.api import Settings, create_app
from nas.errors import ConfigError
from nas.hardware import load_profile
from nas.space import load_space
from nas.study.config import StudyConfig
from nas.study.tables import make_engine, make_sessionmaker
from tests.conftest import FIXTURES

TOKEN = "inline-token-0123456789abcdef"
AUTH = {"Authorization": f"Bearer {TOKEN}"}
PROFILES = Path(__file__).resolve().parents[2] / "nas" / "hw_profiles"


@pytest.fixture()
def client(tmp_path):
    with TestClient(create_app(Settings(db_url=f"sqlite:///{tmp_path / 'nas.db'}", api_token=TOKEN))) as c:
        yield c


def tiny() -> dict:
    return yaml.safe_load((FIXTURES / "tiny_space.yaml").read_text())


def board(**changes) -> dict:
    return {**yaml.safe_load((PROFILES / "nrf52840.yaml").read_text()), "name": "my-board", **changes}


def _file_message(tmp_path: Path, doc: dict, loader) -> str:
    path = tmp_path / "doc.yaml"
    path.write_text(yaml.safe_dump(doc))
    with pytest.raises(ConfigError) as e:
        loader(path)
    return str(e.value).removeprefix(f"{path}")


@pytest.mark.parametrize("doc", [
    {**tiny(), "families": {"transformer": {"n_heads": 5, "d_model": 16}}},
    {**tiny(), "families": {"resnet9000": {}}},
    {**tiny(), "compression": {"bits": [3]}},
    {**tiny(), "surprise": 1},
])
def test_bad_space_gets_the_yaml_files_message(client, tmp_path, doc):
    r = client.post("/api/spaces", json=doc)
    assert r.status_code == 422
    assert r.json()["detail"] == "search space (request body)" + _file_message(tmp_path, doc, load_space)


@pytest.mark.parametrize("changes", [{"clock_mhz": -1}, {"kind": "toaster"}, {"sram_kb": "lots"}, {"extra": 1}])
def test_bad_profile_gets_the_yaml_files_message(client, tmp_path, changes):
    doc = board(**changes)
    r = client.post("/api/devices", json=doc)
    assert r.status_code == 422
    assert r.json()["detail"] == "hardware profile (request body)" + _file_message(tmp_path, doc, load_profile)


def test_good_documents_are_described(client):
    space = client.post("/api/spaces", json=tiny())
    assert space.status_code == 200 and space.json()["size"] == 12 and space.json()["families"] == ["dscnn", "mlp"]
    dev = client.post("/api/devices", json=board(sram_kb=512))
    assert dev.status_code == 200 and dev.json()["sram_kb"] == 512 and dev.json()["name"] == "my-board"
    assert client.get("/api/studies").json() == []  # checking creates nothing


def test_inline_space_and_profile_are_stored_with_the_study(client):
    r = client.post("/api/studies", headers=AUTH, json={
        "name": "inline", "space": tiny(), "devices": [board(sram_kb=96), "nrf52840"], "n_trials": 2})
    assert r.status_code == 201, r.text
    cfg = r.json()["config"]
    assert cfg["space"] == "tiny" and cfg["devices"] == ["my-board", "nrf52840"]
    assert cfg["space_doc"] == tiny() and cfg["profile_docs"]["my-board"]["sram_kb"] == 96
    assert cfg["profile_docs"]["nrf52840"]["name"] == "nrf52840"  # shipped ones are stored too
    stored = StudyConfig.parse(cfg)
    assert stored.profile("my-board").sram_kb == 96 and stored.search_space().size() == 12


@pytest.mark.parametrize("body,cause", [
    ({"space": {**tiny(), "compression": {"teacher": "/srv/models/big.pt"}}}, "not a file on the server"),
    ({"devices": [board(agent_url="http://10.0.0.5:8001")]}, "may not set agent_url"),
    ({"devices": [board(name="nrf52840")]}, "has the name of a shipped profile"),
    ({"devices": [{"sram_kb": 1}]}, "needs a 'name'"),
    ({"devices": [board(clock_mhz=0)]}, "hardware profile 'my-board': key 'clock_mhz' must be > 0"),
    ({"space": {**tiny(), "families": {}}}, "search space 'tiny': families: at least one model family"),
])
def test_inline_documents_are_refused_with_the_cause(client, body, cause):
    r = client.post("/api/studies", headers=AUTH, json={"name": "bad", **body})
    assert r.status_code == 422 and cause in r.json()["detail"], r.text
    assert client.get("/api/studies").json() == []


@pytest.mark.slow
def test_study_runs_from_its_stored_space_after_the_file_changes(tmp_path):
    from nas.study.worker import Worker

    space = tmp_path / "space.yaml"
    space.write_text((FIXTURES / "tiny_space.yaml").read_text())
    url = f"sqlite:///{tmp_path / 'nas.db'}"
    with make_sessionmaker(make_engine(url))() as s:
        service.create_study(s, url, StudyConfig.parse({"name": "kept", "dataset": "synthetic:120", "space": str(space),
                                                        "n_trials": 2, "seed": 1}))
    space.write_text("families: {resnet9000: {}}\n")  # the file changes (here: breaks) after creation
    Worker(url, study_name="kept", artifacts=tmp_path / "runs", cache_dir=tmp_path / "cache", name="w").run()
    with make_sessionmaker(make_engine(url))() as s:
        info = service.study_info(s, "kept")
    assert info.finished == 2 and info.failed == 0


@pytest.mark.parametrize("field", ["space_doc", "profile_docs"])
def test_the_stored_documents_are_not_request_fields(client, field):
    r = client.post("/api/studies", json={"name": "docs", field: True}, headers=AUTH)
    assert r.status_code == 422 and "set by the server" in r.text
