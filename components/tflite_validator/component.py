"""TFLiteValidator: checks the TFLite models against the SavedModel on the eval split."""

from tfx import types
from tfx.dsl.components.base import base_component
from tfx.dsl.components.base import executor_spec

from image_tfx.components.artifacts import TFLiteBlessing
from image_tfx.components.tflite_validator import executor
from image_tfx.components.tflite_validator.spec import TFLiteValidatorSpec


class TFLiteValidator(base_component.BaseComponent):
    """Outputs `blessing`: whether float32 agrees, int8 keeps accuracy and fits its budgets
    (bytes, frames per second), with the figures."""

    SPEC_CLASS = TFLiteValidatorSpec
    EXECUTOR_SPEC = executor_spec.ExecutorClassSpec(executor.Executor)

    def __init__(self, model: types.BaseChannel, tflite_model: types.BaseChannel,
                 examples: types.BaseChannel, min_float32_agreement: float = 0.999,
                 max_int8_accuracy_drop: float = 0.005, split: str = 'eval',
                 max_tflite_bytes: int = 0, min_fps: float = 0.0):
        super().__init__(spec=TFLiteValidatorSpec(
            model=model, tflite_model=tflite_model, examples=examples,
            min_float32_agreement=min_float32_agreement,
            max_int8_accuracy_drop=max_int8_accuracy_drop, split=split,
            # 0 is no budget; left out of the spec then, so a default pipeline's IR is as before.
            max_tflite_bytes=max_tflite_bytes or None, min_fps=min_fps or None,
            blessing=types.Channel(type=TFLiteBlessing)))
