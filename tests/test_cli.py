"""run_local.py as a user meets it: --help, and one clear error per kind of bad input."""

import gzip
import json
import os
import signal
import subprocess
import sys
import time

import numpy as np
import pytest

from conftest import REPO, RUN_LOCAL, idx_bytes, run_cli, write_idx_dir
from image_tfx.records import metadata
from image_tfx.pipeline import pipeline as pipeline_def


def test_help_lists_every_option():
    result = run_cli('--help')
    assert result.returncode == 0
    for option in ('--data', '--epochs', '--batch-size', '--learning-rate', '--mixed-precision',
                   '--accuracy-threshold', '--max-accuracy-drop', '--output-root',
                   '--pipeline-name', '--no-cache', '--verbose', '--max-class-share',
                   '--max-label-drift', '--max-pixel-drift', '--allow-drift'):
        assert option in result.stdout


def _bad(tmp_path, *args):
    """Runs with bad input; checks the exit code, one error line, and that nothing was made."""
    out = tmp_path / 'outputs'
    result = run_cli(*args, '--output-root', str(out))
    assert result.returncode == 2, result.stdout + result.stderr
    errors = [line for line in result.stderr.splitlines() if line.strip()]
    assert len(errors) == 1 and errors[0].startswith('error: '), result.stderr
    assert not out.exists()
    return errors[0]


def test_missing_data_path(tmp_path):
    missing = tmp_path / 'no-such-dir'
    assert _bad(tmp_path, '--data', str(missing)) == f'error: {missing}: no such file or directory'


def test_idx_problems(tmp_path, digits):
    images, labels = digits
    directory = write_idx_dir(tmp_path / 'data', images[:50], labels[:50], compress=False)
    images_file = os.path.join(directory, 'train-images-idx3-ubyte')
    labels_file = os.path.join(directory, 'train-labels-idx1-ubyte')
    good_images = idx_bytes(images[:50])
    cases = [
        (images_file, b'\x00\x00\x08\x02' + good_images[4:], 'wrong magic number'),
        (images_file, good_images[:-1000], 'truncated'),
        (images_file, good_images + bytes(784), 'more than the header'),
        (labels_file, idx_bytes(labels[:49]), '50 images but 49 labels'),
        (labels_file, idx_bytes(np.full(50, 10)), 'no training images of class 0'),
        (images_file, gzip.compress(good_images)[:-20], 'gzip'),
    ]
    for path, content, expected in cases:
        with open(path, 'wb') as f:
            f.write(content)
        message = _bad(tmp_path, '--data', directory)
        assert path in message and expected in message, message
        with open(images_file, 'wb') as f:
            f.write(good_images)
        with open(labels_file, 'wb') as f:
            f.write(idx_bytes(labels[:50]))


def test_npz_without_arrays(tmp_path):
    path = tmp_path / 'data.npz'
    np.savez(path, images=np.zeros((3, 28, 28), np.uint8))
    message = _bad(tmp_path, '--data', str(path))
    assert str(path) in message and 'missing array(s) x_train, y_train' in message


def test_empty_data_set(tmp_path):
    directory = write_idx_dir(tmp_path / 'data', np.zeros((0, 28, 28)), np.zeros(0))
    message = _bad(tmp_path, '--data', directory)
    assert 'train-images-idx3-ubyte' in message and 'contains no images' in message


def test_gpus_that_are_not_there(tmp_path):
    # No GPU here: the run stops before anything is made, as the Trainer would on a pod.
    message = _bad(tmp_path, '--gpus', '1')
    assert message.startswith('error: 1 GPU(s) requested (--gpus), TensorFlow sees 0 ')


def test_bad_option_value(tmp_path):
    result = run_cli('--accuracy-threshold', '1.5', '--output-root', str(tmp_path / 'o'))
    assert result.returncode == 2 and '1.5 is not between 0 and 1' in result.stderr


@pytest.mark.e2e  # runs the pipeline
def test_inverted_images_stop_at_the_gate(tmp_path, digits):
    """Data that parses but is wrong: the validator gate stops the run before Transform."""
    images, labels = digits
    data = tmp_path / 'inverted.npz'
    np.savez(data, x_train=255 - images[:300], y_train=labels[:300])
    out = tmp_path / 'outputs'
    result = run_cli('--data', str(data), '--epochs', '1', '--output-root', str(out))
    assert result.returncode == 1, result.stdout + result.stderr
    assert 'FAILED  AnomaliesGate' in result.stdout
    assert "error: AnomaliesGate failed" in result.stderr
    assert "feature 'pixels'" in result.stderr and 'inverted' in result.stderr
    store = metadata.open_store(str(out / 'metadata' / 'mnist.sqlite'))
    nodes = metadata.node_runs(store, 'mnist')
    assert nodes[pipeline_def.ANOMALIES_GATE].state == 'failed'
    for downstream in (pipeline_def.TRANSFORM, pipeline_def.TRAINER, pipeline_def.EVALUATOR,
                       pipeline_def.PUSHER):
        assert downstream not in nodes
    assert not (out / 'serving').exists()


@pytest.mark.e2e  # runs the pipeline
def test_images_scaled_to_0_1_stop_at_the_gate_and_the_report_reads_them(tmp_path, digits):
    """The gate's refusal is the whole story: the summary and the report read float pixels as
    they are, with no traceback after it."""
    images, labels = digits
    data = tmp_path / 'scaled.npz'
    np.savez(data, x_train=images[:300] / 255.0, y_train=labels[:300])
    out = tmp_path / 'outputs'
    result = run_cli('--data', str(data), '--epochs', '1', '--output-root', str(out))
    assert result.returncode == 1, result.stdout + result.stderr
    assert 'scaled to 0-1' in result.stderr
    assert 'Traceback' not in result.stdout + result.stderr and '(no summary' not in \
        result.stderr
    (report,) = (out / 'reports' / 'mnist').glob('*.html')
    assert 'id="data"' in report.read_text()


def test_one_hot_labels_are_refused_before_anything_runs(tmp_path, digits):
    images, labels = digits
    data = tmp_path / 'keras.npz'
    np.savez(data, x_train=images[:300], y_train=np.eye(10, dtype=np.float32)[labels[:300]])
    assert _bad(tmp_path, '--data', str(data)) == \
        f'error: {data}: labels have shape (300, 10); expected one label per image'


def test_csv_with_the_label_first_is_refused(tmp_path, digits):
    """785 numbers a row, but the label first: the reader's label is a corner pixel, all 0."""
    images, labels = digits
    data = tmp_path / 'label-first.csv'
    rows = np.column_stack([labels[:300], images[:300].reshape(300, 784)])
    np.savetxt(data, rows, fmt='%d', delimiter=',')
    assert _bad(tmp_path, '--data', str(data)) == \
        f'error: {data}: every label is 0: a classifier needs two classes or more'


@pytest.mark.e2e  # runs the pipeline
def test_one_class_dominating_stops_at_the_gate(tmp_path, digits):
    """Every class present, but nine in ten images of one: the gate stops it, and why is kept."""
    images, labels = digits
    chosen = np.concatenate([np.flatnonzero(labels == 0)[:270]] + [
        np.flatnonzero(labels == k)[:3] for k in range(1, 10)])
    data = tmp_path / 'zeros.npz'
    np.savez(data, x_train=images[chosen], y_train=labels[chosen])
    out = tmp_path / 'outputs'
    result = run_cli('--data', str(data), '--epochs', '1', '--output-root', str(out))
    assert result.returncode == 1, result.stdout + result.stderr
    assert 'FAILED  AnomaliesGate' in result.stdout and 'Traceback' not in result.stderr
    assert "class 0 holds" in result.stderr
    store = metadata.open_store(str(out / 'metadata' / 'mnist.sqlite'))
    nodes = metadata.node_runs(store, 'mnist')
    assert pipeline_def.TRAINER not in nodes
    assert not (out / 'serving').exists()
    # Why it failed is kept with the run in ML Metadata, for `inspect run` and the report.
    (run_id,) = metadata.run_ids(store, 'mnist')
    assert metadata.run_error(store, run_id).startswith('AnomaliesGate failed: the data is not')
    shown = subprocess.run([sys.executable, '-m', 'image_tfx.records.inspect', 'run',
                            '--output-root',
                            str(out)], capture_output=True, text=True, timeout=120, cwd=REPO)
    assert '  error: AnomaliesGate failed: ' in shown.stdout


def test_output_root_that_cannot_be_written(tmp_path):
    blocker = tmp_path / 'a-file'
    blocker.write_text('not a folder')
    out = blocker / 'outputs'
    result = run_cli('--output-root', str(out))
    assert result.returncode == 2, result.stdout + result.stderr
    assert result.stderr.strip() == f'error: {out}: cannot write there (Not a directory)'


def test_pipeline_name_is_a_name_not_a_path(tmp_path):
    result = run_cli('--pipeline-name', '../../x', '--output-root', str(tmp_path / 'o'))
    assert result.returncode == 2
    assert "'../../x' is not a pipeline name: use letters, digits, - and _" in result.stderr
    assert not (tmp_path / 'o').exists()


def test_outside_the_environment_says_how_to_get_it(tmp_path):
    # -S: no site-packages, as with a Python that never saw `make install`.
    result = subprocess.run([sys.executable, '-S', RUN_LOCAL], capture_output=True, text=True,
                            timeout=60, cwd=tmp_path)
    assert result.returncode == 2
    assert 'Traceback' not in result.stderr
    assert 'run `make install`, then `.venv/bin/python pipeline/run_local.py`' in result.stderr


def _start(tmp_path, digits, wait_for: str):
    """Starts a run and returns it once `wait_for` appears in its output."""
    images, labels = digits
    data = write_idx_dir(tmp_path / 'data', images[:300], labels[:300])
    out = tmp_path / 'outputs'
    process = subprocess.Popen([sys.executable, RUN_LOCAL, '--data', data, '--epochs', '1',
                                '--output-root', str(out)], stdout=subprocess.PIPE,
                               stderr=subprocess.PIPE, text=True, cwd=REPO)
    seen = []
    for line in process.stdout:
        seen.append(line)
        if wait_for in line:
            return process, out, seen
    raise AssertionError(''.join(seen) + process.stderr.read())


def _runs_state(out):
    result = subprocess.run([sys.executable, '-m', 'image_tfx.records.inspect', 'runs', '--json',
                             '--output-root', str(out)], capture_output=True, text=True,
                            timeout=120, cwd=REPO)
    assert result.returncode == 0, result.stderr
    return [run['state'] for run in json.loads(result.stdout)]


@pytest.mark.e2e  # runs the pipeline
def test_ctrl_c_is_one_line_and_the_run_is_recorded_as_interrupted(tmp_path, digits):
    process, out, _ = _start(tmp_path, digits, 'start   StatisticsGen')
    process.send_signal(signal.SIGINT)
    stdout, stderr = process.communicate(timeout=120)
    assert process.returncode == 130, stdout + stderr
    assert 'Traceback' not in stderr
    assert [line for line in stderr.splitlines() if line.strip()] == [
        stderr.strip().splitlines()[-1]]
    # Components independent of StatisticsGen may be running with it (BaselineStatistics).
    during = stderr.strip().split(' (run ')[0]
    assert during.startswith('interrupted during ') and 'StatisticsGen' in during.split(), stderr
    assert _runs_state(out) == ['interrupted']


@pytest.mark.e2e  # runs the pipeline
def test_a_killed_run_is_not_shown_as_running(tmp_path, digits):
    process, out, _ = _start(tmp_path, digits, 'start   StatisticsGen')
    process.kill()
    process.communicate(timeout=60)
    assert _runs_state(out) == ['interrupted']


def test_after_ctrl_c_the_processes_a_run_started_are_stopped():
    """Ctrl-C lands in the scheduler's wait, not in the components' code: what they started
    (converters, Chromium) is stopped by the runner, children of children included."""
    from image_tfx.runner import local
    child = subprocess.Popen([sys.executable, '-c', (
        'import subprocess, sys, time; '
        'subprocess.Popen([sys.executable, "-c", "import time; time.sleep(60)"]); '
        'time.sleep(60)')])
    import psutil
    deadline = time.monotonic() + 20
    while not psutil.Process(child.pid).children() and time.monotonic() < deadline:
        time.sleep(0.1)
    (grandchild,) = psutil.Process(child.pid).children()
    local._stop_child_processes(timeout=5)
    child.wait(timeout=10)
    assert not grandchild.is_running() or grandchild.status() == psutil.STATUS_ZOMBIE
