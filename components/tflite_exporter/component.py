"""TFLiteExporter: converts the trained CNN to float32 and full-integer (uint8 I/O) TFLite."""

from tfx import types
from tfx.dsl.components.base import base_component
from tfx.dsl.components.base import executor_spec

from image_tfx.components.artifacts import TFLiteModel
from image_tfx.components.tflite_exporter import executor
from image_tfx.components.tflite_exporter.spec import TFLiteExporterSpec


class TFLiteExporter(base_component.BaseComponent):
    """Outputs `tflite_model`: a folder with model_float32.tflite and model_int8.tflite."""

    SPEC_CLASS = TFLiteExporterSpec
    EXECUTOR_SPEC = executor_spec.ExecutorClassSpec(executor.Executor)

    def __init__(self, model: types.BaseChannel, transformed_examples: types.BaseChannel,
                 transform_graph: types.BaseChannel, num_representative_examples: int = 300):
        super().__init__(spec=TFLiteExporterSpec(
            model=model, transformed_examples=transformed_examples,
            transform_graph=transform_graph,
            num_representative_examples=num_representative_examples,
            tflite_model=types.Channel(type=TFLiteModel)))
