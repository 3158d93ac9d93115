"""Component spec of TFLiteExporter."""

from tfx.types import standard_artifacts
from tfx.types.component_spec import ChannelParameter, ComponentSpec, ExecutionParameter

from image_tfx.components.artifacts import TFLiteModel

MODEL_KEY = 'model'
TRANSFORMED_EXAMPLES_KEY = 'transformed_examples'
TRANSFORM_GRAPH_KEY = 'transform_graph'
TFLITE_MODEL_KEY = 'tflite_model'
NUM_REPRESENTATIVE_KEY = 'num_representative_examples'


class TFLiteExporterSpec(ComponentSpec):
    """Trainer's model and Transform's output in; float32 and int8 TFLite models out."""

    PARAMETERS = {NUM_REPRESENTATIVE_KEY: ExecutionParameter(type=int)}
    INPUTS = {
        MODEL_KEY: ChannelParameter(type=standard_artifacts.Model),
        TRANSFORMED_EXAMPLES_KEY: ChannelParameter(type=standard_artifacts.Examples),
        TRANSFORM_GRAPH_KEY: ChannelParameter(type=standard_artifacts.TransformGraph),
    }
    OUTPUTS = {TFLITE_MODEL_KEY: ChannelParameter(type=TFLiteModel)}
