"""The run-parameter versions of TFX's Trainer, Evaluator and ExampleValidator fold their
parameters back where TFX's executors and run_fn read them."""

import pytest
import tensorflow_model_analysis as tfma
from tfx.utils import json_utils
from tfx.utils import proto_utils

from image_tfx.components.parameterized import executor
from image_tfx.model.params import TrainingParams
from image_tfx.pipeline import pipeline as pipeline_def


def test_accuracy_bounds_come_from_the_parameters():
    config = pipeline_def.eval_config(accuracy_threshold=0.8, max_accuracy_drop=0.0)
    assert executor.set_accuracy_bounds(config, 0.95, 0.01) == 1
    threshold = config.metrics_specs[0].metrics[0].per_slice_thresholds[0].threshold
    assert threshold.value_threshold.lower_bound.value == 0.95
    assert threshold.change_threshold.absolute.value == -0.01
    assert threshold.change_threshold.direction == tfma.MetricDirection.HIGHER_IS_BETTER
    # The per-class slices stay reported, not judged.
    assert len(config.metrics_specs[0].metrics[0].per_slice_thresholds) == 1


def test_an_eval_config_without_accuracy_gate_is_refused():
    config = tfma.EvalConfig(metrics_specs=[tfma.MetricsSpec(metrics=[
        tfma.MetricConfig(class_name='ExampleCount')])])
    assert executor.set_accuracy_bounds(config, 0.9, 0.0) == 0
    with pytest.raises(ValueError, match='no SparseCategoricalAccuracy threshold'):
        executor.EvaluatorExecutor().Do({}, {}, {'eval_config': proto_utils.proto_to_json(config),
                                                 'accuracy_threshold': 0.9,
                                                 'max_accuracy_drop': 0.0})


def test_training_parameters_reach_run_fn_config():
    custom_config = executor.training_custom_config({
        'custom_config': json_utils.dumps({'mixed_precision': None, 'model_code_version': 'x'}),
        'epochs': 7, 'batch_size': 32, 'learning_rate': 0.01})
    assert TrainingParams.from_custom_config(custom_config) == TrainingParams(
        epochs=7, batch_size=32, learning_rate=0.01)
    assert custom_config['model_code_version'] == 'x'
