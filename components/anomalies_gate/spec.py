"""Component spec of AnomaliesGate: one ExampleAnomalies input, no outputs."""

from tfx.types import standard_artifacts
from tfx.types.component_spec import ChannelParameter, ComponentSpec

ANOMALIES_KEY = 'anomalies'


class AnomaliesGateSpec(ComponentSpec):
    """The gate reads ExampleValidator's anomalies and either passes or fails the run."""

    PARAMETERS = {}
    INPUTS = {ANOMALIES_KEY: ChannelParameter(type=standard_artifacts.ExampleAnomalies)}
    OUTPUTS = {}
