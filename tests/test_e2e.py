"""The whole DAG through LocalDagRunner on a few hundred real digits, checked in ML Metadata.

One run, then a second that must be served entirely from the cache. Both use the command-line
entry point, as a user would.
"""

import hashlib
import json
import os
import re
import subprocess
import sys

import numpy as np
import pytest
import tensorflow as tf

from conftest import REPO, idx_bytes
from image_tfx.components.image_example_gen.executor import to_example
from image_tfx.records import metadata
from image_tfx.pipeline import pipeline as pipeline_def

PIPELINE = 'mnist'


def _store(root):
    return metadata.open_store(os.path.join(root, 'metadata', f'{PIPELINE}.sqlite'))


def test_first_run_completes_every_component(runs):
    first, _, root = runs
    assert first.returncode == 0, first.stdout[-3000:] + first.stderr[-3000:]
    for component in pipeline_def.COMPONENTS:
        assert f'done    {component}' in first.stdout
    # Training shows a line per epoch without --verbose.
    assert re.search(r'^ +epoch 1/1: loss [0-9.]+, accuracy [0-9.]+, eval accuracy [0-9.]+, '
                     r'[0-9,]+ images/s$', first.stdout, re.M), first.stdout
    store = _store(root)
    run_id = metadata.run_ids(store, PIPELINE)[0]
    nodes = metadata.node_runs(store, PIPELINE, run_id)
    for component in pipeline_def.COMPONENTS:
        assert nodes[component].state == 'complete', component
        for artifacts in nodes[component].outputs.values():
            for artifact in artifacts:
                assert artifact.state == artifact.LIVE and os.path.exists(artifact.uri)
    # Every component but the gate records outputs; the gate's effect is that Transform ran.
    assert all(nodes[c].outputs for c in pipeline_def.COMPONENTS
               if c != pipeline_def.ANOMALIES_GATE)
    examples = nodes[pipeline_def.EXAMPLE_GEN].outputs['examples'][0]
    assert examples.properties['split_names'].string_value == '["train", "eval", "test"]'
    assert nodes[pipeline_def.EXAMPLE_GEN].execution.custom_properties  # recorded, not bare
    assert 'data:        train ' in first.stdout and 'test 100' in first.stdout
    assert 'anomalies:   none' in first.stdout


def test_tensorboard_logs_per_epoch(runs):
    _, _, root = runs
    nodes = metadata.node_runs(_store(root), PIPELINE, metadata.run_ids(_store(root), PIPELINE)[0])
    log_dir = nodes[pipeline_def.TRAINER].outputs['model_run'][0].uri
    tags = set()
    for sub in ('train', 'validation'):
        for name in os.listdir(os.path.join(log_dir, sub)):
            for event in tf.compat.v1.train.summary_iterator(os.path.join(log_dir, sub, name)):
                tags.update(v.tag for v in event.summary.value)
    assert {'epoch_loss', 'epoch_accuracy'} <= tags


def test_pushed_model_predicts_on_raw_examples(runs, digits):
    first, _, root = runs
    nodes = metadata.node_runs(_store(root), PIPELINE, metadata.run_ids(_store(root), PIPELINE)[0])
    pushed = nodes[pipeline_def.PUSHER].outputs['pushed_model'][0]
    assert pushed.custom_properties['pushed'].int_value == 1
    destination = pushed.custom_properties['pushed_destination'].string_value
    assert destination.startswith(os.path.join(str(root), 'serving', PIPELINE))
    assert f'pushed to:   {destination}' in first.stdout

    images, labels = digits
    test_images, test_labels = images[4500:4600], labels[4500:4600]
    loaded = tf.saved_model.load(destination)  # the version folder is the SavedModel
    serialized = tf.constant([
        # Raw serving examples carry only the pixels (schema environment SERVING).
        _without_label(to_example(image.reshape(-1).astype(np.int64), 0)).SerializeToString()
        for image in test_images])
    by_examples = loaded.signatures['serving_default'](examples=serialized)
    by_images = loaded.signatures['serving_images'](images=tf.constant(test_images))
    probabilities = by_examples['probabilities'].numpy()
    assert probabilities.shape == (100, 10)
    np.testing.assert_allclose(probabilities.sum(axis=1), 1.0, atol=1e-5)
    np.testing.assert_array_equal(by_examples['class_ids'].numpy(), by_images['class_ids'].numpy())
    # One epoch on 320 images is weak, but far better than chance (0.1).
    assert (by_examples['class_ids'].numpy() == test_labels).mean() > 0.3


def _without_label(example):
    del example.features.feature['label']
    return example


def test_second_run_is_fully_cached(runs):
    _, second, root = runs
    assert second.returncode == 0, second.stdout[-3000:] + second.stderr[-3000:]
    for component in pipeline_def.COMPONENTS:
        assert f'cached  {component}' in second.stdout
    store = _store(root)
    first_id, second_id = metadata.run_ids(store, PIPELINE)
    first_nodes = metadata.node_runs(store, PIPELINE, first_id)
    second_nodes = metadata.node_runs(store, PIPELINE, second_id)
    for component in pipeline_def.COMPONENTS:
        assert second_nodes[component].state == 'cached', component
        assert ({k: [a.id for a in v] for k, v in second_nodes[component].outputs.items()}
                == {k: [a.id for a in v] for k, v in first_nodes[component].outputs.items()})
    assert len(os.listdir(os.path.join(root, 'serving', PIPELINE))) == 1


def _latest_nodes(root):
    store = _store(root)
    return metadata.node_runs(store, PIPELINE, metadata.run_ids(store, PIPELINE)[0])


def _sha256(path):
    with open(path, 'rb') as f:
        return hashlib.sha256(f.read()).hexdigest()


def test_version_folder_and_its_records(runs):
    first, _, root = runs
    nodes = _latest_nodes(root)
    pushed = nodes[pipeline_def.PUSHER].outputs['pushed_model'][0]
    version_dir = pushed.custom_properties['pushed_destination'].string_value
    # The SavedModel at the version's root (TF Serving's layout), everything else in assets.extra.
    assert sorted(os.listdir(version_dir)) == ['assets.extra', 'fingerprint.pb', 'saved_model.pb',
                                               'variables']
    extra = lambda name: os.path.join(version_dir, 'assets.extra', name)  # noqa: E731
    assert sorted(os.listdir(extra(''))) == [
        'labels.txt', 'model_card.json', 'model_float32.tflite', 'model_int8.tflite',
        'statistics', 'tf_serving_warmup_requests', 'tfjs']
    assert not [n for n in os.listdir(os.path.dirname(version_dir)) if n.startswith('.')]
    # Every pushed file is in the PushedModel's manifest in ML Metadata, with its checksum.
    files = json.loads(pushed.custom_properties['files'].string_value)
    on_disk = {os.path.relpath(os.path.join(r, f), version_dir)
               for r, _, fs in os.walk(version_dir) for f in fs}
    assert set(files) == on_disk
    for name, entry in files.items():
        assert entry['sha256'] == _sha256(os.path.join(version_dir, name))
    # The .tflite files are the TFLiteExporter's artifact, which the Pusher took as input.
    exported = nodes[pipeline_def.TFLITE_EXPORTER].outputs['tflite_model'][0]
    assert [a.id for a in nodes[pipeline_def.PUSHER].inputs['tflite_model']] == [exported.id]
    for name in ('model_float32.tflite', 'model_int8.tflite'):
        assert files[f'assets.extra/{name}']['sha256'] == _sha256(os.path.join(exported.uri, name))
    assert os.path.getsize(extra('model_int8.tflite')) <= 64 * 1024

    with open(extra('labels.txt')) as f:
        assert f.read().split() == [str(i) for i in range(10)]
    with open(extra('model_card.json')) as f:
        card = json.load(f)
    assert card['version'] == os.path.basename(version_dir)
    assert card['inputs']['model_int8.tflite']['dtype'] == 'uint8'
    counts = card['data']['examples_per_split']
    assert list(counts) == ['train', 'eval', 'test'] and counts['test'] == 100
    assert counts['train'] + counts['eval'] == 400
    # Per class and split, as TFDV counted them for the gate; a first run judged no drift.
    per_class = card['data']['label_counts_per_split']
    assert {split: sum(c.values()) for split, c in per_class.items()} == counts
    assert card['data']['drift']['measurements'] == []
    # The statistics travel with the version: the next run's gate compares with them.
    assert os.path.isfile(extra(os.path.join('statistics', 'Split-train', 'FeatureStats.pb')))
    check = nodes[pipeline_def.TFLITE_VALIDATOR].outputs['blessing'][0]
    assert check.custom_properties['blessed'].int_value == 1
    for name in ('float32', 'int8'):
        # MLMD keeps the value as a double; the card's JSON has every digit.
        assert card['formats'][f'model_{name}.tflite']['accuracy'] == pytest.approx(
            check.custom_properties[f'{name}_accuracy'].double_value, abs=1e-6)
    assert card['formats']['model_float32.tflite']['agreement'] >= 0.999
    assert 'TFLite check: passed' in first.stdout
    # The data set's own test split (100 t10k digits) is scored, overall and per class.
    test = card['test_split']
    assert test['examples'] == 100 and set(test) == {'examples', 'saved_model', 'float32', 'int8'}
    assert set(test['saved_model']['per_class']) == {str(i) for i in range(10)}
    assert f"test accuracy: {test['saved_model']['accuracy']:.4f} (100 images" in first.stdout
    assert 'TFLite int8:' in first.stdout and 'TFLite float32:' in first.stdout


def test_tflite_from_another_model_fails_the_check(runs, tmp_path, digits):
    from image_tfx.components.tflite_exporter.executor import run_conversion
    from image_tfx.components.tflite_validator import executor as validator
    from image_tfx.model import export
    from image_tfx.model import tflite
    from image_tfx.model.model import build_model
    _, _, root = runs
    nodes = _latest_nodes(root)
    model_uri = nodes[pipeline_def.TRAINER].outputs['model'][0].uri
    examples = nodes[pipeline_def.EXAMPLE_GEN].outputs['examples'][0]
    # Another model: same architecture, never trained.
    other = build_model()
    export.save_keras_export(other, str(tmp_path / 'keras'), (28, 28, 1))
    run_conversion(str(tmp_path / 'keras'),
                   tflite.pixels_to_model_input(digits[0][:50], (28, 28, 1)),
                   str(tmp_path / 'tflite'))
    from tfx.types import standard_artifacts
    artifact = standard_artifacts.Examples()
    artifact.set_mlmd_artifact(examples)
    serialized, pixels, labels = validator.read_examples(artifact, 'eval')
    metrics = validator.evaluate(model_uri, str(tmp_path / 'tflite'), serialized, pixels, labels)
    blessed, reasons = validator.verdict(metrics, 0.999, 0.005)
    assert not blessed
    assert any(r.startswith('float32 TFLite agrees with the SavedModel on') for r in reasons)
    assert any('int8 TFLite accuracy' in r for r in reasons)


def _predict(*args):
    return subprocess.run([sys.executable, '-m', 'image_tfx.tools.predict', *args],
                          capture_output=True, text=True, timeout=300, cwd=REPO)


def test_predict_cli_on_images(runs, tmp_path, digits):
    from PIL import Image
    _, _, root = runs
    version_dir = _latest_nodes(root)[pipeline_def.PUSHER].outputs['pushed_model'][0] \
        .custom_properties['pushed_destination'].string_value
    images, _ = digits
    digit = images[4600]
    paths = [tmp_path / 'mnist.png', tmp_path / 'big.jpg', tmp_path / 'wide.png']
    Image.fromarray(digit).save(paths[0])
    Image.fromarray(255 - digit).resize((112, 112)).convert('RGB').save(paths[1], quality=95)
    rgba = Image.fromarray(np.zeros((60, 90, 4), np.uint8))
    rgba.paste(Image.fromarray(digit).resize((56, 56)).convert('RGBA'), (17, 2))
    rgba.save(paths[2])
    idx = tmp_path / 'few-images-idx3-ubyte'
    idx.write_bytes(idx_bytes(images[4600:4603]))

    for fmt in ('int8', 'float32', 'savedmodel'):
        result = _predict(version_dir, *map(str, paths), str(idx), '--format', fmt)
        assert result.returncode == 0, result.stderr[-2000:]
        # No plumbing: TensorFlow's C++ start-up lines, TFLite's delegate notice, warnings.
        assert result.stderr == '', result.stderr
        lines = result.stdout.strip().splitlines()
        assert len(lines) == 7 and lines[-1].startswith('mean latency: ')
        assert f'({fmt}, 6 images)' in lines[-1]
        classes = [line.split(': ')[1].split(' ')[0] for line in lines[:-1]]
        assert all(c in [str(i) for i in range(10)] for c in classes)
        # The MNIST-format PNG and the same image from the IDX file get the same answer.
        assert lines[0].split(': ', 1)[1] == lines[3].split(': ', 1)[1]
        assert lines[3].startswith(f'{idx}#0: ')


def test_phone_photos_and_16_bit_scans_score_as_upright_8_bit_photos(runs, tmp_path, digits):
    """100 held-out digits as photos (dark ink on light paper, larger than 28x28), stored four
    ways: upright JPEG; a phone's JPEG (pixels sideways, EXIF Orientation 6); upright 8-bit PNG;
    a 16-bit PNG scan of the same values. Through predict, the phone's photos get the upright
    JPEGs' answers (JPEG's artifacts differ once turned, and this 1-epoch model is weak: a few
    answers may change; read sideways, most would) and the scans exactly the 8-bit PNGs'.
    bench/messy_files_bench.py scores both against a trained model."""
    from PIL import Image
    _, _, root = runs
    version_dir = _latest_nodes(root)[pipeline_def.PUSHER].outputs['pushed_model'][0] \
        .custom_properties['pushed_destination'].string_value
    images, labels = digits
    exif = Image.Exif()
    exif[0x0112] = 6
    folders = {kind: tmp_path / kind for kind in ('upright', 'phone', 'png8', 'scan16')}
    for folder in folders.values():
        folder.mkdir()
    for i in range(4500, 4600):
        page = np.full((90, 70), 255, np.uint8)
        page[10:66, 7:63] = 255 - np.asarray(Image.fromarray(images[i]).resize((56, 56)))
        name = f'{i}.jpg'
        Image.fromarray(page).save(folders['upright'] / name, quality=92)
        Image.fromarray(np.rot90(page, 1)).save(folders['phone'] / name, quality=92, exif=exif)
        Image.fromarray(page).save(folders['png8'] / f'{i}.png')
        Image.fromarray(page.astype(np.uint16) * 257).save(folders['scan16'] / f'{i}.png')
    accuracy, answered = {}, {}
    for kind, folder in folders.items():
        files = sorted(str(p) for p in folder.iterdir())
        result = _predict(version_dir, *files, '--json')
        assert result.returncode == 0, result.stderr[-2000:]
        answers = [json.loads(line) for line in result.stdout.splitlines() if line.startswith('{')]
        assert len(answers) == 100
        answered[kind] = {os.path.basename(a['file']).split('.')[0]: a['class'] for a in answers}
        accuracy[kind] = np.mean([int(c) == labels[int(i)] for i, c in answered[kind].items()])

    def agreement(kind, reference):
        return np.mean([answered[kind][i] == answered[reference][i] for i in answered[kind]])
    assert accuracy['upright'] > 0.3, accuracy  # the model reads the photos at all
    assert agreement('phone', 'upright') >= 0.9, (agreement('phone', 'upright'), accuracy)
    assert agreement('scan16', 'png8') == 1.0, (agreement('scan16', 'png8'), accuracy)


def test_predict_takes_options_anywhere_and_ends_quietly_in_a_pipe(runs, tmp_path, digits):
    from PIL import Image
    _, _, root = runs
    version_dir = _latest_nodes(root)[pipeline_def.PUSHER].outputs['pushed_model'][0] \
        .custom_properties['pushed_destination'].string_value
    paths = []
    for i in range(30):
        paths.append(str(tmp_path / f'{i}.png'))
        Image.fromarray(digits[0][4600 + i]).save(paths[-1])
    # Options after the version and before the files; `| head -3` closes the pipe early.
    command = ' '.join([sys.executable, '-m', 'image_tfx.tools.predict', version_dir, '--json',
                        '--format', 'float32', *paths, '| head -3'])
    result = subprocess.run(['bash', '-o', 'pipefail', '-c', command], capture_output=True,
                            text=True, timeout=300, cwd=REPO)
    assert len(result.stdout.splitlines()) == 3
    assert json.loads(result.stdout.splitlines()[0])['file'] == paths[0]
    assert 'Traceback' not in result.stderr and 'BrokenPipe' not in result.stderr, result.stderr
    verbose = _predict(version_dir, paths[0], '--verbose')
    assert verbose.returncode == 0 and 'tensorflow' in verbose.stderr.lower()


def test_predict_cli_rejects_a_corrupt_file(runs, tmp_path):
    _, _, root = runs
    version_dir = _latest_nodes(root)[pipeline_def.PUSHER].outputs['pushed_model'][0] \
        .custom_properties['pushed_destination'].string_value
    corrupt = tmp_path / 'photo.png'
    corrupt.write_bytes(b'\x89PNG\r\n\x1a\n' + b'garbage' * 10)
    result = _predict(version_dir, str(corrupt))
    assert result.returncode == 2
    assert result.stderr.strip().startswith(f'error: {corrupt}: ')
    text = tmp_path / 'notes.txt'
    text.write_text('hello')
    result = _predict(version_dir, str(text))
    assert result.returncode == 2 and 'not an image' in result.stderr
