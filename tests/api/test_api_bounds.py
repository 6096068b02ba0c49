"""Issue 18, case 5: every size a request can set is bounded, and the frontend is validated at creation,
over REST and on the command line alike (one module, nas/service/bounds.py)."""

from __future__ import annotations

import pytest
import yaml
from fastapi.testclient import TestClient

from nas.api import Settings, create_app
from nas.cli import main
from nas.service.bounds import FAMILY_SIZE_MAX, MAX_SYNTHETIC_CLIPS, TRAINING_MAX

TOKEN = "bounds-token-0123456789abcdef"


def _space(tiny_space_path, section: str, key: str, value: object) -> dict:
    doc = yaml.safe_load(tiny_space_path.read_text())
    doc.setdefault(section, {})[key] = value
    return doc


@pytest.fixture()
def client(tmp_path):
    with TestClient(create_app(Settings(db_url=f"sqlite:///{tmp_path / 'b.db'}", api_token=TOKEN))) as c:
        yield c


@pytest.mark.parametrize("section,key,value,message", [
    ("frontend", "sample_rate", 1, "sample_rate=1: must be at least 1000 Hz"),
    ("frontend", "hop_ms", [0.01, 20], "hop_ms"),
    ("frontend", "n_mels", 4000, "frontend.n_mels"),
    ("training", "epochs", TRAINING_MAX["epochs"] + 1, "training.epochs"),
])
def test_frontend_and_sizes_of_an_inline_space_are_checked_at_creation(client, tiny_space_path, section, key,
                                                                          value, message):
    body = {"name": "bounded", "dataset": "synthetic:160", "space": _space(tiny_space_path, section, key, value)}
    r = client.post("/api/studies", json=body, headers={"Authorization": f"Bearer {TOKEN}"})
    assert r.status_code == 422 and message in r.json()["detail"], r.text


def test_family_sizes_and_synthetic_clips_are_bounded(client, tiny_space_path):
    auth = {"Authorization": f"Bearer {TOKEN}"}
    wide = _space(tiny_space_path, "families", "dscnn", {"n_blocks": 1, "channels": {"int": [8,
                                                                                      FAMILY_SIZE_MAX + 1]}})
    r = client.post("/api/studies", json={"name": "wide", "space": wide}, headers=auth)
    assert r.status_code == 422 and "families.dscnn.channels" in r.json()["detail"] and "bound" in r.text, r.text
    r = client.post("/api/studies", json={"name": "huge", "dataset": "synthetic:9999999"}, headers=auth)
    assert r.status_code == 422 and f"1 to {MAX_SYNTHETIC_CLIPS} clips" in r.json()["detail"]
    assert client.post("/api/studies", json={"name": "fine", "dataset": "synthetic:160"},
                       headers=auth).status_code == 201


def test_the_command_line_applies_the_same_bounds(tmp_path, tiny_space_path, capsys):
    space = tmp_path / "bad.yaml"
    space.write_text(yaml.safe_dump(_space(tiny_space_path, "frontend", "sample_rate", 1)))
    db = f"sqlite:///{tmp_path / 'cli.db'}"
    assert main(["study", "create", "s1", "--db", db, "--space", str(space)]) == 2
    err = capsys.readouterr().err
    assert "sample_rate=1: must be at least 1000 Hz" in err and len(err.strip().splitlines()) == 1
    assert main(["study", "create", "s2", "--db", db, "--dataset", "synthetic:9999999"]) == 2
    assert f"1 to {MAX_SYNTHETIC_CLIPS} clips" in capsys.readouterr().err
