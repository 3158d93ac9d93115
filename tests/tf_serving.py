"""A stand-in for TensorFlow Serving's model loading, warm-up and Predict API.

No `tensorflow_model_server` binary can be installed here (no registry has one), so this follows
TF Serving's own source (tensorflow/serving, read at master of 2026-07) as its specification, and
is at least as strict:

* sources/storage_path/file_system_storage_path_source.cc: the children of the base path whose
  names parse as int64 (absl::SimpleAtoi) are versions, others are skipped; the default
  "latest" policy serves the highest;
* a version is loaded as a SavedModel bundle with the `serve` tag by the C++ loader TF Serving
  links (tensorflow/cc/saved_model/loader.cc, LoadSavedModel: the graph imported into a
  session, the variables restored, the init op run with the asset files), through TensorFlow's
  C API: tests/tf_serving_loader.c, compiled here with gcc against the installed wheel's
  headers and libtensorflow_cc, loads the version with TF_LoadSessionFromSavedModel and runs
  that session for every warm-up record and request;
* servables/tensorflow/saved_model_warmup_util.cc: `assets.extra/tf_serving_warmup_requests`,
  optional, is a TFRecord file of PredictionLog protos, at most 1,000; a record that does not
  parse fails the load, and so does any request that fails;
* servables/tensorflow/predict_util.cc: the signature is the request's `signature_name` or
  `serving_default`; its method name must be predict, classify or regress; the request must
  name exactly the signature's inputs; the tensors are fed by the signature's tensor names,
  whose dtypes they must have (checked here with TF Serving's message; the C++ session would
  refuse them too).
"""

import atexit
import os
import re
import shutil
import struct
import subprocess
import tempfile
import weakref
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


LOADER_SOURCE = os.path.join(os.path.dirname(os.path.abspath(__file__)), 'tf_serving_loader.c')
_compiled: Dict[str, str] = {}


def loader_binary() -> str:
    """tests/tf_serving_loader.c compiled against this TensorFlow (once per process)."""
    if 'path' not in _compiled:
        tf_dir = os.path.dirname(tf.__file__)
        gcc = shutil.which('gcc') or shutil.which('cc')
        if gcc is None:
            raise ServingError('no C compiler (gcc) to build the C API loader')
        folder = tempfile.mkdtemp(prefix='tf-serving-loader-')
        atexit.register(shutil.rmtree, folder, True)
        out = os.path.join(folder, 'tf_serving_loader')
        result = subprocess.run(
            [gcc, '-O1', '-o', out, LOADER_SOURCE, f'-I{os.path.join(tf_dir, "include")}',
             f'-L{tf_dir}', '-l:libtensorflow_cc.so.2', '-l:libtensorflow_framework.so.2',
             f'-Wl,-rpath,{tf_dir}'], capture_output=True, text=True)
        if result.returncode != 0:
            raise ServingError(f'compiling {LOADER_SOURCE} failed:\n{result.stderr}')
        _compiled['path'] = out
    return _compiled['path']


class CSession:
    """A SavedModel's session in the C API loader's process: run(fetches, feed_dict) as a TF1
    session's (a name fetches one array, a list a list)."""

    def __init__(self, path: str):
        env = dict(os.environ, TF_CPP_MIN_LOG_LEVEL='2')
        # TensorFlow's messages go to a file: a pipe nobody reads could fill and block it.
        self._log = tempfile.TemporaryFile()
        self._process = subprocess.Popen(
            [loader_binary(), path], stdin=subprocess.PIPE, stdout=subprocess.PIPE,
            stderr=self._log, env=env)
        self._finalizer = weakref.finalize(self, CSession._stop, self._process, self._log)
        ready = self._process.stdout.readline()
        if ready != b'ok\n':
            self._process.wait(timeout=60)
            message = self._messages().strip()
            self.close()
            raise ServingError(message.splitlines()[-1] if message else f'{path}: not loaded')

    def _messages(self) -> str:
        self._log.seek(0)
        return self._log.read().decode(errors='replace')

    def close(self) -> None:
        self._finalizer()

    @staticmethod
    def _stop(process, log) -> None:
        if process.poll() is None:
            process.stdin.close()
            try:
                process.wait(timeout=30)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()
        for stream in (process.stdin, process.stdout):
            if not stream.closed:
                stream.close()
        log.close()

    def _read(self, size: int) -> bytes:
        data = self._process.stdout.read(size)
        if len(data) != size:
            raise ServingError('the C API loader stopped: ' + self._messages())
        return data

    def run(self, fetches, feed_dict):
        names = [fetches] if isinstance(fetches, str) else list(fetches)
        out = [struct.pack('<II', len(feed_dict), len(names))]
        for name, value in feed_dict.items():
            value = np.asarray(value)
            dtype = tf.string if value.dtype.kind in 'OSU' else tf.as_dtype(value.dtype)
            out += [_name(name), struct.pack('<II', dtype.as_datatype_enum, value.ndim),
                    struct.pack(f'<{value.ndim}q', *value.shape)]
            if dtype == tf.string:
                for item in value.reshape(-1):
                    item = item if isinstance(item, bytes) else str(item).encode()
                    out += [struct.pack('<I', len(item)), item]
            else:
                data = np.ascontiguousarray(value).tobytes()
                out += [struct.pack('<Q', len(data)), data]
        out += [_name(name) for name in names]
        self._process.stdin.write(b''.join(out))
        self._process.stdin.flush()
        (failed,) = struct.unpack('<I', self._read(4))
        if failed:
            (length,) = struct.unpack('<I', self._read(4))
            raise ServingError(self._read(length).decode(errors='replace'))
        results = [self._read_tensor() for _ in names]
        return results[0] if isinstance(fetches, str) else results

    def _read_tensor(self) -> np.ndarray:
        dtype_enum, rank = struct.unpack('<II', self._read(8))
        shape = struct.unpack(f'<{rank}q', self._read(8 * rank))
        dtype = tf.dtypes.as_dtype(dtype_enum)
        if dtype == tf.string:
            items = []
            for _ in range(int(np.prod(shape))):
                (length,) = struct.unpack('<I', self._read(4))
                items.append(self._read(length))
            return np.array(items, dtype=object).reshape(shape)
        (size,) = struct.unpack('<Q', self._read(8))
        return np.frombuffer(self._read(size), dtype=dtype.as_numpy_dtype).reshape(shape)


def _name(name: str) -> bytes:
    encoded = name.encode()
    return struct.pack('<I', len(encoded)) + encoded


def _load_bundle(path: str):
    """(session, signature defs) of the `serve` MetaGraph, loaded by TensorFlow's C++ loader."""
    from tensorflow.core.protobuf import saved_model_pb2
    saved_model = saved_model_pb2.SavedModel()
    with tf.io.gfile.GFile(os.path.join(path, 'saved_model.pb'), 'rb') as f:
        saved_model.ParseFromString(f.read())
    serving = [m for m in saved_model.meta_graphs if tf.saved_model.SERVING in m.meta_info_def.tags]
    if not serving:
        raise ServingError(f'Could not find meta graph def matching supplied tags: {{ serve }} '
                           f'in {path}')
    return CSession(path), {name: signature for name, signature
                            in serving[0].signature_def.items() if not name.startswith('__')}


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
        except ServingError as e:
            raise ServingError(f'{name}: {e}') from e
        return dict(zip(aliases, values))
