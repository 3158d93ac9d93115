"""AnomaliesGate: stops the pipeline after ExampleValidator when the data has anomalies."""

from tfx import types
from tfx.dsl.components.base import base_component
from tfx.dsl.components.base import executor_spec

from mnist_tfx.components.anomalies_gate import executor
from mnist_tfx.components.anomalies_gate.spec import AnomaliesGateSpec


class AnomaliesGate(base_component.BaseComponent):
    """Fails when ExampleValidator found anomalies; make downstream nodes depend on it.

    It has no output artifact, so wire it with `downstream.add_upstream_node(gate)`.
    """

    SPEC_CLASS = AnomaliesGateSpec
    EXECUTOR_SPEC = executor_spec.ExecutorClassSpec(executor.Executor)

    def __init__(self, anomalies: types.BaseChannel):
        super().__init__(spec=AnomaliesGateSpec(anomalies=anomalies))
