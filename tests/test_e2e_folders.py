"""A user's own photos: class folders of colour images of mixed sizes and formats, end to end.

Two runs through the command line on 3 classes of colour "photos" of digits (dark ink on
light, unevenly lit paper, 30-60 px, PNG and JPEG; data/colour_digits.py; some stored sideways
with EXIF orientation, some WebP and TIFF): the seed CNN, pushed
and asked through `predict --json`; then the edge network, whose push the size budget refuses.
"""

import json
import os
import subprocess
import sys

import pytest

from conftest import REPO, run_cli
from image_tfx.components import pushed_layout
from image_tfx.records import metadata
from image_tfx.pipeline import pipeline as pipeline_def
from image_tfx.schema import load_schema
from image_tfx.model import features

pytestmark = pytest.mark.e2e  # every test here runs the pipeline or reads a run

CLASSES = ['one', 'two', 'zero']  # folder names, sorted: labels 0, 1, 2
PIPELINE = 'photos'  # the data folder's name: the default pipeline name of a folder data set


@pytest.fixture(scope='module')
def photos(tmp_path_factory):
    from image_tfx.data import colour_digits
    # The folder's name is the run's default pipeline name.
    root = str(tmp_path_factory.mktemp('photo-data') / 'photos')
    colour_digits.make(root, per_class=150, classes=3, test_share=0.2)
    # As phones and other tools store them: some training photos stored sideways with EXIF
    # Orientation 6, some as WebP and TIFF.
    from PIL import Image
    exif = Image.Exif()
    exif[0x0112] = 6
    for name in CLASSES:
        folder = os.path.join(root, 'train', name)
        for i, file in enumerate(sorted(os.listdir(folder))[:12]):
            path = os.path.join(folder, file)
            with Image.open(path) as image:
                image = image.convert('RGB')
            os.remove(path)
            stem = os.path.splitext(path)[0]
            if i < 6:
                image.transpose(Image.Transpose.ROTATE_90).save(stem + '.jpg', quality=95,
                                                                exif=exif)
            else:
                image.save(stem + ('.webp' if i < 9 else '.tif'))
    return root


@pytest.fixture(scope='module')
def cnn_run(photos, tmp_path_factory):
    out = str(tmp_path_factory.mktemp('cnn'))
    # About 70 eval images: one image is more than a point of accuracy, so the default int8
    # allowance (0.5 points) would make the push a coin toss (as in conftest's runs).
    result = run_cli('--data', photos, '--epochs', '2', '--accuracy-threshold', '0.0',
                     '--max-int8-accuracy-drop', '0.05', '--output-root', out)
    return result, out


def test_photos_train_and_push_with_their_class_names(cnn_run, photos):
    result, out = cnn_run
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]
    assert '(folders; train 360 images, test 90 images; 46x46 colour, 3 classes)' in \
        result.stdout
    # The summary names classes by their folders.
    assert 'per class:   one: ' in result.stdout and ' zero: ' in result.stdout
    store = metadata.open_store(os.path.join(out, 'metadata', 'photos.sqlite'))
    nodes = metadata.node_runs(store, 'photos')
    schema = load_schema(os.path.join(
        nodes[pipeline_def.SCHEMA_GEN].outputs['schema'][0].uri, 'schema.pbtxt'))
    assert features.schema_image(schema) == ((46, 46, 3), 3)
    serving = os.path.join(out, 'serving', PIPELINE)
    (version,) = pushed_layout.versions(serving)
    version_dir = os.path.join(serving, version)
    card = pushed_layout.read_card(version_dir)
    assert card['classes'] == CLASSES and card['preparation'] == 'resize'
    assert card['image'] == {"height": 46, "width": 46, "channels": 3}
    assert card['inputs']['model_int8.tflite']['shape'] == [1, 46, 46, 3]
    assert card['signatures']['serving_images']['inputs']['images']['shape'] == [-1, 46, 46, 3]
    with open(pushed_layout.extra(version_dir, pushed_layout.LABELS_FILE)) as f:
        assert f.read().split() == CLASSES


def test_predict_json_names_the_class_folders(cnn_run, photos):
    _, out = cnn_run
    serving = os.path.join(out, 'serving', PIPELINE)
    version_dir = os.path.join(serving, pushed_layout.versions(serving)[-1])
    pictures = [os.path.join(photos, 'test', name, sorted(os.listdir(
        os.path.join(photos, 'test', name)))[0]) for name in CLASSES]
    for fmt in ('int8', 'savedmodel'):
        result = subprocess.run(
            [sys.executable, '-m', 'image_tfx.tools.predict', version_dir, *pictures, '--json',
             '--format', fmt], capture_output=True, text=True, timeout=300, cwd=REPO)
        assert result.returncode == 0, result.stderr[-2000:]
        lines = [json.loads(line) for line in result.stdout.splitlines()]
        assert [line['file'] for line in lines] == pictures
        assert all(line['class'] in CLASSES and 0 < line['confidence'] <= 1 for line in lines)
        assert 'mean latency' in result.stderr


def test_edge_model_is_refused_when_over_its_size_budget(photos, tmp_path):
    result = run_cli('--data', photos, '--model', 'edge', '--epochs', '1',
                     '--accuracy-threshold', '0.0', '--max-tflite-bytes', '100000',
                     '--output-root', str(tmp_path))
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]
    assert 'TFLite check: FAILED: int8 TFLite model is ' in result.stdout
    assert 'above the budget of 100,000 (--max-tflite-bytes)' in result.stdout
    assert '(budgets: int8 at most 100,000 bytes, at least 30 images/s)' in result.stdout
    assert 'pushed to:   nothing pushed (the TFLite check failed' in result.stdout
    assert not pushed_layout.versions(os.path.join(str(tmp_path), 'serving', PIPELINE))


def test_predict_classifies_a_video_frame_by_frame(cnn_run, photos, tmp_path):
    import cv2
    import numpy as np
    from PIL import Image
    _, out = cnn_run
    serving = os.path.join(out, 'serving', PIPELINE)
    version_dir = os.path.join(serving, pushed_layout.versions(serving)[-1])
    clip = str(tmp_path / 'clip.avi')
    writer = cv2.VideoWriter(clip, cv2.VideoWriter_fourcc(*'MJPG'), 10, (64, 48))
    for name in CLASSES:
        folder = os.path.join(photos, 'test', name)
        for picture in sorted(os.listdir(folder))[:4]:
            frame = np.asarray(Image.open(os.path.join(folder, picture)).convert('RGB')
                               .resize((64, 48)))
            writer.write(np.ascontiguousarray(frame[..., ::-1]))  # OpenCV writes BGR
    writer.release()
    result = subprocess.run([sys.executable, '-m', 'image_tfx.tools.predict', version_dir,
                             '--video',
                             clip, '--json'], capture_output=True, text=True, timeout=300,
                            cwd=REPO)
    assert result.returncode == 0, result.stderr[-2000:]
    lines = [json.loads(line) for line in result.stdout.splitlines()]
    assert [line['frame'] for line in lines] == list(range(1, 13))
    assert all(line['class'] in CLASSES and line['fps'] > 0 for line in lines)
    assert '12 frames in ' in result.stderr and 'frames/s (int8, decoding and preparation' \
        in result.stderr
    # Not a video: one line, exit 2.
    bad = tmp_path / 'notes.mp4'
    bad.write_text('not a video')
    result = subprocess.run([sys.executable, '-m', 'image_tfx.tools.predict', version_dir,
                             '--video',
                             str(bad)], capture_output=True, text=True, timeout=300, cwd=REPO)
    assert result.returncode == 2
    assert result.stderr.strip() == \
        f'error: {bad}: cannot be opened as a video (OpenCV reads the usual formats and ' \
        'cameras /dev/videoN)'


def test_a_serving_directory_serves_one_kind_of_model(cnn_run):
    """Digits into the serving directory of the photos' model: one line, nothing run."""
    _, out = cnn_run
    serving = os.path.join(out, 'serving', PIPELINE)
    before = pushed_layout.versions(serving)
    result = run_cli('--output-root', out, '--epochs', '1', '--pipeline-name', PIPELINE)
    assert result.returncode == 2, result.stdout[-2000:] + result.stderr[-2000:]
    assert result.stderr.strip().splitlines()[-1] == (
        f'error: {serving}: its models (version {before[-1]}) take 46x46 colour, 3 classes; '
        'this data is 28x28 grayscale, 10 classes. Use another --pipeline-name (or '
        '--output-root) for a model of another kind')
    assert pushed_layout.versions(serving) == before


def test_web_page_classifies_a_photo_with_the_colour_model(cnn_run, photos, tmp_path):
    """The page reads the model's own input size and resizes a dropped photo to it."""
    import numpy as np
    from conftest import require_system_tool, stop_process
    from image_tfx.components.tfjs_exporter import cdp
    require_system_tool(bool(cdp.find_chromium()), 'chromium')
    _, out = cnn_run
    serving = os.path.join(out, 'serving', PIPELINE)
    version_dir = os.path.join(serving, pushed_layout.versions(serving)[-1])
    process = subprocess.Popen([sys.executable, '-m', 'image_tfx.web', version_dir, '--port',
                                '0'], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                               cwd=REPO)
    try:
        line = process.stdout.readline()
        assert ' at http://127.0.0.1:' in line, line
        url = line.split(' at ')[1].split()[0]
        folder = os.path.join(photos, 'test', 'zero')
        picture = os.path.join(folder, sorted(os.listdir(folder))[0])
        with cdp.Chromium() as browser:
            browser.open(url, ready='document.body.dataset.ready')
            assert browser.evaluate('JSON.stringify(imageTfx.state.dims)') == '[46,46,3]'
            assert browser.evaluate('imageTfx.state.preparation') == 'resize'
            browser.set_file('#file', picture)
            browser.wait_for('document.body.dataset.predictions === "1"')
            text = browser.evaluate('document.getElementById("prediction").textContent')
            prepared = np.asarray(browser.evaluate(
                'Array.from(document.getElementById("prepared").getContext("2d")'
                '.getImageData(0, 0, 46, 46).data)')).reshape(46, 46, 4)
            assert not browser.errors, browser.errors
        assert text.startswith('It is ') and text.split()[2] in CLASSES
        # The photo itself, in colour, resized: not a gray MNIST-style digit.
        assert np.abs(prepared[..., 0].astype(int) - prepared[..., 2]).max() > 20
    finally:
        stop_process(process)
