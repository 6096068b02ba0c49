"""Data stage: dataset sources, audio frontends and the feature cache.

:func:`get_source` is the one place where a dataset name from YAML or the CLI (``synthetic``,
``fsdd:PATH``...) becomes a :class:`DatasetSource`; see :data:`SPECS` for the forms it accepts.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

from nas.data.base import AudioDataset, DatasetSource, DatasetSummary, SkippedFile
from nas.data.cache import FeatureCache
from nas.data.esc50 import ESC50Source
from nas.data.folder import FolderSource
from nas.data.frontend import FeatureSet, Frontend, build_features, validate_frontend
from nas.data.fsdd import FSDDSource
from nas.data.speech_commands import SpeechCommandsSource
from nas.data.synthetic import SyntheticSource
from nas.data.urbansound8k import UrbanSound8KSource
from nas.errors import ConfigError, DataError

__all__ = [
    "AudioDataset", "DatasetSource", "DatasetSummary", "ESC50Source", "FSDDSource", "FeatureCache",
    "FeatureSet", "FolderSource", "Frontend", "SPECS", "SkippedFile", "SpeechCommandsSource",
    "SyntheticSource", "UrbanSound8KSource", "build_features", "get_source",
    "validate_frontend",
]

# name -> (usage, builder(path, option or None)). The option is what follows the path's last ':'.
_Builder = Callable[[Path, "str | None"], DatasetSource]


def _fold(option: str | None, spec: str) -> int:
    if option is None:
        return 1
    try:
        return int(option)
    except ValueError as e:
        raise ConfigError(f"dataset '{spec}': the fold after the path must be an integer") from e


SPECS: dict[str, tuple[str, _Builder]] = {
    "fsdd": ("fsdd:PATH (official split: takes 0-4 test)", lambda p, o: FSDDSource(p)),
    "fsdd-speaker": ("fsdd-speaker:PATH[:SPEAKER] (leave-one-speaker-out)",
                     lambda p, o: FSDDSource(p, split="speaker", test_speaker=o)),
    "speech-commands": ("speech-commands:PATH (12 classes)", lambda p, o: SpeechCommandsSource(p)),
    "speech-commands-all": ("speech-commands-all:PATH (every word)",
                            lambda p, o: SpeechCommandsSource(p, task="all")),
    "esc50": ("esc50:PATH[:TEST_FOLD]", lambda p, o: ESC50Source(p, test_fold=_fold(o, "esc50"))),
    "esc10": ("esc10:PATH[:TEST_FOLD]", lambda p, o: ESC50Source(p, test_fold=_fold(o, "esc10"), esc10=True)),
    "urbansound8k": ("urbansound8k:PATH[:TEST_FOLD]",
                     lambda p, o: UrbanSound8KSource(p, test_fold=_fold(o, "urbansound8k"))),
    "folder": ("folder:PATH (one sub-folder per class)", lambda p, o: FolderSource(p)),
}
_OPTIONS = {"fsdd-speaker", "esc50", "esc10", "urbansound8k"}


def available() -> str:
    return "synthetic[:N], " + ", ".join(usage for usage, _ in SPECS.values())


def get_source(spec: str) -> DatasetSource:
    """Turn a dataset spec into a source; nothing is read until ``load()``.

    ``synthetic[:N]`` (N clips, default 800) or ``NAME:PATH[:OPTION]`` for the layouts in
    :data:`SPECS`. A trailing ``:OPTION`` is only split off when the whole text is not a path.

    Raises:
        ConfigError: unknown name (the message lists the available ones) or a bad option.
        DataError: the path does not exist.
    """
    name, _, arg = spec.strip().partition(":")
    if name == "synthetic":
        try:
            return SyntheticSource(n_clips=int(arg)) if arg else SyntheticSource()
        except ValueError as e:
            raise ConfigError(f"dataset '{spec}': 'synthetic:N' needs an integer clip count") from e
    if name not in SPECS:
        raise ConfigError(f"unknown dataset '{spec}': available: {available()}")
    if not arg:
        raise ConfigError(f"dataset '{spec}' needs a path: {SPECS[name][0]}")
    path, option = Path(arg).expanduser(), None
    if not path.exists() and name in _OPTIONS and ":" in arg:
        head, _, option = arg.rpartition(":")
        path = Path(head).expanduser()
    if not path.is_dir():
        raise DataError(f"dataset '{spec}': folder '{path}' does not exist")
    return SPECS[name][1](path, option)

