"""Free Spoken Digit Dataset: ``recordings/{digit}_{speaker}_{take}.wav``, mono 8 kHz.

Two tasks on the same files: the official split (takes 0-4 of every digit and speaker are the test
set) is easy, a plain CNN reaches 100 %; leave-one-speaker-out (a held-out speaker for test and
another for validation) is the honest one for comparing models. Both read the same clips in the same
order, so they share cached features.
"""

from __future__ import annotations

import logging
import re
from pathlib import Path

from nas.data.audio import AUDIO_SUFFIXES
from nas.data.base import AudioDataset, DatasetSource
from nas.data.builder import DatasetBuilder, audio_files, require_dir
from nas.errors import DataError

log = logging.getLogger(__name__)

NAME = re.compile(r"^(?P<digit>\d)_(?P<speaker>[A-Za-z0-9-]+)_(?P<take>\d+)\Z")
CLASSES = tuple(str(d) for d in range(10))
OFFICIAL_TEST_TAKES = range(0, 5)


class FSDDSource(DatasetSource):
    """FSDD at ``root`` (the folder holding ``recordings/``, or ``recordings/`` itself).

    Args:
        split: ``official`` (takes 0-4 test, validation carved from the rest) or ``speaker``
            (``test_speaker`` held out for test, the next speaker alphabetically for validation).
        test_speaker: for ``speaker``; default the first speaker alphabetically.
        sample_rate: the recordings' own 8 kHz by default.
    """

    def __init__(self, root: str | Path, *, split: str = "official", test_speaker: str | None = None,
                 seed: int = 0, valid_fraction: float = 0.1, sample_rate: int = 8000):
        if split not in ("official", "speaker"):
            raise ValueError(f"split must be 'official' or 'speaker', not {split!r}")
        self.root, self.split, self.test_speaker = Path(root), split, test_speaker
        self.seed, self.valid_fraction, self.sample_rate = seed, valid_fraction, sample_rate
        self.name = "fsdd" if split == "official" else "fsdd-speaker"

    def describe(self) -> str:
        held_out = f":{self.test_speaker}" if self.test_speaker else ""
        return f"{self.name}:{self.root}{held_out}"

    def load(self) -> AudioDataset:
        root = require_dir(self.root, "FSDD")
        folder = root / "recordings" if (root / "recordings").is_dir() else root
        files, others = audio_files(folder, frozenset({".wav"}))
        builder = DatasetBuilder(self.describe(), CLASSES, self.sample_rate, root,
                                  index_only=self.index_only)
        for p in others:
            if p.suffix.lower() in AUDIO_SUFFIXES:
                builder.skip(p, f"FSDD recordings are .wav files, not {p.suffix}")
        parsed = []
        for p in files:
            m = NAME.match(p.stem)
            if m is None:
                builder.skip(p, "name does not match {digit}_{speaker}_{take}.wav")
            else:
                parsed.append((p, int(m["digit"]), m["speaker"], int(m["take"])))
        if not parsed:
            raise DataError(f"no FSDD recordings ({{digit}}_{{speaker}}_{{take}}.wav) in '{folder}'")
        speakers = sorted({s for _, _, s, _ in parsed})
        split_of = self._split_rule(speakers)
        for path, digit, speaker, take in parsed:
            builder.add_file(path, digit, split_of(speaker, take), group=speaker)
        return builder.build(seed=self.seed, valid_fraction=self.valid_fraction)

    def _split_rule(self, speakers: list[str]):
        if self.split == "official":
            return lambda speaker, take: "test" if take in OFFICIAL_TEST_TAKES else "train"
        if len(speakers) < 3:
            raise DataError(f"FSDD at '{self.root}': a speaker split needs 3 speakers, found {speakers}")
        test = self.test_speaker or speakers[0]
        if test not in speakers:
            raise DataError(f"FSDD at '{self.root}': no speaker '{test}'; speakers: {', '.join(speakers)}")
        valid = speakers[(speakers.index(test) + 1) % len(speakers)]
        log.log(logging.DEBUG if self.index_only else logging.INFO, "FSDD speaker split: test %s, valid %s", test,
                valid)
        return lambda speaker, take: "test" if speaker == test else "valid" if speaker == valid else "train"
