"""Deployment stage: export a torch model to a real ``.tflite`` file and run files in real interpreters."""

from nas.deploy.export import export_tflite, float_tflite
from nas.deploy.interpreters import LiteRTRunner, TFLMRunner, TFLiteRunner, evaluate_file

__all__ = ["LiteRTRunner", "TFLMRunner", "TFLiteRunner", "evaluate_file", "export_tflite", "float_tflite"]
