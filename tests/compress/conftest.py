"""Fixtures for the compression tests: a small synthetic feature set and a trained DS-CNN."""

from __future__ import annotations

import pytest
import torch

from nas.candidate import ArchConfig, FrontendConfig, TrainConfig
from nas.data import FeatureCache, SyntheticSource
from nas.models import build_model
from nas.train import train

FRONTEND = FrontendConfig(n_mels=16, hop_ms=32)  # (16, 32) inputs: fast to train and export
FAST = TrainConfig(epochs=10, learning_rate=1e-2, batch_size=16, finetune_epochs=1)


@pytest.fixture(scope="session")
def feats(tmp_path_factory):
    """Features of 320 synthetic clips (192 train / 64 valid / 64 test, 8 classes)."""
    ds = SyntheticSource(n_clips=320, seed=1).load()
    return FeatureCache(tmp_path_factory.mktemp("compress-cache")).features(ds, FRONTEND)


@pytest.fixture(scope="session")
def trained_dscnn(feats):
    """A DS-CNN trained to ~0.9 validation accuracy (about a second of training)."""
    torch.manual_seed(0)
    model = build_model(ArchConfig.of("dscnn", channels=16, n_blocks=2), feats.input_shape, feats.n_classes)
    train(model, feats, FAST)
    return model.eval()
