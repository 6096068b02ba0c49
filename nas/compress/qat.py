"""Quantization-aware training (int8) through PyTorch 2 export (PT2E) and litert-torch's quantizer.

The model is exported with a dynamic batch axis (training batches and batch-1 export share one
graph), fake-quantize observers are inserted by ``prepare_qat_pt2e`` with litert-torch's symmetric
int8 config (per-channel weights), the wrapped graph is fine-tuned with the usual
:func:`nas.train.train`, and :func:`nas.deploy.export_qat_tflite` converts the result into a
full-integer int8 ``.tflite`` (int8 input and output, as the post-training path).

Two workarounds for torch 2.11:

* litert-torch's conv+batch-norm annotator hands a plain function to torchao's
  ``_get_aten_graph_module_for_pattern``, which ``torch.export`` now refuses ("Expected `mod` to
  be an instance of `torch.nn.Module`"): :func:`cached_pattern_graphs` wraps it in a module (and
  keeps every pattern graph it traces, a third of a QAT candidate's time outside training).
* an exported graph module cannot switch train/eval with ``.train()``: :class:`QATModel` maps
  ``train(mode)`` to torchao's ``move_exported_model_to_train/eval`` (batch-norm, dropout) and
  freezes the fake-quantize observers in eval mode (validation must not move the ranges).
"""

from __future__ import annotations

import contextlib
import copy
import logging
import types
from collections.abc import Iterator

import torch
from torch import nn

from nas.errors import ExportError
from nas.logs import import_quietly
from nas.models.layers import AudioClassifier

log = logging.getLogger(__name__)

QAT_BITS = (8,)  # the only bit-width the PT2E path quantizes correctly for LiteRT and TFLM


class _FunctionModule(nn.Module):
    def __init__(self, fn):
        super().__init__()
        self.fn = fn

    def forward(self, *args, **kwargs):
        return self.fn(*args, **kwargs)


#: Pattern graphs traced by torch.export, by what they are traced from (see :func:`cached_pattern_graphs`).
_PATTERN_GRAPHS: dict[tuple, torch.fx.GraphModule] = {}


def _pattern_key(pattern, example_inputs: tuple, is_cuda: bool, kwargs: dict) -> tuple | None:
    """What a pattern graph is a function of: the pattern's code, its closure and defaults, and the shapes
    and dtypes of the example inputs (pattern matching ignores literal values). None: not cacheable."""
    fn = getattr(pattern, "fn", None)  # torchao's WrapperModule and our _FunctionModule hold the function
    if not isinstance(fn, types.FunctionType) or list(pattern.parameters()) or list(pattern.buffers()):
        return None
    code = (type(pattern), fn.__code__)
    captured = (*(c.cell_contents for c in (fn.__closure__ or ())), *(fn.__defaults__ or ()))
    if any(isinstance(v, (torch.Tensor, nn.Module)) for v in captured):
        return None

    def shape_of(v):
        return ("tensor", tuple(v.shape), v.dtype, v.device.type) if isinstance(v, torch.Tensor) else v

    key = (code, captured, tuple(shape_of(x) for x in example_inputs), is_cuda,
           tuple(sorted((k, shape_of(v)) for k, v in kwargs.items())))
    try:
        hash(key)
    except TypeError:
        return None
    return key


@contextlib.contextmanager
def cached_pattern_graphs() -> Iterator[None]:
    """Trace each of torchao's and litert-torch's pattern graphs once per process.

    Preparing and converting a model traces dozens of small pattern graphs (conv + batch-norm, with or
    without bias, per-channel or not ...) with ``torch.export``, ~0.25 s each: 6 of the 10 s of a QAT
    export, the same graphs for every candidate. They depend only on the pattern and its example
    shapes, so the first trace is kept and each later use gets a copy (the rewriter must not share
    nodes between models). It also wraps litert-torch's plain-function patterns in a module, which
    ``torch.export`` requires.
    """
    import_quietly("litert_torch")
    from litert_torch.quantize import pt2e_quantizer_utils
    from torchao.quantization.pt2e import qat_utils
    from torchao.quantization.pt2e import utils as pt2e_utils

    original = pt2e_utils._get_aten_graph_module_for_pattern
    if getattr(original, "nas_cached", False):  # already inside: one layer of caching
        yield
        return

    def cached(pattern, example_inputs, is_cuda=False, **kwargs):
        if not isinstance(pattern, nn.Module):
            pattern = _FunctionModule(pattern)
        key = _pattern_key(pattern, example_inputs, is_cuda, kwargs)
        if key is None:
            return original(pattern, example_inputs, is_cuda, **kwargs)
        if key not in _PATTERN_GRAPHS:
            _PATTERN_GRAPHS[key] = original(pattern, example_inputs, is_cuda, **kwargs)
        return copy.deepcopy(_PATTERN_GRAPHS[key])

    cached.nas_cached = True  # type: ignore[attr-defined]

    users = (pt2e_utils, qat_utils, pt2e_quantizer_utils)
    for module in users:
        module._get_aten_graph_module_for_pattern = cached
    try:
        yield
    finally:
        for module in users:
            module._get_aten_graph_module_for_pattern = original


@contextlib.contextmanager
def _fast_conv_bn_folding() -> Iterator[None]:
    """Skip ``convert_pt2e``'s conv+batch-norm folding patterns for conv kinds the model lacks.

    torchao traces ~100 pattern graphs per conversion (conv1d/conv2d/transposed x bias x
    per-channel ...), ~12 s here; only the conv kinds present in the graph can match (~4 s).
    """
    from torchao.quantization.pt2e import qat_utils

    helper = qat_utils._fold_conv_bn_qat_helper

    def only_present(m, conv_fn, example_inputs, is_cuda):
        prefix = f"aten.{conv_fn.__name__}."
        if not any(str(n.target).startswith(prefix) for n in m.graph.nodes if n.op == "call_function"):
            return m
        return helper(m, conv_fn, example_inputs, is_cuda)

    qat_utils._fold_conv_bn_qat_helper = only_present
    try:
        yield
    finally:
        qat_utils._fold_conv_bn_qat_helper = helper


def qat_quantizer():
    """litert-torch's PT2E quantizer: symmetric int8, per-channel weights, QAT observers."""
    import_quietly("litert_torch")
    from litert_torch.quantize import pt2e_quantizer as pq

    return pq.PT2EQuantizer().set_global(pq.get_symmetric_quantization_config(is_per_channel=True, is_qat=True))


class QATModel(nn.Module):
    """A float model with fake-quantize observers, trainable like the original.

    Keeps the :class:`AudioClassifier` interface (``input_shape``, ``example_input``, ...) so the
    trainer and evaluation treat it like any model; ``quantizer`` is what the export needs.
    """

    def __init__(self, graph: torch.fx.GraphModule, like: AudioClassifier, quantizer):
        super().__init__()
        self.graph = graph
        self.family = like.family
        self.input_shape = like.input_shape
        self.n_classes = like.n_classes
        self.quantizer = quantizer

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.graph(x)

    def train(self, mode: bool = True) -> QATModel:
        from torchao.quantization.pt2e import move_exported_model_to_eval, move_exported_model_to_train

        with cached_pattern_graphs():  # switching re-matches dropout and batch-norm patterns
            (move_exported_model_to_train if mode else move_exported_model_to_eval)(self.graph)
        for module in self.graph.modules():  # quantization ranges learn in training only
            enable_observer = getattr(module, "enable_observer", None)
            if enable_observer is not None:
                enable_observer(mode)
        self.training = mode
        return self

    def example_input(self, batch: int = 1) -> torch.Tensor:
        return torch.zeros(batch, *self.input_shape)


def prepare_qat(model: AudioClassifier) -> QATModel:
    """Insert int8 fake-quantization into a trained float ``model`` for quantization-aware fine-tuning.

    Raises:
        ExportError: the model cannot be exported strictly or annotated (with the reason).
    """
    from torchao.quantization.pt2e.quantize_pt2e import prepare_qat_pt2e

    quantizer = qat_quantizer()
    batch = torch.export.Dim("batch", min=2, max=4096)
    try:
        exported = torch.export.export(model.train(), (model.example_input(4),), dynamic_shapes=({0: batch},),
                                       strict=True).module()
        with cached_pattern_graphs():
            graph = prepare_qat_pt2e(exported, quantizer)
    except Exception as e:  # torch.export and the annotators raise many types
        raise ExportError(f"quantization-aware training cannot prepare {model.family}: "
                          f"{type(e).__name__}: {e}") from e
    return QATModel(graph, model, quantizer).train()


def convert_qat(model: QATModel) -> torch.fx.GraphModule:
    """Fold the learned quantization parameters into a quantized graph ready for litert-torch."""
    from torchao.quantization.pt2e.quantize_pt2e import convert_pt2e

    model.eval()
    with _fast_conv_bn_folding(), cached_pattern_graphs():
        graph = convert_pt2e(model.graph, fold_quantize=False)
    graph.training = False  # litert-torch warns on modules flagged as training
    return graph
