"""A stand-in for TensorFlow Serving's model loading, warm-up and Predict API.

No `tensorflow_model_server` binary can be installed here (no registry has one), so this follows
TF Serving's own source (tensorflow/serving, read at master of 2026-07) as its specification, and
is at least as strict:

* sources/storage_path/file_system_storage_path_source.cc: the children of the base path whose
  names parse as int64 (absl::SimpleAtoi) are versions, others are skipped; the default
  "latest" policy serves the highest;
* a version is loaded as a SavedModel bundle with the `serve` tag, as tensorflow/cc/saved_model/
  loader.cc does it: `saved_model.pb` at the version folder's root, its graph imported into a
  session, the saver's restore op run on `variables/variables`, then the init op with the asset
  files fed (TF1's Python loader would skip the restore of a TF2 SavedModel, so it is not used);
* servables/tensorflow/saved_model_warmup_util.cc: `assets.extra/tf_serving_warmup_requests`,
  optional, is a TFRecord file of PredictionLog protos, at most 1,000; a record that does not
  parse fails the load, and so does any request that fails;
* servables/tensorflow/predict_util.cc: the signature is the request's `signature_name` or
  `serving_default`; its method name must be predict, classify or regress; the request must
  name exactly the signature's inputs; the tensors are fed by the signature's tensor names,
  whose dtypes they must have (the C++ session refuses others; TF1's Python session would cast
  silently, so the check is made here).
"""

import os
import re
from typing import Dict, List

import numpy as np
import tensorflow as tf

WARMUP_FILE = os.path.join('assets.extra', 'tf_serving_warmup_requests')
MAX_WARMUP_RECORDS = 1000
_METHODS = ('tensorflow/serving/predict', 'tensorflow/serving/classify',
            'tensorflow/serving/regress')
# absl::SimpleAtoi: optional surrounding whitespace and sign, then decimal digits.
_INT64 = re.compile(r'^\s*[+-]?\d+\s*$')


class ServingError(Exception):
    """What TF Serving would log before refusing to serve or to answer."""


def versions(base_path: str) -> Dict[int, str]:
    """version number -> child folder name, as the file-system source indexes them."""
    found = {}
    for child in sorted(tf.io.gfile.listdir(base_path)):
        name = child.rstrip('/')
        if _INT64.match(name) and -2**63 <= int(name) < 2**63:
            found[int(name)] = name
    return found


def _load_bundle(path: str):
    """(session, signature defs) of the `serve` MetaGraph, restored and initialised."""
    from tensorflow.core.protobuf import saved_model_pb2
    saved_model = saved_model_pb2.SavedModel()
    with tf.io.gfile.GFile(os.path.join(path, 'saved_model.pb'), 'rb') as f:
        saved_model.ParseFromString(f.read())
    serving = [m for m in saved_model.meta_graphs if tf.saved_model.SERVING in m.meta_info_def.tags]
    if not serving:
        raise ServingError(f'Could not find meta graph def matching supplied tags: {{ serve }} '
                           f'in {path}')
    meta_graph = serving[0]
    graph = tf.Graph()
    with graph.as_default():
        tf.graph_util.import_graph_def(meta_graph.graph_def, name='')
    session = tf.compat.v1.Session(graph=graph)
    variables = os.path.join(path, 'variables', 'variables')
    if tf.io.gfile.exists(variables + '.index'):
        saver = meta_graph.saver_def
        session.run(saver.restore_op_name, {saver.filename_tensor_name: variables})
    assets = {asset.tensor_info.name: os.path.join(path, 'assets', asset.filename)
              for asset in meta_graph.asset_file_def}
    init = meta_graph.signature_def.get('__saved_model_init_op')
    if init is not None:
        session.run(init.outputs['__saved_model_init_op'].name.split(':')[0], assets)
    return session, {name: signature for name, signature in meta_graph.signature_def.items()
                     if not name.startswith('__')}


class Servable:
    """One loaded version of a model, the way TF Serving's latest policy picks and loads it."""

    def __init__(self, base_path: str):
        found = versions(base_path)
        if not found:
            raise ServingError(f'No versions of servable found under base path {base_path}')
        self.version = max(found)
        self.path = os.path.join(base_path, found[self.version])
        if not tf.io.gfile.exists(os.path.join(self.path, 'saved_model.pb')):
            raise ServingError(f'SavedModel not found in export directory: {self.path}')
        self._session, self.signatures = _load_bundle(self.path)
        self.warmup_records = self._warm_up()

    def _warm_up(self) -> int:
        from tensorflow_serving.apis import prediction_log_pb2
        path = os.path.join(self.path, WARMUP_FILE)
        if not tf.io.gfile.exists(path):
            return 0
        count = 0
        for record in tf.data.TFRecordDataset(path).as_numpy_iterator():
            log = prediction_log_pb2.PredictionLog()
            try:
                log.ParseFromString(record)
            except Exception as e:
                raise ServingError(f'Failed to parse warmup record from {path}: {e}') from e
            kind = log.WhichOneof('log_type')
            if kind != 'predict_log':  # the only kind this model's records may hold
                raise ServingError(f'Unsupported log_type for warmup here: {kind}')
            self.predict(log.predict_log.request)
            count += 1
            if count > MAX_WARMUP_RECORDS:
                raise ServingError(f'Number of warmup records exceeds the maximum '
                                   f'({MAX_WARMUP_RECORDS}) at {path}')
        return count

    def predict(self, request) -> Dict[str, np.ndarray]:
        """A PredictRequest's answer: output alias -> array."""
        name = request.model_spec.signature_name or 'serving_default'
        if name not in self.signatures:
            raise ServingError(f'Serving signature key "{name}" not found.')
        signature = self.signatures[name]
        if signature.method_name not in _METHODS:
            raise ServingError(f'Expected prediction signature method_name to be one of '
                               f'{_METHODS}. Was: {signature.method_name}')
        sent, wanted = set(request.inputs), set(signature.inputs)
        if sent != wanted:
            raise ServingError(f'input size does not match signature: sent extra '
                               f'{sorted(sent - wanted)}, missing {sorted(wanted - sent)}')
        feeds = {}
        for alias, proto in request.inputs.items():
            info = signature.inputs[alias]
            if proto.dtype != info.dtype:
                raise ServingError(
                    f'input {alias}: expects {tf.dtypes.as_dtype(info.dtype).name}, got '
                    f'{tf.dtypes.as_dtype(proto.dtype).name}')
            feeds[info.name] = tf.make_ndarray(proto)
        aliases: List[str] = list(request.output_filter) or sorted(signature.outputs)
        fetches = [signature.outputs[alias].name for alias in aliases]
        try:
            values = self._session.run(fetches, feed_dict=feeds)
        except tf.errors.OpError as e:
            raise ServingError(f'{name}: {e.message}') from e
        return dict(zip(aliases, values))
