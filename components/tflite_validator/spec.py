"""Component spec of TFLiteValidator."""

from tfx.types import standard_artifacts
from tfx.types.component_spec import ChannelParameter, ComponentSpec, ExecutionParameter

from image_tfx.components.artifacts import TFLiteBlessing, TFLiteModel

MODEL_KEY = 'model'
TFLITE_MODEL_KEY = 'tflite_model'
EXAMPLES_KEY = 'examples'
BLESSING_KEY = 'blessing'
MIN_AGREEMENT_KEY = 'min_float32_agreement'
MAX_INT8_DROP_KEY = 'max_int8_accuracy_drop'
SPLIT_KEY = 'split'
# Budgets of the int8 model, the one a device runs: bytes of the file, and images per second
# (one image at a time, one thread). Absent: no budget.
MAX_BYTES_KEY = 'max_tflite_bytes'
MIN_FPS_KEY = 'min_fps'


class TFLiteValidatorSpec(ComponentSpec):
    """SavedModel + TFLite models + raw examples in; a TFLiteBlessing with the figures out."""

    PARAMETERS = {
        MIN_AGREEMENT_KEY: ExecutionParameter(type=float),
        MAX_INT8_DROP_KEY: ExecutionParameter(type=float),
        SPLIT_KEY: ExecutionParameter(type=str),
        MAX_BYTES_KEY: ExecutionParameter(type=int, optional=True),
        MIN_FPS_KEY: ExecutionParameter(type=float, optional=True),
    }
    INPUTS = {
        MODEL_KEY: ChannelParameter(type=standard_artifacts.Model),
        TFLITE_MODEL_KEY: ChannelParameter(type=TFLiteModel),
        EXAMPLES_KEY: ChannelParameter(type=standard_artifacts.Examples),
    }
    OUTPUTS = {BLESSING_KEY: ChannelParameter(type=TFLiteBlessing)}
