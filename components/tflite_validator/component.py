"""TFLiteValidator: checks the TFLite models against the SavedModel on the eval split."""

from tfx import types
from tfx.dsl.components.base import base_component
from tfx.dsl.components.base import executor_spec

from mnist_tfx.components.artifacts import TFLiteBlessing
from mnist_tfx.components.tflite_validator import executor
from mnist_tfx.components.tflite_validator.spec import TFLiteValidatorSpec


class TFLiteValidator(base_component.BaseComponent):
    """Outputs `blessing`: whether float32 agrees and int8 keeps accuracy, with the figures."""

    SPEC_CLASS = TFLiteValidatorSpec
    EXECUTOR_SPEC = executor_spec.ExecutorClassSpec(executor.Executor)

    def __init__(self, model: types.BaseChannel, tflite_model: types.BaseChannel,
                 examples: types.BaseChannel, min_float32_agreement: float = 0.999,
                 max_int8_accuracy_drop: float = 0.005, split: str = 'eval'):
        super().__init__(spec=TFLiteValidatorSpec(
            model=model, tflite_model=tflite_model, examples=examples,
            min_float32_agreement=min_float32_agreement,
            max_int8_accuracy_drop=max_int8_accuracy_drop, split=split,
            blessing=types.Channel(type=TFLiteBlessing)))
