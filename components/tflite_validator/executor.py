"""Executor of TFLiteValidator: are the TFLite models as good as the SavedModel?

On every example of the eval split it compares the SavedModel (through its serving_default
signature, Transform graph included) with both TFLite models, one image at a time:
  * float32 TFLite must predict the SavedModel's class on >= min_float32_agreement of them;
  * int8 TFLite accuracy may be at most max_int8_accuracy_drop below the SavedModel's;
  * the int8 model (what a device runs) fits its budgets, when set: at most max_tflite_bytes,
    at least min_fps images per second one image at a time on one thread.
The verdict and every figure (accuracies, agreements, sizes, single-image latencies) go to
metrics.json in the blessing artifact and to its custom properties; the Pusher pushes only a
blessed pair. TFMA's own `tf_lite` model type is not used: it feeds raw features to the model
by input name and cannot put the Transform graph in front of a TFLite model.
"""

import json
from typing import Any, Dict, List, Optional, Tuple

import numpy as np
import tensorflow as tf
from tfx import types
from tfx.dsl.components.base import base_executor
from tfx.types import artifact_utils
from tfx.utils import path_utils

from image_tfx.components import storage
from image_tfx.components.artifacts import FLOAT32_FILE, INT8_FILE, METRICS_FILE, read_examples
from image_tfx.components.tflite_validator import spec
from image_tfx.model import features
from image_tfx.model import tflite
from image_tfx.model.export import CLASS_IDS_KEY, IMAGES_SIGNATURE

_BATCH = 256


def saved_model_classes(saved_model, serialized: List[bytes]) -> np.ndarray:
    serve = saved_model.signatures['serving_default']
    return np.concatenate([serve(examples=tf.constant(serialized[i:i + _BATCH]))[CLASS_IDS_KEY]
                           .numpy() for i in range(0, len(serialized), _BATCH)])


def _saved_model_latency(saved_model, pixels: np.ndarray, runs: int = 200) -> float:
    """Median seconds of one single-image call of the raw-image signature."""
    serve = saved_model.signatures[IMAGES_SIGNATURE]
    image = tf.constant(features.as_images_input(pixels[:1], pixels.shape[1:]))
    return tflite.median_seconds(lambda: serve(images=image), runs)


def evaluate(model_uri: str, tflite_dir: str, serialized: List[bytes], pixels: np.ndarray,
             labels: np.ndarray) -> Dict[str, Any]:
    """Accuracy, agreement with the SavedModel, size and latency of every format."""
    saved_model = tf.saved_model.load(path_utils.serving_model_dir(model_uri))
    reference = saved_model_classes(saved_model, serialized)
    model_input = tflite.pixels_to_model_input(pixels, pixels.shape[1:])
    metrics = {
        'examples': int(len(labels)),
        'saved_model': {'accuracy': float(np.mean(reference == labels)),
                        'latency_ms': 1e3 * _saved_model_latency(saved_model, pixels)},
    }
    for name, filename in (('float32', FLOAT32_FILE), ('int8', INT8_FILE)):
        model = tflite.TFLiteClassifier(storage.join(tflite_dir, filename))
        classes = np.argmax(model.predict(model_input), axis=-1)
        median = model.latency(model_input)
        metrics[name] = {
            'accuracy': float(np.mean(classes == labels)),
            'agreement': float(np.mean(classes == reference)),
            'bytes': storage.size(model.path),
            'latency_ms': 1e3 * median,
            # One image at a time on one thread (TFLiteClassifier's default), the model alone.
            'fps': 1.0 / median if median > 0 else float('inf'),
        }
    return metrics


TEST_SPLIT = 'test'


def score_test_split(model_uri: str, tflite_dir: str, examples: types.Artifact
                     ) -> Optional[Dict[str, Any]]:
    """Accuracy on the data set's own test split, overall and per class, for the SavedModel
    and both TFLite models; None when the data has no test split. Reported, never judged:
    the blessing is the eval split's."""
    if TEST_SPLIT not in artifact_utils.decode_split_names(examples.split_names):
        return None
    serialized, pixels, labels = read_examples(examples, TEST_SPLIT)
    if not len(labels):
        return None
    classes = saved_model_classes(
        tf.saved_model.load(path_utils.serving_model_dir(model_uri)), serialized)
    scores = {'examples': int(len(labels)),
              'saved_model': {'accuracy': float(np.mean(classes == labels)), 'per_class': {
                  str(label): float(np.mean(classes[labels == label] == label))
                  for label in sorted(set(labels.tolist()))}}}
    model_input = tflite.pixels_to_model_input(pixels, pixels.shape[1:])
    for name, filename in (('float32', FLOAT32_FILE), ('int8', INT8_FILE)):
        model = tflite.TFLiteClassifier(storage.join(tflite_dir, filename))
        predicted = np.argmax(model.predict(model_input), axis=-1)
        scores[name] = {'accuracy': float(np.mean(predicted == labels)),
                        'agreement': float(np.mean(predicted == classes))}
    return scores


def verdict(metrics: Dict[str, Any], min_agreement: float, max_int8_drop: float,
            max_bytes: int = 0, min_fps: float = 0.0) -> Tuple[bool, List[str]]:
    """(blessed, reasons it is not) for a metrics dict from `evaluate`; a budget of 0 is none."""
    reasons = []
    int8 = metrics['int8']
    if max_bytes and int8['bytes'] > max_bytes:
        reasons.append(f'int8 TFLite model is {int8["bytes"]:,} bytes, above the budget of '
                       f'{max_bytes:,} (--max-tflite-bytes)')
    if min_fps and int8['fps'] < min_fps:
        reasons.append(f'int8 TFLite model runs {int8["fps"]:.1f} images/s (one image at a time, '
                       f'one thread: {int8["latency_ms"]:.2f} ms), below the budget of '
                       f'{min_fps:g} (--min-fps)')
    agreement = metrics['float32']['agreement']
    if agreement < min_agreement:
        reasons.append(f'float32 TFLite agrees with the SavedModel on {agreement:.2%} of '
                       f'examples, below {min_agreement:.2%} (--min-tflite-agreement)')
    drop = metrics['saved_model']['accuracy'] - metrics['int8']['accuracy']
    if drop > max_int8_drop:
        reasons.append(f'int8 TFLite accuracy {metrics["int8"]["accuracy"]:.4f} is '
                       f'{100 * drop:.2f} points below the SavedModel\'s '
                       f'{metrics["saved_model"]["accuracy"]:.4f} (allowed: '
                       f'{100 * max_int8_drop:.2f}, --max-int8-accuracy-drop)')
    return not reasons, reasons


class Executor(base_executor.BaseExecutor):
    """Writes the verdict (BLESSED or NOT_BLESSED file, properties) and metrics.json."""

    def Do(self, input_dict: Dict[str, List[types.Artifact]],
           output_dict: Dict[str, List[types.Artifact]], exec_properties: Dict[str, Any]) -> None:
        model = artifact_utils.get_single_instance(input_dict[spec.MODEL_KEY])
        tflite_model = artifact_utils.get_single_instance(input_dict[spec.TFLITE_MODEL_KEY])
        examples = artifact_utils.get_single_instance(input_dict[spec.EXAMPLES_KEY])
        blessing = artifact_utils.get_single_instance(output_dict[spec.BLESSING_KEY])

        serialized, pixels, labels = read_examples(examples, exec_properties[spec.SPLIT_KEY])
        metrics = evaluate(model.uri, tflite_model.uri, serialized, pixels, labels)
        budgets = {'max_bytes': exec_properties.get(spec.MAX_BYTES_KEY) or 0,
                   'min_fps': exec_properties.get(spec.MIN_FPS_KEY) or 0.0}
        blessed, reasons = verdict(metrics, exec_properties[spec.MIN_AGREEMENT_KEY],
                                   exec_properties[spec.MAX_INT8_DROP_KEY], **budgets)
        metrics.update(split=exec_properties[spec.SPLIT_KEY], blessed=blessed, reasons=reasons,
                       budgets=budgets)
        if exec_properties[spec.SPLIT_KEY] != TEST_SPLIT:
            metrics['test'] = score_test_split(model.uri, tflite_model.uri, examples)
        storage.makedirs(blessing.uri)
        storage.write_text(storage.join(blessing.uri, METRICS_FILE), json.dumps(metrics, indent=2))
        storage.write_text(storage.join(blessing.uri, 'BLESSED' if blessed else 'NOT_BLESSED'), '')
        blessing.set_int_custom_property('blessed', int(blessed))
        blessing.set_string_custom_property('reasons', '; '.join(reasons))
        blessing.set_int_custom_property('tflite_model_id', tflite_model.id)
        for name in ('float32', 'int8'):
            blessing.set_float_custom_property(f'{name}_accuracy', metrics[name]['accuracy'])
            blessing.set_float_custom_property(f'{name}_agreement', metrics[name]['agreement'])
        blessing.set_float_custom_property('saved_model_accuracy',
                                           metrics['saved_model']['accuracy'])
