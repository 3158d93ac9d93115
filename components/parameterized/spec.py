"""Specs of TFX's Trainer, Evaluator and ExampleValidator with the values a run may change
as plain execution parameters.

An orchestrator can set a plain int/float/str execution parameter per run (a Kubeflow pipeline
parameter), but not a value inside a JSON dict or a proto: TFX's Trainer keeps epochs in
`custom_config`, the Evaluator keeps its thresholds in `eval_config`, and ExampleValidator turns
its custom validations into a proto placeholder that Kubeflow's v2 compiler rejects. These specs
add the parameters; the executors (executor.py) fold them back where TFX expects them.
"""

from tfx.types import standard_component_specs as std
from tfx.types.component_spec import ExecutionParameter

EPOCHS_KEY = 'epochs'
BATCH_SIZE_KEY = 'batch_size'
LEARNING_RATE_KEY = 'learning_rate'
ACCURACY_THRESHOLD_KEY = 'accuracy_threshold'
MAX_ACCURACY_DROP_KEY = 'max_accuracy_drop'
# The JSON text of a CustomValidationConfig (TFX's own key holds a proto placeholder).
CUSTOM_VALIDATIONS_KEY = std.CUSTOM_VALIDATION_CONFIG_KEY

TRAINER_PARAMETERS = {EPOCHS_KEY: int, BATCH_SIZE_KEY: int, LEARNING_RATE_KEY: float}
EVALUATOR_PARAMETERS = {ACCURACY_THRESHOLD_KEY: float, MAX_ACCURACY_DROP_KEY: float}


class TrainerSpec(std.TrainerSpec):
    """TFX's TrainerSpec plus epochs, batch size and learning rate."""
    PARAMETERS = {**std.TrainerSpec.PARAMETERS,
                  **{k: ExecutionParameter(type=t) for k, t in TRAINER_PARAMETERS.items()}}


class EvaluatorSpec(std.EvaluatorSpec):
    """TFX's EvaluatorSpec plus the accuracy threshold and the allowed drop from the baseline."""
    PARAMETERS = {**std.EvaluatorSpec.PARAMETERS,
                  **{k: ExecutionParameter(type=t) for k, t in EVALUATOR_PARAMETERS.items()}}


class ExampleValidatorSpec(std.ExampleValidatorSpec):
    """TFX's ExampleValidatorSpec with the custom validations as JSON text."""
    PARAMETERS = {**std.ExampleValidatorSpec.PARAMETERS,
                  CUSTOM_VALIDATIONS_KEY: ExecutionParameter(type=str, optional=True)}
