"""ModelPusher: pushes SavedModel + TFLite and TF.js models + labels + model card as one
version folder."""

import json
from typing import List, Optional

from tfx import types
from tfx.dsl.components.base import base_component
from tfx.dsl.components.base import executor_spec
from tfx.types import standard_artifacts

from image_tfx.components.model_pusher import executor
from image_tfx.components.model_pusher.spec import ModelPusherSpec


class ModelPusher(base_component.BaseComponent):
    """Pushes only when the Evaluator, the TFLite check and the TF.js check blessed the model."""

    SPEC_CLASS = ModelPusherSpec
    EXECUTOR_SPEC = executor_spec.ExecutorClassSpec(executor.Executor)

    def __init__(self, model: types.BaseChannel, model_blessing: types.BaseChannel,
                 tflite_model: types.BaseChannel, tflite_blessing: types.BaseChannel,
                 tfjs_model: types.BaseChannel, tfjs_blessing: types.BaseChannel,
                 statistics: types.BaseChannel, examples: types.BaseChannel,
                 data_check: types.BaseChannel, base_directory: str,
                 class_names: Optional[List[str]] = None):
        super().__init__(spec=ModelPusherSpec(
            model=model, model_blessing=model_blessing, tflite_model=tflite_model,
            tflite_blessing=tflite_blessing, tfjs_model=tfjs_model, tfjs_blessing=tfjs_blessing,
            statistics=statistics, examples=examples,
            data_check=data_check,
            base_directory=base_directory,
            class_names=json.dumps(class_names) if class_names else None,
            pushed_model=types.Channel(type=standard_artifacts.PushedModel)))
