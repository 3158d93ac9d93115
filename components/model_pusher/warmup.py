"""TF Serving's warm-up file: real requests it replays when it loads a version.

TF Serving reads `assets.extra/tf_serving_warmup_requests` (a TFRecord file of PredictionLog
protos, at most 1,000) and runs each request against the signature it names before it marks the
version available, so the first client request does not pay for graph initialisation. Written
with the protos of the tensorflow-serving-api package, as TF Serving parses them.
"""

from typing import List, Sequence

import numpy as np
import tensorflow as tf

from image_tfx.model import export
from image_tfx.model import features

# A single request and a small batch, so both shapes are warm.
BATCH_SIZES = (1, 8)


def requests(serialized: Sequence[bytes], pixels: np.ndarray, model_name: str) -> List[bytes]:
    """Serialized PredictionLog records: each signature, each batch size, real examples."""
    from tensorflow_serving.apis import predict_pb2
    from tensorflow_serving.apis import prediction_log_pb2
    images = features.as_images_input(pixels, np.shape(pixels)[1:])
    records = []
    for size in BATCH_SIZES:
        inputs = {
            export.DEFAULT_SIGNATURE: {export.EXAMPLES_INPUT: tf.make_tensor_proto(
                list(serialized[:size]), dtype=tf.string)},
            export.IMAGES_SIGNATURE: {export.IMAGES_INPUT: tf.make_tensor_proto(
                images[:size], dtype=tf.uint8)},
        }
        for signature, tensors in inputs.items():
            request = predict_pb2.PredictRequest()
            request.model_spec.name = model_name
            request.model_spec.signature_name = signature
            for key, tensor in tensors.items():
                request.inputs[key].CopyFrom(tensor)
            log = prediction_log_pb2.PredictionLog(
                predict_log=prediction_log_pb2.PredictLog(request=request))
            records.append(log.SerializeToString())
    return records


def write(path: str, records: Sequence[bytes]) -> None:
    with tf.io.TFRecordWriter(path) as writer:
        for record in records:
            writer.write(record)
