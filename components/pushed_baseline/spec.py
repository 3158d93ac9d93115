"""Specs of the two baseline components: one for the data gate, one for the Evaluator."""

from tfx.types import standard_artifacts
from tfx.types.component_spec import ChannelParameter, ComponentSpec, ExecutionParameter

SERVING_DIR_KEY = 'serving_dir'
EXAMPLES_KEY = 'examples'
MODEL_KEY = 'model'
STATISTICS_KEY = 'statistics'
BASELINE_MODEL_KEY = 'baseline_model'
# Set by the driver (not by users): the version the baseline is, so that TFX's cache key
# changes exactly when what would be chosen changes.
BASELINE_VERSION_KEY = 'baseline_version'


class PushedStatisticsSpec(ComponentSpec):
    """Examples of this run in; statistics of the last pushed model's data out."""
    PARAMETERS = {SERVING_DIR_KEY: ExecutionParameter(type=str),
                  BASELINE_VERSION_KEY: ExecutionParameter(type=str, optional=True)}
    INPUTS = {EXAMPLES_KEY: ChannelParameter(type=standard_artifacts.Examples)}
    OUTPUTS = {STATISTICS_KEY: ChannelParameter(type=standard_artifacts.ExampleStatistics)}


class PushedModelSpec(ComponentSpec):
    """The candidate model in; the last pushed model other than it out."""
    PARAMETERS = {SERVING_DIR_KEY: ExecutionParameter(type=str),
                  BASELINE_VERSION_KEY: ExecutionParameter(type=str, optional=True)}
    INPUTS = {MODEL_KEY: ChannelParameter(type=standard_artifacts.Model)}
    OUTPUTS = {BASELINE_MODEL_KEY: ChannelParameter(type=standard_artifacts.Model)}
