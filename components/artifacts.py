"""Artifact types of this pipeline's own components.

They are types of their own, not TFX's Model and ModelBlessing, so that the baseline resolver,
which looks up every Model and ModelBlessing of the pipeline, never mistakes a TFLite export or
its check for a trained model or the Evaluator's blessing.
"""

from tfx.types.artifact import Artifact


class TFLiteModel(Artifact):
    """A folder holding model_float32.tflite and model_int8.tflite of one trained model."""
    TYPE_NAME = 'TFLiteModel'


class TFLiteBlessing(Artifact):
    """The TFLite check's verdict and figures (metrics.json) for one TFLiteModel."""
    TYPE_NAME = 'TFLiteBlessing'
