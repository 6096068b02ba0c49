"""``/api/datasets`` and datasets in ``POST /api/studies``: uploads of a zip of class folders (token, limits, path
escapes, audio checked as the loaders check it), registered names, checks at creation (422 with the cause), and
the whole way over REST: upload, launch a 4-trial study, let ``nas worker`` run it, read the front, get a .tflite."""

from __future__ import annotations

import io
import os
import subprocess
import sys
import zipfile
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf
from fastapi.testclient import TestClient

from nas.api import Settings, create_app
from nas.service import datasets as ds
from tests.conftest import REPO, shared_dir

TOKEN = "datasets-token-0123456789abcdef"
AUTH = {"Authorization": f"Bearer {TOKEN}"}


def wav(freq: float, seconds: float = 0.25, sr: int = 16000) -> bytes:
    t = np.arange(int(seconds * sr)) / sr
    buf = io.BytesIO()
    sf.write(buf, (0.3 * np.sin(2 * np.pi * freq * t)).astype(np.float32), sr, format="WAV", subtype="PCM_16")
    return buf.getvalue()


def make_zip(files: dict[str, bytes], links: tuple[str, ...] = ()) -> bytes:
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as zf:
        for name, data in files.items():
            zf.writestr(name, data)
        for name in links:
            info = zipfile.ZipInfo(name)
            info.external_attr = (0o120777 << 16)
            zf.writestr(info, "/etc/passwd")
    return buf.getvalue()


def three_classes(top: str = "sounds/") -> dict[str, bytes]:
    return {f"{top}{c}/{i}.wav": wav(300 + 200 * k + 10 * i) for k, c in enumerate(("beep", "hum", "tick"))
            for i in range(8)}


@pytest.fixture()
def app_env(tmp_path):
    settings = Settings(db_url=f"sqlite:///{tmp_path / 'nas.db'}", api_token=TOKEN,
                        upload_dir=str(tmp_path / "uploads"))
    with TestClient(create_app(settings)) as c:
        yield c, tmp_path


def upload(client: TestClient, name: str, body: bytes, headers: dict[str, str] | None = None):
    return client.post(f"/api/datasets?name={name}", content=body,
                       headers={"Content-Type": "application/zip", **(AUTH if headers is None else headers)})


def test_upload_registers_a_checked_folder_dataset(app_env):
    client, tmp = app_env
    files = three_classes()
    files["sounds/tick/broken.wav"] = b"RIFF not really audio"
    files["sounds/README.md"] = b"ignored"
    files["__MACOSX/sounds/._0.wav"] = b"resource fork"
    r = upload(client, "bht", make_zip(files))
    assert r.status_code == 201, r.text
    out = r.json()
    assert out["kind"] == "folder" and out["uploaded"] and out["counts_from"] == "load"
    assert out["classes"] == ["beep", "hum", "tick"] and out["clips"] == 24  # the broken file is skipped
    assert "spec" not in out and str(tmp) not in r.text  # no server path in the answer
    assert sorted(p.name for p in (tmp / "uploads" / "bht").iterdir()) == ["beep", "hum", "tick"]
    assert [d["name"] for d in client.get("/api/datasets").json()] == ["bht"]
    assert client.get("/api/datasets/bht").json()["class_counts"] == {"beep": 8, "hum": 8, "tick": 8}
    # a registered name is what a study names
    r = client.post("/api/studies", headers=AUTH, json={"name": "on-bht", "dataset": "bht", "n_trials": 2})
    assert r.status_code == 201, r.text
    assert r.json()["config"]["dataset"].startswith("folder:")
    # in use: not removable; once stopped, removal deletes the files
    assert client.delete("/api/datasets/bht", headers=AUTH).status_code == 422
    client.post("/api/studies/on-bht/stop", headers=AUTH)
    assert client.delete("/api/datasets/bht", headers=AUTH).status_code == 200
    assert not (tmp / "uploads" / "bht").exists() and client.get("/api/datasets").json() == []


@pytest.mark.parametrize("body,cause", [
    (b"plain bytes", "not a zip archive"),
    (make_zip({"../evil/0.wav": wav(300)}), "escapes the dataset folder"),
    (make_zip({"/abs/0.wav": wav(300)}), "absolute"),
    (make_zip({"a/0.wav": wav(300)}, links=("a/link.wav",)), "symbolic link"),
    (make_zip({"readme.txt": b"x"}), "no audio files in class folders"),
    (make_zip({**three_classes(""), **{f"empty/{i}.wav": b"" for i in range(3)}}),
     "'empty' have no examples in the training split"),
])
def test_bad_uploads_are_refused_with_the_cause(app_env, body, cause):
    client, tmp = app_env
    r = upload(client, "bad", body)
    assert r.status_code == 422 and cause in r.json()["detail"], r.text
    assert not (tmp / "uploads" / "bad").exists()  # nothing left behind
    assert client.get("/api/datasets").json() == []


def test_upload_limits_token_and_names(app_env, monkeypatch):
    client, _ = app_env
    good = make_zip(three_classes())
    assert upload(client, "x", good, headers={}).status_code == 401
    assert upload(client, "../x", good).status_code == 422
    assert upload(client, "synthetic", good).status_code == 422
    monkeypatch.setattr(ds, "UPLOAD_MAX_FILES", 10)
    assert "at most 10" in upload(client, "x", good).json()["detail"]
    monkeypatch.setattr(ds, "UPLOAD_MAX_FILES", 1000)
    monkeypatch.setattr(ds, "UPLOAD_MAX_UNPACKED", 50_000)
    assert "unpacks to more than" in upload(client, "x", good).json()["detail"]
    monkeypatch.setattr(ds, "UPLOAD_MAX_UNPACKED", 1 << 30)
    monkeypatch.setattr(ds, "UPLOAD_MAX_BYTES", 1000)
    assert upload(client, "x", good).status_code == 413
    monkeypatch.setattr(ds, "UPLOAD_MAX_BYTES", 1 << 28)
    assert upload(client, "x", good).status_code == 201
    assert "already registered" in upload(client, "x", good).json()["detail"]


def test_study_creation_checks_the_dataset_over_rest(app_env):
    """Raw paths stay refused; a registered dataset broken since registration is a 422 naming the cause."""
    client, tmp = app_env
    for dataset in ("folder:/etc", "/data/x", "fsdd:../x"):
        r = client.post("/api/studies", headers=AUTH, json={"name": "p", "dataset": dataset})
        assert r.status_code == 422 and "not a path" in r.json()["detail"], r.text
    r = client.post("/api/studies", headers=AUTH, json={"name": "p", "dataset": "nothere"})
    assert r.status_code == 422 and "unknown dataset 'nothere': not a registered name" in r.json()["detail"]
    assert upload(client, "cls3", make_zip(three_classes())).status_code == 201
    for p in (tmp / "uploads" / "cls3" / "hum").iterdir():
        p.unlink()
    r = client.post("/api/studies", headers=AUTH, json={"name": "p", "dataset": "cls3"})
    assert r.status_code == 422 and "'hum' have no examples in the training split" in r.json()["detail"], r.text
    (tmp / "uploads" / "cls3").rename(tmp / "moved")
    r = client.post("/api/studies", headers=AUTH, json={"name": "p", "dataset": "cls3"})
    assert r.status_code == 422 and "does not exist" in r.json()["detail"], r.text
    assert client.get("/api/studies").json() == []


@pytest.mark.slow
def test_over_rest_only_upload_launch_run_front_tflite(app_env):
    """The issue's acceptance test: FSDD digits 0-2 of three speakers uploaded as class folders, a 4-trial
    study launched over REST, run by a real ``nas worker`` process, its front read and a .tflite fetched."""
    client, tmp = app_env
    rec = shared_dir() / "data" / "fsdd" / "recordings"
    if not rec.is_dir():
        pytest.skip(f"FSDD not found at {rec} (set NAS_SHARED_DIR)")
    files = {f"fsdd3/{d}/{p.name}": p.read_bytes() for d in range(3) for speaker in ("george", "jackson", "theo")
             for p in sorted(rec.glob(f"{d}_{speaker}_*.wav"))[:8]}
    r = upload(client, "fsdd3", make_zip(files))
    assert r.status_code == 201 and r.json()["clips"] == 72, r.text
    r = client.post("/api/studies", headers=AUTH, json={
        "name": "fsdd3-m4", "dataset": "fsdd3", "space": "demo", "n_trials": 4, "seed": 1,
        "devices": ["nucleo-l4r5zi"]})
    assert r.status_code == 201, r.text
    db = client.app.state.settings.db_url
    env = {**os.environ, "PYTHONPATH": str(REPO)}
    subprocess.run([sys.executable, "-m", "nas", "worker", "--db", db, "--study", "fsdd3-m4", "--no-linger",
                    "--artifacts", str(tmp / "runs"), "--cache-dir", str(tmp / "cache")],
                   check=True, env=env, cwd=tmp, timeout=900, capture_output=True)
    study = client.get("/api/studies/fsdd3-m4").json()
    assert study["finished"] == 4 and study["dataset_summary"]["n_clips"] == 72, study
    listed = client.get("/api/datasets/fsdd3").json()
    assert listed["counts_from"] == "load" and listed["class_counts"] == study["dataset_summary"]["class_counts"]
    front = client.get("/api/studies/fsdd3-m4/pareto").json()["points"]
    assert front and all(p["accuracy"] is not None for p in front)
    model = client.get(f"/api/trials/{front[0]['trial_id']}/model.tflite")
    assert model.status_code == 200 and model.content[4:8] == b"TFL3"
    Path(tmp / "front.tflite").write_bytes(model.content)


def test_registered_dataset_counts_come_from_the_index_then_from_a_load(app_env):
    """``nas datasets add`` counts from the index; once a study's worker loaded it, from that load."""
    from sqlalchemy import update

    from nas.data import get_source
    from nas.study.tables import StudyRow

    client, tmp = app_env
    root = tmp / "mine"
    with zipfile.ZipFile(io.BytesIO(make_zip(three_classes("")))) as zf:
        zf.extractall(root)
    (root / "hum" / "7.wav").write_bytes(b"RIFF broken")  # listed by the index, skipped by a load
    sessions = client.app.state.sessions
    with sessions() as s:
        assert ds.add_dataset(s, "mine", f"folder:{root}").counts_from == "index"
    assert client.get("/api/datasets/mine").json()["class_counts"]["hum"] == 8
    assert client.post("/api/studies", headers=AUTH, json={"name": "m", "dataset": "mine"}).status_code == 201
    with sessions() as s:  # what the first worker does after loading the data
        s.execute(update(StudyRow).values(dataset_summary=get_source(f"folder:{root}").load().summary.to_dict()))
        s.commit()
    out = client.get("/api/datasets/mine").json()
    assert out["counts_from"] == "load" and out["class_counts"]["hum"] == 7
