"""AnomaliesGate: stops the pipeline after ExampleValidator when the data is not fit to train on."""

from tfx import types
from tfx.dsl.components.base import base_component
from tfx.dsl.components.base import executor_spec

from image_tfx.components.anomalies_gate import executor
from image_tfx.components.anomalies_gate.thresholds import (
    MAX_CLASS_SHARE, MAX_DUPLICATE_SHARE, MAX_LABEL_DRIFT, MAX_PIXEL_DRIFT)
from image_tfx.components.anomalies_gate.spec import AnomaliesGateSpec
from image_tfx.components.artifacts import DataCheck


class AnomaliesGate(base_component.BaseComponent):
    """Fails on schema anomalies, a missing or dominant class, drift from the pushed data, or a
    test split that copies training images.

    Transform depends on it (`transform.add_upstream_node(gate)`), so nothing is trained or
    pushed from data it stops. Its `result` records the label counts and drift figures.
    """

    SPEC_CLASS = AnomaliesGateSpec
    EXECUTOR_SPEC = executor_spec.ExecutorClassSpec(executor.Executor)

    def __init__(self, anomalies: types.BaseChannel, statistics: types.BaseChannel,
                 schema: types.BaseChannel, baseline_statistics: types.BaseChannel,
                 examples: types.BaseChannel,
                 max_class_share: float = MAX_CLASS_SHARE,
                 max_label_drift: float = MAX_LABEL_DRIFT,
                 max_pixel_drift: float = MAX_PIXEL_DRIFT, allow_drift: bool = False,
                 max_duplicate_share: float = MAX_DUPLICATE_SHARE):
        super().__init__(spec=AnomaliesGateSpec(
            anomalies=anomalies, statistics=statistics, schema=schema,
            baseline_statistics=baseline_statistics, max_class_share=max_class_share,
            max_label_drift=max_label_drift, max_pixel_drift=max_pixel_drift,
            allow_drift=int(allow_drift), examples=examples,
            max_duplicate_share=max_duplicate_share, result=types.Channel(type=DataCheck)))
