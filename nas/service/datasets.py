"""Registered datasets: the operator names a dataset once, studies (CLI or REST) refer to it by that name.

``add_dataset`` checks the spec (``fsdd-speaker:/data/fsdd:theo``...) by loading its index, optionally
confined to allowed roots (``NAS_DATA_ROOTS``); ``upload_dataset`` unpacks a zip of a folder-per-class
dataset under the upload folder, checks every file as the loaders do and registers it. At study creation
:func:`resolve_dataset` turns a registered name into its spec (stored with the study, so workers need no
registry) and :func:`check_dataset` loads the index so a bad dataset fails at once, with the cause.
"""

from __future__ import annotations

import datetime as dt
import logging
import os
import shutil
import stat
import zipfile
from collections.abc import Mapping, Sequence
from dataclasses import asdict, dataclass
from pathlib import Path, PurePosixPath
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from nas.data import SPECS, DatasetSummary, get_source
from nas.data.audio import AUDIO_SUFFIXES
from nas.data.folder import SPLIT_LISTS, FolderSource
from nas.errors import ConfigError, DataError, NotFoundError
from nas.status import StudyStatus
from nas.study.config import NAME_RE, StudyConfig
from nas.study.tables import DatasetRow, StudyRow

log = logging.getLogger(__name__)

DEFAULT_UPLOAD_DIR = "runs/datasets"
UPLOAD_MAX_BYTES = 256 * 1024 * 1024  # the zip as sent
UPLOAD_MAX_UNPACKED = 1024 * 1024 * 1024  # what it unpacks to (a zip bomb stops here)
UPLOAD_MAX_FILES = 20_000
RESERVED = {"synthetic", *SPECS}


@dataclass(frozen=True)
class DatasetInfo:
    """A registered dataset. ``counts_from`` says whether the counts are the index (files listed, before
    unreadable ones are skipped) or a full load (every file decoded: uploads)."""

    name: str
    kind: str
    spec: str
    uploaded: bool
    clips: int | None
    classes: list[str]
    class_counts: dict[str, int]
    split_counts: dict[str, int]
    counts_from: str
    owner: str
    created_at: dt.datetime

    def to_dict(self) -> dict[str, Any]:
        d = asdict(self)
        d["created_at"] = self.created_at.isoformat()
        return d


def data_roots(env: Mapping[str, str] | None = None) -> list[Path]:
    """The allowed dataset roots from ``NAS_DATA_ROOTS`` (``os.pathsep``-separated); [] allows any folder."""
    raw = (os.environ if env is None else env).get("NAS_DATA_ROOTS", "")
    return [Path(p).expanduser().resolve() for p in raw.split(os.pathsep) if p.strip()]


def upload_dir(env: Mapping[str, str] | None = None) -> Path:
    """Where uploads are unpacked: ``NAS_UPLOAD_DIR``, default ``runs/datasets``."""
    return Path((os.environ if env is None else env).get("NAS_UPLOAD_DIR") or DEFAULT_UPLOAD_DIR).expanduser()


def _row(session: Session, name: str) -> DatasetRow | None:
    return session.scalars(select(DatasetRow).where(DatasetRow.name == name)).first()


def _info(row: DatasetRow, loaded: dict[str, Any] | None = None) -> DatasetInfo:
    """``loaded``: the summary a worker stored after loading this spec for a study, which replaces the index's."""
    s = loaded or row.summary or {}
    return DatasetInfo(row.name, row.kind, row.spec, row.uploaded, s.get("n_clips"), list(s.get("class_counts", {})),
                       dict(s.get("class_counts", {})), dict(s.get("split_counts", {})),
                       "load" if row.uploaded or loaded else "index", row.owner, row.created_at)


def _loaded_summaries(session: Session) -> dict[str, dict[str, Any]]:
    """{dataset spec: the summary of its latest full load by a worker} over the studies that have one."""
    rows = session.execute(select(StudyRow.config, StudyRow.dataset_summary)
                           .where(StudyRow.dataset_summary.is_not(None)).order_by(StudyRow.id)).all()
    return {str((cfg or {}).get("dataset")): summary for cfg, summary in rows if summary}


def _check_name(session: Session, name: str) -> None:
    if not NAME_RE.match(name):
        raise ConfigError(f"dataset name '{name[:80]}': must be 1-64 letters, digits, '_', '-' or '.', starting "
                          "with a letter or digit")
    if name in RESERVED:
        raise ConfigError(f"dataset name '{name}' is a dataset kind; choose another name")
    if _row(session, name) is not None:
        raise ConfigError(f"a dataset named '{name}' is already registered (nas datasets remove {name} first)")


def _confine(root: Path, roots: Sequence[Path], spec: str) -> None:
    if not roots:
        return
    real = root.resolve()
    if not any(real == r or r in real.parents for r in roots):
        raise ConfigError(f"dataset '{spec}': folder '{real}' is outside the allowed roots (NAS_DATA_ROOTS: "
                          f"{os.pathsep.join(map(str, roots))})")


def check_dataset(spec: str, *, roots: Sequence[Path] = ()) -> DatasetSummary:
    """Load the index of ``spec`` (no audio decoded) and refuse what would fail in every worker.

    Raises:
        ConfigError: an unknown kind, a bad option, a folder outside ``roots``.
        DataError: a folder that does not exist, a class without training clips (e.g. a Speech Commands
            folder without the auxiliary words of ``_unknown_``), an unknown held-out speaker, an empty split.
    """
    source = get_source(spec)
    root = getattr(source, "root", None)
    if isinstance(root, Path):
        _confine(root, roots, spec)
    summary = source.index()
    empty = [split for split, n in summary.split_counts.items() if n == 0]
    if empty:
        raise DataError(f"dataset '{spec}': the {' and '.join(empty)} split(s) would be empty "
                        f"(splits: {', '.join(f'{k} {v}' for k, v in summary.split_counts.items())}); "
                        "add recordings or fix the split lists")
    return summary


def add_dataset(session: Session, name: str, spec: str, *, roots: Sequence[Path] = (), owner: str = ""
                ) -> DatasetInfo:
    """Register ``spec`` as ``name`` after checking its index (and that it lies under ``roots``, if any)."""
    _check_name(session, name)
    if spec.strip().partition(":")[0] != "synthetic" and ":" not in spec:
        raise ConfigError(f"dataset spec '{spec}' needs a kind and a path, e.g. fsdd:/data/fsdd")
    summary = check_dataset(spec, roots=roots)
    row = DatasetRow(name=name, spec=spec, kind=spec.partition(":")[0], owner=owner, summary=summary.to_dict())
    session.add(row)
    session.commit()
    return _info(row)


def list_datasets(session: Session) -> list[DatasetInfo]:
    """The registered datasets; counts come from a worker's full load once a study has read one."""
    loaded = _loaded_summaries(session)
    return [_info(r, loaded.get(r.spec)) for r in session.scalars(select(DatasetRow).order_by(DatasetRow.name)).all()]


def get_dataset(session: Session, name: str) -> DatasetInfo:
    row = _row(session, name)
    if row is None:
        raise NotFoundError(f"no registered dataset '{name[:80]}'")
    return _info(row, _loaded_summaries(session).get(row.spec))


def remove_dataset(session: Session, name: str) -> DatasetInfo:
    """Forget ``name``; an uploaded dataset's files go too, unless a running study still reads them."""
    row = _row(session, name)
    if row is None:
        raise NotFoundError(f"no registered dataset '{name[:80]}'")
    users = [s.name for s in session.scalars(select(StudyRow).where(StudyRow.status == StudyStatus.RUNNING)).all()
             if (s.config or {}).get("dataset") == row.spec]
    if users:
        raise ConfigError(f"dataset '{name}' is used by running studies {', '.join(users)}: stop them first")
    info = _info(row)
    session.delete(row)
    session.commit()
    if row.uploaded:
        shutil.rmtree(row.spec.partition(":")[2], ignore_errors=True)
    return info


def resolve_dataset(session: Session, value: str) -> str:
    """The spec of registered dataset ``value``; ``synthetic[:N]`` and ``KIND:PATH`` specs pass through.

    Raises:
        NotFoundError: a bare name that is neither registered nor ``synthetic``.
    """
    if ":" in value or value == "synthetic":
        return value
    row = _row(session, value)
    if row is not None:
        return row.spec
    names = [r for r in session.scalars(select(DatasetRow.name).order_by(DatasetRow.name)).all()]
    raise NotFoundError(f"unknown dataset '{value[:80]}': not a registered name (registered: "
                        f"{', '.join(names) or 'none'}; "
                        "'nas datasets add NAME SPEC' or POST /api/datasets registers one, or use synthetic[:N])")


def prepare_dataset(session: Session, cfg: StudyConfig) -> StudyConfig:
    """``cfg`` with a registered dataset name replaced by its spec, after :func:`check_dataset` passed."""
    spec = resolve_dataset(session, cfg.dataset)
    if spec.partition(":")[0] == "synthetic":
        get_source(spec)  # the count only: the generator yields every class in every split
    else:
        check_dataset(spec)
    return cfg if spec == cfg.dataset else cfg.model_copy(update={"dataset": spec})


# --- uploads ----------------------------------------------------------------------------------------
def _member_path(info: zipfile.ZipInfo) -> PurePosixPath | None:
    """The member's safe relative path, None for what is skipped (folders, hidden files, macOS metadata).

    Raises:
        DataError: an absolute path, a '..' part, a backslash or drive, a symbolic link.
    """
    name = info.filename
    if "\\" in name or name.startswith("/") or (len(name) > 1 and name[1] == ":"):
        raise DataError(f"upload refused: member '{name[:120]}' has an absolute or Windows path")
    path = PurePosixPath(name)
    if ".." in path.parts:
        raise DataError(f"upload refused: member '{name[:120]}' escapes the dataset folder ('..')")
    if stat.S_ISLNK(info.external_attr >> 16):
        raise DataError(f"upload refused: member '{name[:120]}' is a symbolic link")
    if info.is_dir() or any(p.startswith(".") or p == "__MACOSX" for p in path.parts):
        return None
    return path


def _strip_top(paths: list[PurePosixPath]) -> list[PurePosixPath]:
    """Drop a single folder that holds everything (``zip -r ds.zip ds/``), so class folders come first."""
    while (paths and all(len(p.parts) > 1 for p in paths) and any(len(p.parts) > 2 for p in paths)
           and len({p.parts[0] for p in paths}) == 1):
        paths = [PurePosixPath(*p.parts[1:]) for p in paths]
    return paths


def _wanted(path: PurePosixPath) -> bool:
    if len(path.parts) == 1:
        return path.name in SPLIT_LISTS.values()
    return len(path.parts) == 2 and path.suffix.lower() in AUDIO_SUFFIXES


def upload_dataset(session: Session, name: str, archive: Path, dest_root: Path, *, owner: str = ""
                   ) -> DatasetInfo:
    """Unpack zip ``archive`` (class folders of audio, optional split lists) to ``dest_root/name``, check
    every file as the folder loader does (unreadable files are skipped with the reason; a class without
    training clips is an error) and register it as ``folder:...``.

    Raises:
        ConfigError: a bad or taken name.
        DataError: not a zip, a path escape or link, too many files or bytes, no usable class folder.
    """
    _check_name(session, name)
    try:
        zf = zipfile.ZipFile(archive)
    except (zipfile.BadZipFile, OSError) as e:
        raise DataError(f"upload refused: not a zip archive ({e})") from e
    with zf:
        members = [(i, p) for i in zf.infolist() if (p := _member_path(i)) is not None]
        if len(members) > UPLOAD_MAX_FILES:
            raise DataError(f"upload refused: {len(members)} files, at most {UPLOAD_MAX_FILES}")
        paths = _strip_top([p for _, p in members])
        keep = [(i, p) for (i, _), p in zip(members, paths, strict=True) if _wanted(p)]
        if not keep:
            raise DataError("upload refused: no audio files in class folders (expected CLASS/FILE.wav, "
                            f"audio suffixes {', '.join(sorted(AUDIO_SUFFIXES))})")
        ignored = len(members) - len(keep)
        dest_root.mkdir(parents=True, exist_ok=True)
        dest = dest_root / name
        try:
            dest.mkdir()
        except FileExistsError as e:
            raise ConfigError(f"upload refused: '{dest}' already exists on the server") from e
        try:
            _extract(zf, keep, dest)
            summary = FolderSource(dest).load().summary  # decodes every file: the loaders' own checks
        except BaseException:
            shutil.rmtree(dest, ignore_errors=True)
            raise
    spec = f"folder:{dest.resolve()}"
    data = summary.to_dict()
    if ignored:
        data["notes"] = [*data["notes"], f"{ignored} file(s) of the upload were not audio in a class folder "
                                         "nor a split list, and were left out"]
    row = DatasetRow(name=name, spec=spec, kind="folder", uploaded=True, owner=owner, summary=data)
    session.add(row)
    session.commit()
    log.info("uploaded dataset %s: %d clips in %s", name, summary.n_clips, dest)
    return _info(row)


def _extract(zf: zipfile.ZipFile, members: list[tuple[zipfile.ZipInfo, PurePosixPath]], dest: Path) -> None:
    """Write ``members`` under ``dest``, counting the bytes actually unpacked (sizes in a zip can lie)."""
    try:
        _copy(zf, members, dest)
    except zipfile.BadZipFile as e:
        raise DataError(f"upload refused: the zip archive is corrupt ({e})") from e


def _copy(zf: zipfile.ZipFile, members: list[tuple[zipfile.ZipInfo, PurePosixPath]], dest: Path) -> None:
    total = 0
    for info, rel in members:
        out = dest.joinpath(*rel.parts)
        out.parent.mkdir(parents=True, exist_ok=True)
        with zf.open(info) as src, out.open("wb") as dst:
            while chunk := src.read(1 << 20):
                total += len(chunk)
                if total > UPLOAD_MAX_UNPACKED:
                    raise DataError(f"upload refused: unpacks to more than {UPLOAD_MAX_UNPACKED >> 20} MiB")
                dst.write(chunk)
