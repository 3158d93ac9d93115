"""PushedStatistics and PushedModel: the next run's baseline, read from what was pushed."""

from tfx import types
from tfx.dsl.components.base import base_component
from tfx.dsl.components.base import executor_spec
from tfx.types import standard_artifacts

from image_tfx.components.pushed_baseline import driver
from image_tfx.components.pushed_baseline import executor
from image_tfx.components.pushed_baseline import spec


class PushedStatistics(base_component.BaseComponent):
    """Statistics of the data behind the last pushed model (none before the first push)."""

    SPEC_CLASS = spec.PushedStatisticsSpec
    EXECUTOR_SPEC = executor_spec.ExecutorClassSpec(executor.StatisticsExecutor)
    DRIVER_CLASS = driver.StatisticsDriver

    def __init__(self, examples: types.BaseChannel, serving_dir: str):
        super().__init__(spec=spec.PushedStatisticsSpec(
            examples=examples, serving_dir=serving_dir,
            statistics=types.Channel(type=standard_artifacts.ExampleStatistics)))


class PushedModel(base_component.BaseComponent):
    """The last pushed model other than the candidate: the Evaluator's baseline_model."""

    SPEC_CLASS = spec.PushedModelSpec
    EXECUTOR_SPEC = executor_spec.ExecutorClassSpec(executor.ModelExecutor)
    DRIVER_CLASS = driver.ModelDriver

    def __init__(self, model: types.BaseChannel, serving_dir: str):
        super().__init__(spec=spec.PushedModelSpec(
            model=model, serving_dir=serving_dir,
            baseline_model=types.Channel(type=standard_artifacts.Model)))
