"""The precheck's cost cache: a repeated graph is exported once, by any worker of the database."""

from __future__ import annotations

import pytest
from sqlalchemy import func, select

from nas import pipeline
from nas.candidate import ArchConfig, Candidate, FrontendConfig
from nas.cli.common import sessions
from nas.hardware import load_profile
from nas.pipeline import TrialContext, precheck
from nas.study.store import SqlCostCache
from nas.study.tables import CostCacheRow


def _ctx(cache: SqlCostCache | None) -> TrialContext:
    return TrialContext(dataset=None, cache=None, profiles=(load_profile("nucleo-l4r5zi"),),  # type: ignore[arg-type]
                        cost_cache=cache)


def _candidate(prune: float = 0.0, bits: int = 8) -> Candidate:
    return Candidate(FrontendConfig(n_mels=16, hop_ms=32), ArchConfig.of("dscnn", n_blocks=1, channels=8),
                     prune_ratio=prune, bits=bits)


def test_a_repeated_graph_is_priced_once_per_database(db_url, monkeypatch):
    make = sessions(db_url, create=True)
    cand = _candidate()
    shape = cand.frontend.feature_shape
    first_violation, first = precheck(cand, _ctx(SqlCostCache(make)), shape, 8)
    uncached_violation, uncached = precheck(cand, _ctx(None), shape, 8)
    assert (first.ram_kb, first.flash_kb, first.latency_ms) == (uncached.ram_kb, uncached.flash_kb,
                                                                  uncached.latency_ms)

    def no_export(*args, **kwargs):
        raise AssertionError("a cached graph was exported again")

    monkeypatch.setattr(pipeline, "export_tflite", no_export)
    other_worker = SqlCostCache(make)  # a fresh process would start with an empty memory, like this
    violation, again = precheck(cand, _ctx(other_worker), shape, 8)
    assert again == first and violation == first_violation == uncached_violation
    with make() as s:
        assert s.scalar(select(func.count()).select_from(CostCacheRow)) == 1
    with pytest.raises(AssertionError, match="exported again"):  # another prune ratio is another graph
        precheck(_candidate(prune=0.5), _ctx(other_worker), shape, 8)


def test_training_settings_do_not_change_the_key():
    profile = load_profile("nucleo-l4r5zi")
    a, b = _candidate(), _candidate()
    b = Candidate(b.frontend, b.arch, train=type(b.train)(epochs=3), bits=b.bits)
    shape = a.frontend.feature_shape
    assert pipeline.cost_key(a, profile, shape, 8) == pipeline.cost_key(b, profile, shape, 8)
    assert pipeline.cost_key(a, profile, shape, 8) != pipeline.cost_key(_candidate(bits=32), profile, shape, 8)
    assert pipeline.cost_key(a, profile, shape, 8) != pipeline.cost_key(a, load_profile("rp2040"), shape, 8)
