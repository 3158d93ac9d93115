"""Component spec of ModelPusher."""

from tfx.types import standard_artifacts
from tfx.types.component_spec import ChannelParameter, ComponentSpec, ExecutionParameter

from image_tfx.components.artifacts import DataCheck, TFJSBlessing, TFJSModel, TFLiteBlessing
from image_tfx.components.artifacts import TFLiteModel

MODEL_KEY = 'model'
MODEL_BLESSING_KEY = 'model_blessing'
TFLITE_MODEL_KEY = 'tflite_model'
TFLITE_BLESSING_KEY = 'tflite_blessing'
TFJS_MODEL_KEY = 'tfjs_model'
TFJS_BLESSING_KEY = 'tfjs_blessing'
STATISTICS_KEY = 'statistics'
EXAMPLES_KEY = 'examples'
DATA_CHECK_KEY = 'data_check'
PUSHED_MODEL_KEY = 'pushed_model'
BASE_DIRECTORY_KEY = 'base_directory'
CLASS_NAMES_KEY = 'class_names'


class ModelPusherSpec(ComponentSpec):
    """Every blessing and every export in; one versioned serving folder out."""

    PARAMETERS = {
        BASE_DIRECTORY_KEY: ExecutionParameter(type=str),
        # JSON list, one name per label; absent: the data set's own (ExampleGen's ImageSpec).
        CLASS_NAMES_KEY: ExecutionParameter(type=str, optional=True),
    }
    INPUTS = {
        MODEL_KEY: ChannelParameter(type=standard_artifacts.Model),
        MODEL_BLESSING_KEY: ChannelParameter(type=standard_artifacts.ModelBlessing),
        TFLITE_MODEL_KEY: ChannelParameter(type=TFLiteModel),
        TFLITE_BLESSING_KEY: ChannelParameter(type=TFLiteBlessing),
        TFJS_MODEL_KEY: ChannelParameter(type=TFJSModel),
        TFJS_BLESSING_KEY: ChannelParameter(type=TFJSBlessing),
        STATISTICS_KEY: ChannelParameter(type=standard_artifacts.ExampleStatistics),
        EXAMPLES_KEY: ChannelParameter(type=standard_artifacts.Examples),
        DATA_CHECK_KEY: ChannelParameter(type=DataCheck),
    }
    OUTPUTS = {PUSHED_MODEL_KEY: ChannelParameter(type=standard_artifacts.PushedModel)}
