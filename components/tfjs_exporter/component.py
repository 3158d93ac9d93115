"""TFJSExporter: converts the trained model to TensorFlow.js and checks it in Chromium."""

from tfx import types
from tfx.dsl.components.base import base_component
from tfx.dsl.components.base import executor_spec

from image_tfx.components.artifacts import TFJSBlessing, TFJSModel
from image_tfx.components.tfjs_exporter import executor
from image_tfx.components.tfjs_exporter.spec import TFJSExporterSpec


class TFJSExporter(base_component.BaseComponent):
    """Outputs `tfjs_model` (the graph model's files) and `blessing`: whether, on the page a
    person uses, the TF.js model gives the SavedModel's class on the split's images."""

    SPEC_CLASS = TFJSExporterSpec
    EXECUTOR_SPEC = executor_spec.ExecutorClassSpec(executor.Executor)

    def __init__(self, model: types.BaseChannel, examples: types.BaseChannel,
                 split: str = 'eval', min_agreement: float = executor.TFJS_MIN_AGREEMENT):
        super().__init__(spec=TFJSExporterSpec(
            model=model, examples=examples, split=split, min_agreement=min_agreement,
            tfjs_model=types.Channel(type=TFJSModel),
            blessing=types.Channel(type=TFJSBlessing)))
