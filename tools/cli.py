"""What every user-facing command does before its work: quiet libraries, a quiet `| head`.

TensorFlow's C++ start-up lines (CUDA stubs, factory registrations, CPU instructions), ML
Metadata's C++ logs, TensorFlow Lite's delegate notice and Python warnings of the libraries
(Google's Python-version FutureWarning) are plumbing: shown only with --verbose. Call `quiet`
before TensorFlow is imported.
"""

import logging
import os
import signal
import warnings

from image_tfx.model.tflite import VERBOSE_VARIABLE


def quiet_libraries() -> None:
    """TensorFlow's and ML Metadata's C++ logs and Python warnings of the libraries off;
    before TensorFlow is imported."""
    os.environ.setdefault('TF_CPP_MIN_LOG_LEVEL', '3')
    os.environ.setdefault('GLOG_minloglevel', '3')
    warnings.filterwarnings('ignore')


def quiet(verbose: bool = False, pipe: bool = True) -> None:
    """Library noise off (unless verbose), and, for a command that writes its answer to
    stdout (`pipe`), a closed pipe (`| head`) ends it quietly instead of in BrokenPipeError.
    A server leaves SIGPIPE ignored: a browser that goes away must not kill it."""
    if pipe and hasattr(signal, 'SIGPIPE'):
        signal.signal(signal.SIGPIPE, signal.SIG_DFL)
    if verbose:
        os.environ[VERBOSE_VARIABLE] = '1'
        return
    quiet_libraries()
    logging.getLogger('tensorflow').setLevel(logging.ERROR)
    logging.getLogger('absl').setLevel(logging.ERROR)
