"""Component spec of TFJSExporter."""

from tfx.types import standard_artifacts
from tfx.types.component_spec import ChannelParameter, ComponentSpec, ExecutionParameter

from image_tfx.components.artifacts import TFJSBlessing, TFJSModel

MODEL_KEY = 'model'
EXAMPLES_KEY = 'examples'
TFJS_MODEL_KEY = 'tfjs_model'
BLESSING_KEY = 'blessing'
SPLIT_KEY = 'split'
MIN_AGREEMENT_KEY = 'min_agreement'


class TFJSExporterSpec(ComponentSpec):
    """SavedModel + raw examples in; the TF.js model and the browser check's blessing out."""

    PARAMETERS = {
        SPLIT_KEY: ExecutionParameter(type=str),
        # The share of images on which the TF.js model must give the SavedModel's class.
        MIN_AGREEMENT_KEY: ExecutionParameter(type=float, optional=True),
    }
    INPUTS = {
        MODEL_KEY: ChannelParameter(type=standard_artifacts.Model),
        EXAMPLES_KEY: ChannelParameter(type=standard_artifacts.Examples),
    }
    OUTPUTS = {
        TFJS_MODEL_KEY: ChannelParameter(type=TFJSModel),
        BLESSING_KEY: ChannelParameter(type=TFJSBlessing),
    }
