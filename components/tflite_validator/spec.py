"""Component spec of TFLiteValidator."""

from tfx.types import standard_artifacts
from tfx.types.component_spec import ChannelParameter, ComponentSpec, ExecutionParameter

from mnist_tfx.components.artifacts import TFLiteBlessing, TFLiteModel

MODEL_KEY = 'model'
TFLITE_MODEL_KEY = 'tflite_model'
EXAMPLES_KEY = 'examples'
BLESSING_KEY = 'blessing'
MIN_AGREEMENT_KEY = 'min_float32_agreement'
MAX_INT8_DROP_KEY = 'max_int8_accuracy_drop'
SPLIT_KEY = 'split'


class TFLiteValidatorSpec(ComponentSpec):
    """SavedModel + TFLite models + raw examples in; a TFLiteBlessing with the figures out."""

    PARAMETERS = {
        MIN_AGREEMENT_KEY: ExecutionParameter(type=float),
        MAX_INT8_DROP_KEY: ExecutionParameter(type=float),
        SPLIT_KEY: ExecutionParameter(type=str),
    }
    INPUTS = {
        MODEL_KEY: ChannelParameter(type=standard_artifacts.Model),
        TFLITE_MODEL_KEY: ChannelParameter(type=TFLiteModel),
        EXAMPLES_KEY: ChannelParameter(type=standard_artifacts.Examples),
    }
    OUTPUTS = {BLESSING_KEY: ChannelParameter(type=TFLiteBlessing)}
