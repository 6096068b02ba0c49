"""Knowledge distillation: teachers from a torch model, a .pt file or a .tflite file (run in LiteRT)."""

import numpy as np
import pytest
import torch

from nas.candidate import ArchConfig, TrainConfig
from nas.deploy import LiteRTRunner, TFLiteTeacher, export_tflite, load_teacher
from nas.errors import ConfigError
from nas.models import build_model
from nas.train import Distillation, predict, train


@pytest.fixture(scope="module")
def teacher_file(trained_dscnn, feats, tmp_path_factory):
    path = tmp_path_factory.mktemp("teacher") / "model.tflite"
    path.write_bytes(export_tflite(trained_dscnn, 8, feats.split("train")[0]))
    return path


def test_tflite_teacher_gives_the_files_logits(teacher_file, feats):
    teacher = load_teacher(teacher_file, input_shape=feats.input_shape, n_classes=feats.n_classes)
    assert isinstance(teacher, TFLiteTeacher)
    x = feats.split("valid")[0][:5]
    with torch.no_grad():
        got = teacher(torch.from_numpy(x)).numpy()
    np.testing.assert_allclose(got, LiteRTRunner(teacher_file.read_bytes()).predict(x))


def test_pt_teacher_loads_a_saved_model(trained_dscnn, feats, tmp_path):
    path = tmp_path / "teacher.pt"
    torch.save(trained_dscnn, path)
    teacher = load_teacher(path, input_shape=feats.input_shape, n_classes=feats.n_classes)
    x = feats.split("valid")[0][:4]
    np.testing.assert_allclose(predict(teacher, x), predict(trained_dscnn, x), atol=1e-6)
    assert not any(p.requires_grad for p in teacher.parameters())


def test_teachers_that_do_not_fit_are_refused(teacher_file, tmp_path, feats):
    with pytest.raises(ConfigError, match="same frontend"):
        load_teacher(teacher_file, input_shape=(13, 32), n_classes=feats.n_classes)
    with pytest.raises(ConfigError, match="classes"):
        load_teacher(teacher_file, input_shape=feats.input_shape, n_classes=3)
    with pytest.raises(ConfigError, match="not found"):
        load_teacher(tmp_path / "missing.tflite", input_shape=feats.input_shape, n_classes=8)
    (tmp_path / "t.onnx").write_bytes(b"x")
    with pytest.raises(ConfigError, match="unknown teacher format"):
        load_teacher(tmp_path / "t.onnx", input_shape=feats.input_shape, n_classes=8)


def test_distillation_from_a_file_teaches_the_student(teacher_file, feats):
    """With weight 1 the student never sees a label, only the teacher file's soft targets, and still
    learns to predict what the teacher predicts."""
    teacher = load_teacher(teacher_file, input_shape=feats.input_shape, n_classes=feats.n_classes)
    torch.manual_seed(3)
    student = build_model(ArchConfig.of("mlp", hidden=24, n_layers=1), feats.input_shape, feats.n_classes)
    x_val = feats.split("valid")[0]
    target = LiteRTRunner(teacher_file.read_bytes()).predict(x_val).argmax(1)
    before = (predict(student, x_val).argmax(1) == target).mean()
    train(student, feats, TrainConfig(epochs=8, learning_rate=1e-2, batch_size=16),
          distill=Distillation(teacher=teacher, temperature=2.0, weight=1.0))
    after = (predict(student, x_val).argmax(1) == target).mean()
    assert after >= 0.7 and after > before + 0.3, (before, after)
