"""Running the exported TFLite models: input preparation, quantization, timing.

Used by the TFLite check inside the pipeline, the predict command and the benchmark, so that
all three feed the models the same way.
"""

import contextlib
import os
import sys
import time
from typing import Callable

import numpy as np

from image_tfx.model import features


def pixels_to_model_input(pixels: np.ndarray, shape) -> np.ndarray:
    """Raw pixels 0-255 (n images of `shape` (H, W, C), in any layout) -> the network's input
    [n, H, W, C] in [0, 1].

    This is preprocessing_fn's scaling in NumPy, for TFLite models that run without the
    Transform graph; tests/test_tflite.py checks that the two agree.
    """
    pixels = np.asarray(pixels, dtype=np.float32).reshape(-1, *shape)
    return pixels / float(features.MAX_PIXEL)


def median_seconds(call: Callable[[], object], runs: int) -> float:
    """Median wall time of `runs` calls of `call`, after one warm-up call."""
    call()
    times = np.empty(runs)
    for i in range(runs):
        start = time.perf_counter()
        call()
        times[i] = time.perf_counter() - start
    return float(np.median(times))


# Set by a command given --verbose (tools/cli.py): C++ notices are then shown.
VERBOSE_VARIABLE = 'IMAGE_TFX_VERBOSE'


@contextlib.contextmanager
def _quiet_stderr():
    """File descriptor 2 silenced for TensorFlow Lite's interpreter set-up, whose C++ prints
    "Created TensorFlow Lite XNNPACK delegate for CPU." whatever the log levels; not with
    --verbose."""
    if os.environ.get(VERBOSE_VARIABLE):
        yield
        return
    sys.stderr.flush()
    saved = os.dup(2)
    try:
        with open(os.devnull, 'w', encoding='utf-8') as devnull:
            os.dup2(devnull.fileno(), 2)
            yield
    finally:
        os.dup2(saved, 2)
        os.close(saved)


class TFLiteClassifier:
    """One .tflite model, run one image at a time (as on a device)."""

    def __init__(self, path: str, num_threads: int = 1):
        import tensorflow as tf
        self.path = path
        with _quiet_stderr():
            if '://' in path:  # object storage: the interpreter reads local files only
                with tf.io.gfile.GFile(path, 'rb') as f:
                    self._interpreter = tf.lite.Interpreter(model_content=f.read(),
                                                            num_threads=num_threads)
            else:
                self._interpreter = tf.lite.Interpreter(model_path=path,
                                                        num_threads=num_threads)
            self._interpreter.allocate_tensors()
        self.input = self._interpreter.get_input_details()[0]
        self.output = self._interpreter.get_output_details()[0]

    @property
    def input_shape(self):
        """(height, width, channels) of the images the model takes."""
        return tuple(int(d) for d in self.input['shape'][1:])

    @property
    def input_dtype(self):
        return self.input['dtype']

    def quantize(self, model_input: np.ndarray) -> np.ndarray:
        """The network's float input as this model's input tensor (quantized for integer models)."""
        if self.input_dtype == np.float32:
            return model_input.astype(np.float32)
        scale, zero_point = self.input['quantization']
        info = np.iinfo(self.input_dtype)
        return np.clip(np.round(model_input / scale + zero_point), info.min,
                       info.max).astype(self.input_dtype)

    def dequantize(self, raw: np.ndarray) -> np.ndarray:
        if self.output['dtype'] == np.float32:
            return raw
        scale, zero_point = self.output['quantization']
        return (raw.astype(np.float32) - zero_point) * scale

    def invoke(self, tensor: np.ndarray) -> np.ndarray:
        """Runs one already-quantized input [1, H, W, C]; returns the raw output."""
        self._interpreter.set_tensor(self.input['index'], tensor)
        self._interpreter.invoke()
        return self._interpreter.get_tensor(self.output['index'])

    def predict(self, model_input: np.ndarray) -> np.ndarray:
        """Class probabilities [n, classes] for inputs [n, H, W, C] in [0, 1]."""
        tensors = self.quantize(model_input)
        return np.concatenate([self.dequantize(self.invoke(t[None, ...])) for t in tensors])

    def latency(self, model_input: np.ndarray, runs: int = 1000) -> float:
        """Median seconds of one invocation on one image, over `runs` invocations."""
        tensor = self.quantize(model_input[:1])
        return median_seconds(lambda: self.invoke(tensor), runs)
