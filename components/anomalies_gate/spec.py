"""Component spec of AnomaliesGate: the data's anomalies, statistics and schema, and the
statistics of the data behind the last pushed model, in; its findings out."""

from tfx.types import standard_artifacts
from tfx.types.component_spec import ChannelParameter, ComponentSpec, ExecutionParameter

from image_tfx.components.artifacts import DataCheck

ANOMALIES_KEY = 'anomalies'
STATISTICS_KEY = 'statistics'
SCHEMA_KEY = 'schema'
BASELINE_STATISTICS_KEY = 'baseline_statistics'
RESULT_KEY = 'result'
MAX_CLASS_SHARE_KEY = 'max_class_share'
MAX_LABEL_DRIFT_KEY = 'max_label_drift'
MAX_PIXEL_DRIFT_KEY = 'max_pixel_drift'
ALLOW_DRIFT_KEY = 'allow_drift'
EXAMPLES_KEY = 'examples'
MAX_DUPLICATE_SHARE_KEY = 'max_duplicate_share'


class AnomaliesGateSpec(ComponentSpec):
    """The gate either passes, recording what it measured, or fails the run."""

    PARAMETERS = {
        MAX_CLASS_SHARE_KEY: ExecutionParameter(type=float),
        MAX_LABEL_DRIFT_KEY: ExecutionParameter(type=float),
        MAX_PIXEL_DRIFT_KEY: ExecutionParameter(type=float),
        ALLOW_DRIFT_KEY: ExecutionParameter(type=int),
        MAX_DUPLICATE_SHARE_KEY: ExecutionParameter(type=float),
    }
    INPUTS = {
        ANOMALIES_KEY: ChannelParameter(type=standard_artifacts.ExampleAnomalies),
        STATISTICS_KEY: ChannelParameter(type=standard_artifacts.ExampleStatistics),
        SCHEMA_KEY: ChannelParameter(type=standard_artifacts.Schema),
        BASELINE_STATISTICS_KEY: ChannelParameter(type=standard_artifacts.ExampleStatistics),
        # Its `duplicates` property: copies among the images (ImageExampleGen).
        EXAMPLES_KEY: ChannelParameter(type=standard_artifacts.Examples),
    }
    OUTPUTS = {RESULT_KEY: ChannelParameter(type=DataCheck)}
