"""The pushed model in a real browser: Debian's Chromium, headless, driven over DevTools.

The page is served by `python -m image_tfx.web` as a user starts it; a stroke is drawn with
mouse events Chromium turns into pointer events, an image file is chosen, and the page's
console and network must report no error. The pipeline's own browser check (the TF.js model
against the SavedModel, in Chromium) is read from the model card and must refuse a model that
disagrees.
"""

import json
import os
import subprocess
import sys

import numpy as np
import pytest
from PIL import Image

from conftest import REPO, require_system_tool
from image_tfx.components import pushed_layout
from image_tfx.components.tfjs_exporter import cdp

PIPELINE = 'mnist'


@pytest.fixture(scope='module')
def version_dir(runs):
    _, _, root = runs
    base = root / 'serving' / PIPELINE
    return str(base / pushed_layout.versions(str(base))[0])


@pytest.fixture(scope='module')
def page(version_dir):
    """(URL, process) of `python -m image_tfx.web VERSION_DIR --port 0`."""
    require_system_tool(bool(cdp.find_chromium()), 'chromium')
    process = subprocess.Popen([sys.executable, '-m', 'image_tfx.web', version_dir, '--port', '0'],
                               stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, cwd=REPO)
    line = process.stdout.readline()
    assert ' at http://127.0.0.1:' in line, line + process.stderr.read()
    yield line.split(' at ')[1].split()[0], process
    process.terminate()
    process.wait(timeout=30)


def test_model_card_and_summary_carry_the_browser_check(runs, version_dir):
    first, _, _ = runs
    with open(pushed_layout.extra(version_dir, pushed_layout.MODEL_CARD_FILE)) as f:
        tfjs = json.load(f)['formats']['tfjs']
    assert tfjs['browser_check'] == 'passed'
    assert tfjs['agreement'] >= 0.999 and tfjs['examples'] > 50
    assert tfjs['latency_ms'] > 0 and tfjs['tfjs_version'] == '4.22.0'
    folder = pushed_layout.extra(version_dir, pushed_layout.TFJS_DIR)
    assert tfjs['bytes'] == sum(os.path.getsize(os.path.join(folder, n))
                                for n in os.listdir(folder))
    assert 'model.json' in os.listdir(folder)
    line = next(x for x in first.stdout.splitlines() if x.strip().startswith('TF.js:'))
    assert 'agrees with SavedModel on 100.00%' in line and 'images in Chromium' in line


def _pad(browser):
    return browser.evaluate('(() => { const r = document.getElementById("pad")'
                            '.getBoundingClientRect(); return [r.left, r.top]; })()')


def test_page_draws_and_classifies_in_chromium(page, version_dir, tmp_path):
    url, _ = page
    with open(pushed_layout.extra(version_dir, pushed_layout.MODEL_CARD_FILE)) as f:
        card = json.load(f)
    with cdp.Chromium() as browser:
        browser.open(url, ready='document.body.dataset.ready')
        assert browser.evaluate('document.body.dataset.ready') == 'true'
        info = browser.evaluate('document.getElementById("model-info").textContent')
        assert card['version'] in info
        assert f'{100 * card["formats"]["saved_model"]["accuracy"]:.1f}%' in info
        # A "7": across the top, then down to the left, as a person draws it.
        left, top = _pad(browser)
        stroke = [(left + 60 + 8 * i, top + 60) for i in range(21)]
        stroke += [(left + 220 - 5 * i, top + 60 + 9 * i) for i in range(1, 21)]
        browser.drag(stroke)
        browser.wait_for('document.body.dataset.predictions === "1"')
        prediction = browser.evaluate('document.getElementById("prediction").textContent')
        assert prediction.startswith('It is ')
        shares = browser.evaluate('[...document.querySelectorAll("#bars .value")]'
                                  '.map(e => Number(e.textContent))')
        assert len(shares) == 10 and sum(shares) == pytest.approx(1, abs=0.01)
        # Each bar is drawn as long as its share (a bar of an inline element would be empty).
        widths = browser.evaluate('[...document.querySelectorAll("#bars .bar")].map(b => ['
                                  'b.getBoundingClientRect().width, b.querySelector(".fill")'
                                  '.getBoundingClientRect().width])')
        for share, (bar, fill) in zip(shares, widths):
            assert fill == pytest.approx(share * bar, abs=1.5)
        prepared = browser.evaluate('Array.from(document.getElementById("prepared").getContext('
                                    '"2d").getImageData(0, 0, 28, 28).data.filter((_, i) => '
                                    'i % 4 === 0))')
        rows = np.flatnonzero(np.asarray(prepared).reshape(28, 28).max(axis=1) > 50)
        assert rows[-1] - rows[0] + 1 in (19, 20, 21)  # fitted into 20x20, like MNIST
        browser.screenshot(str(tmp_path / 'page.png'))
        assert not browser.errors, browser.errors


@pytest.mark.parametrize('stored', ['png', 'phone-jpeg'])
def test_chosen_image_is_prepared_like_predict(page, digits, tmp_path, stored):
    """A chosen image is prepared as predict prepares it; a phone's photo (pixels stored
    sideways, EXIF Orientation 6) is turned upright first, by both."""
    from image_tfx.tools import predict
    url, _ = page
    # A real digit as a user has it: dark on white, larger, off centre.
    image = 255 - np.asarray(Image.fromarray(digits[0][7]).resize((140, 140)))
    canvas = np.full((300, 240), 255, np.uint8)
    canvas[20:160, 90:230] = image
    upright = tmp_path / 'digit.png'
    Image.fromarray(canvas).save(upright)
    path = upright
    if stored == 'phone-jpeg':
        exif = Image.Exif()
        exif[0x0112] = 6  # shown turned a quarter clockwise
        path = tmp_path / 'phone.jpg'
        Image.fromarray(np.rot90(canvas, 1)).save(path, quality=95, exif=exif)
    (_, image), = predict.read_images(str(upright))
    expected = predict.prepare(image, (28, 28, 1), predict.MNIST)[..., 0]
    with cdp.Chromium() as browser:
        browser.open(url, ready='document.body.dataset.ready')
        browser.set_file('#file', str(path))
        browser.wait_for('document.body.dataset.predictions === "1"')
        prepared = np.asarray(browser.evaluate(
            'Array.from(document.getElementById("prepared").getContext("2d")'
            '.getImageData(0, 0, 28, 28).data.filter((_, i) => i % 4 === 0))')).reshape(28, 28)
        assert not browser.errors, browser.errors
    # Same crop, scale and centre; the browser's resampling differs a little from Pillow's.
    assert np.abs(prepared.astype(float) - expected).mean() < 12
    assert np.corrcoef(prepared.reshape(-1), expected.reshape(-1))[0, 1] > 0.9


def test_tfjs_check_refuses_a_tfjs_model_that_disagrees(version_dir, tmp_path):
    require_system_tool(bool(cdp.find_chromium()), 'chromium')
    from image_tfx.components.tfjs_exporter.executor import convert_and_check as tfjs_model
    pixels = np.zeros((20, 784), np.uint8)
    pixels[:, 300:500] = 255
    pixels = pixels.reshape(20, 28, 28, 1)  # as the Pusher reads examples: [n, H, W, C]
    # The SavedModel's class of a blank-ish image is one class; claim another for every image.
    import tensorflow as tf
    classes = tf.saved_model.load(version_dir).signatures['serving_images'](
        images=tf.constant(pixels.reshape(-1, 28, 28)))['class_ids'].numpy()
    entry, reason = tfjs_model(version_dir, str(tmp_path / 'tfjs'), pixels, (classes + 1) % 10)
    assert reason and 'on 0.00% of 20 images in Chromium' in reason
    assert reason.endswith('below 99.90% (--min-tfjs-agreement)'), reason
    assert entry['browser_check'].startswith('FAILED')
    assert not (tmp_path / 'tfjs').exists()  # nothing written for a refused model
    entry, reason = tfjs_model(version_dir, str(tmp_path / 'tfjs'), pixels, classes)
    assert reason is None and entry['agreement'] == 1
    assert (tmp_path / 'tfjs' / 'model.json').exists()


def test_web_cli_refuses_a_folder_without_a_model(tmp_path):
    result = subprocess.run([sys.executable, '-m', 'image_tfx.web', str(tmp_path)],
                            capture_output=True, text=True, cwd=REPO, timeout=120)
    assert result.returncode == 2
    (line,) = [x for x in result.stderr.splitlines() if x.startswith('error:')]
    assert str(tmp_path) in line and 'model.json: missing' in line
    assert 'Traceback' not in result.stderr
