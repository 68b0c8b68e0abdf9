"""``.tflite`` import and export: ``load_tflite`` / ``import_tflite`` and ``export_tflite``."""

from edge_deploy.tflite.reader import import_tflite, load_tflite
from edge_deploy.tflite.writer import export_tflite

__all__ = ["export_tflite", "import_tflite", "load_tflite"]
