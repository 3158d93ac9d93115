"""Executors that fold the run parameters of spec.py back where TFX's executors read them."""

from typing import Any, Dict, List

import tensorflow_model_analysis as tfma
from tensorflow_data_validation.anomalies.proto import custom_validation_config_pb2
from tfx import types
from tfx.components.evaluator import executor as evaluator_executor
from tfx.components.example_validator import executor as validator_executor
from tfx.components.trainer import executor as trainer_executor
from tfx.types import standard_component_specs as std
from tfx.utils import json_utils
from tfx.utils import proto_utils

from image_tfx.components.parameterized import spec
from image_tfx.components.pushed_baseline import executor as pushed_baseline

# The metric whose bounds the accuracy parameters set (pipeline.eval_config gates on it).
ACCURACY_CLASS_NAME = 'SparseCategoricalAccuracy'


def training_custom_config(exec_properties: Dict[str, Any]) -> Dict[str, Any]:
    """custom_config with epochs, batch size and learning rate from their own parameters."""
    custom_config = json_utils.loads(exec_properties.get(std.CUSTOM_CONFIG_KEY) or 'null') or {}
    custom_config.update({k: exec_properties[k] for k in spec.TRAINER_PARAMETERS
                          if exec_properties.get(k) is not None})
    return custom_config


def set_accuracy_bounds(eval_config: tfma.EvalConfig, accuracy_threshold: float,
                        max_accuracy_drop: float) -> int:
    """Sets the lower bound and allowed change of every accuracy threshold; returns how many."""
    count = 0
    for metrics_spec in eval_config.metrics_specs:
        for metric in metrics_spec.metrics:
            if metric.class_name != ACCURACY_CLASS_NAME:
                continue
            thresholds = [metric.threshold] if metric.HasField('threshold') else []
            thresholds += [t.threshold for t in metric.per_slice_thresholds]
            for threshold in thresholds:
                threshold.value_threshold.lower_bound.value = accuracy_threshold
                threshold.change_threshold.absolute.value = -max_accuracy_drop
                count += 1
    return count


class TrainerExecutor(trainer_executor.GenericExecutor):
    """TFX's GenericExecutor; run_fn sees epochs/batch_size/learning_rate in custom_config."""

    def Do(self, input_dict: Dict[str, List[types.Artifact]],
           output_dict: Dict[str, List[types.Artifact]],
           exec_properties: Dict[str, Any]) -> None:
        exec_properties = dict(exec_properties)
        exec_properties[std.CUSTOM_CONFIG_KEY] = json_utils.dumps(
            training_custom_config(exec_properties))
        super().Do(input_dict, output_dict, exec_properties)


class EvaluatorExecutor(evaluator_executor.Executor):
    """TFX's Evaluator; the accuracy gate's bounds come from the run's parameters, and an
    empty baseline (no model pushed yet) is no baseline."""

    def Do(self, input_dict: Dict[str, List[types.Artifact]],
           output_dict: Dict[str, List[types.Artifact]],
           exec_properties: Dict[str, Any]) -> None:
        eval_config = tfma.EvalConfig()
        proto_utils.json_to_proto(exec_properties[std.EVAL_CONFIG_KEY], eval_config)
        if not set_accuracy_bounds(eval_config, exec_properties[spec.ACCURACY_THRESHOLD_KEY],
                                   exec_properties[spec.MAX_ACCURACY_DROP_KEY]):
            raise ValueError(f'eval_config has no {ACCURACY_CLASS_NAME} threshold to set')
        exec_properties = {**exec_properties,
                           std.EVAL_CONFIG_KEY: proto_utils.proto_to_json(eval_config)}
        baseline = input_dict.get(std.BASELINE_MODEL_KEY)
        if baseline and not pushed_baseline.has_baseline(baseline[0]):
            # Nothing pushed yet: TFX's Evaluator then judges by the threshold alone.
            input_dict = {k: v for k, v in input_dict.items() if k != std.BASELINE_MODEL_KEY}
        super().Do(input_dict, output_dict, exec_properties)


class ExampleValidatorExecutor(validator_executor.Executor):
    """TFX's ExampleValidator, given its custom validations as JSON text."""

    def Do(self, input_dict: Dict[str, List[types.Artifact]],
           output_dict: Dict[str, List[types.Artifact]],
           exec_properties: Dict[str, Any]) -> None:
        text = exec_properties.get(spec.CUSTOM_VALIDATIONS_KEY)
        exec_properties = dict(exec_properties)
        if text:
            exec_properties[spec.CUSTOM_VALIDATIONS_KEY] = proto_utils.json_to_proto(
                text, custom_validation_config_pb2.CustomValidationConfig())
        super().Do(input_dict, output_dict, exec_properties)
