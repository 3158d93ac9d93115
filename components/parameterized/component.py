"""Trainer, Evaluator and ExampleValidator whose run parameters an orchestrator can set.

Each is TFX's component with the same inputs, outputs and behaviour, built by TFX's own
constructor and then given the spec of spec.py, which adds the run parameters as plain
execution parameters (a value or a `RuntimeParameter`).
"""

from typing import Optional, Union

from tensorflow_data_validation.anomalies.proto import custom_validation_config_pb2
from tfx.dsl.components.base import executor_spec
from tfx.orchestration import data_types
from tfx.utils import proto_utils
from tfx.components.evaluator.component import Evaluator as TfxEvaluator
from tfx.components.example_validator.component import ExampleValidator as TfxExampleValidator
from tfx.components.trainer.component import Trainer as TfxTrainer

from image_tfx.components.parameterized import executor
from image_tfx.components.parameterized import spec

IntParameter = Union[int, data_types.RuntimeParameter]
FloatParameter = Union[float, data_types.RuntimeParameter]


def _respec(component, spec_class, **parameters):
    """Rebuilds a constructed component's spec as `spec_class`, with extra parameters.

    TFX's constructor checks its spec against SPEC_CLASS, which each class below keeps as TFX's
    own; spec_class subclasses it, so the check holds for the rebuilt spec too.
    """
    old = component.spec
    exec_properties = {**old.exec_properties,
                       **{k: v for k, v in parameters.items() if v is not None}}
    component.spec = spec_class(**exec_properties, **old.inputs, **old.outputs)


class Trainer(TfxTrainer):
    """TFX's Trainer (GenericExecutor) with epochs, batch_size and learning_rate parameters.

    run_fn finds them in `fn_args.custom_config`, as if they had been put there.
    """

    EXECUTOR_SPEC = executor_spec.ExecutorClassSpec(executor.TrainerExecutor)

    def __init__(self, *, epochs: IntParameter, batch_size: IntParameter,
                 learning_rate: FloatParameter, **kwargs):
        super().__init__(**kwargs)
        _respec(self, spec.TrainerSpec, epochs=epochs, batch_size=batch_size,
                learning_rate=learning_rate)


class Evaluator(TfxEvaluator):
    """TFX's Evaluator whose accuracy threshold and allowed drop are parameters.

    They set the bounds of every SparseCategoricalAccuracy threshold in `eval_config`.
    """

    EXECUTOR_SPEC = executor_spec.BeamExecutorSpec(executor.EvaluatorExecutor)

    def __init__(self, *, accuracy_threshold: FloatParameter, max_accuracy_drop: FloatParameter,
                 **kwargs):
        super().__init__(**kwargs)
        _respec(self, spec.EvaluatorSpec, accuracy_threshold=accuracy_threshold,
                max_accuracy_drop=max_accuracy_drop)


class ExampleValidator(TfxExampleValidator):
    """TFX's ExampleValidator; its custom validations compile for Kubeflow."""

    EXECUTOR_SPEC = executor_spec.ExecutorClassSpec(executor.ExampleValidatorExecutor)

    def __init__(self, *, custom_validation_config: Optional[
            custom_validation_config_pb2.CustomValidationConfig] = None, **kwargs):
        super().__init__(**kwargs)
        validations = {}
        if custom_validation_config is not None:
            validations[spec.CUSTOM_VALIDATIONS_KEY] = proto_utils.proto_to_json(
                custom_validation_config)
        _respec(self, spec.ExampleValidatorSpec, **validations)
