"""Drivers of the baseline components: put the version they would choose into their cache key.

They read a folder, not input artifacts, so TFX's cache alone would serve the first run's
answer forever. TFX's portable launcher runs a driver before its cache check: the driver sets
`baseline_version`, unchanged while nothing new is pushed (the run stays cached) and different
after a push. Orchestrators that do not run TFX drivers (Kubeflow) must not cache these nodes.
"""

from tfx.dsl.components.base import base_driver
from tfx.orchestration.portable import base_driver as portable_base_driver
from tfx.orchestration.portable import data_types
from tfx.proto.orchestration import driver_output_pb2

from image_tfx.components.pushed_baseline import executor
from image_tfx.components.pushed_baseline import spec


class _BaselineDriver(base_driver.BaseDriver, portable_base_driver.BaseDriver):
    """Sets baseline_version from the serving directory."""

    KIND = ''

    def __init__(self, metadata_handle):
        base_driver.BaseDriver.__init__(self, metadata_handle)
        portable_base_driver.BaseDriver.__init__(self, metadata_handle)

    def run(self, execution_info: data_types.ExecutionInfo) -> driver_output_pb2.DriverOutput:
        version, _ = executor.choose(self.KIND,
                                     execution_info.exec_properties[spec.SERVING_DIR_KEY],
                                     execution_info.input_dict)
        output = driver_output_pb2.DriverOutput()
        output.exec_properties[spec.BASELINE_VERSION_KEY].string_value = version or ''
        return output


class StatisticsDriver(_BaselineDriver):
    KIND = spec.STATISTICS_KEY


class ModelDriver(_BaselineDriver):
    KIND = spec.MODEL_KEY
