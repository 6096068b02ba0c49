"""Deployment stage: export a torch model to a real ``.tflite`` file, run files in real interpreters,
check that TFLite-Micro agrees with LiteRT, and load distillation teachers."""

from nas.deploy.agreement import AgreementReport, check_agreement, compare_outputs
from nas.deploy.export import export_qat_tflite, export_tflite, float_tflite
from nas.deploy.interpreters import LiteRTRunner, TFLiteRunner, TFLMRunner, evaluate_file
from nas.deploy.teacher import TFLiteTeacher, load_teacher

__all__ = ["AgreementReport", "LiteRTRunner", "TFLMRunner", "TFLiteRunner", "TFLiteTeacher", "check_agreement",
           "compare_outputs", "evaluate_file", "export_qat_tflite", "export_tflite", "float_tflite", "load_teacher"]
