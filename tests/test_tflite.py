"""TFLite conversion, the agreement check, the pusher's verdict and image preparation."""

import os

import numpy as np
import pytest
import tensorflow as tf

from image_tfx.tools import predict
from image_tfx.components.artifacts import METRICS_FILE, TFJSBlessing, TFJSModel, TFLiteBlessing
from image_tfx.components.artifacts import TFLiteModel
from image_tfx.components.model_pusher import executor as pusher
from image_tfx.components.tflite_exporter import convert
from image_tfx.components.tflite_exporter.executor import ConversionError, run_conversion
from image_tfx.components.tflite_validator.executor import verdict
from image_tfx.model import export
from image_tfx.model import features
from image_tfx.model import preprocessing
from image_tfx.model import tflite
from image_tfx.model.features import DIGITS_SHAPE as DIGITS
from image_tfx.model.model import build_model
from tfx.types import standard_artifacts


def test_numpy_scaling_matches_preprocessing_fn(digits):
    pixels = digits[0][:20].reshape(20, 28, 28, 1).astype(np.int64)
    graph = preprocessing.preprocessing_fn({features.PIXELS_KEY: tf.constant(pixels)})
    expected = graph[features.transformed_name(features.PIXELS_KEY)].numpy()
    np.testing.assert_array_equal(tflite.pixels_to_model_input(pixels, (28, 28, 1)), expected)


@pytest.fixture(scope='module')
def converted(tmp_path_factory, digits):
    """A CNN trained for 2 epochs on 1,500 digits, converted to both TFLite formats."""
    images, labels = digits
    x = tflite.pixels_to_model_input(images[:1500], DIGITS)
    model = build_model()
    model.fit(x, labels[:1500].astype(np.int64), epochs=2, batch_size=64, verbose=0)
    root = tmp_path_factory.mktemp('tflite')
    export.save_keras_export(model, str(root / 'keras'), DIGITS)
    run_conversion(str(root / 'keras'), x[:300], str(root / 'out'))
    return model, root / 'out'


def test_conversion_writes_float32_and_int8(converted, digits):
    model, out = converted
    images, labels = digits
    test_input = tflite.pixels_to_model_input(images[4000:4500], DIGITS)
    reference = np.argmax(model.predict(test_input, verbose=0), axis=-1)

    float32 = tflite.TFLiteClassifier(str(out / convert.FLOAT32_FILE))
    assert float32.input_dtype == np.float32
    assert np.mean(np.argmax(float32.predict(test_input), axis=-1) == reference) >= 0.999

    int8 = tflite.TFLiteClassifier(str(out / convert.INT8_FILE))
    assert int8.input_dtype == np.uint8 and int8.output['dtype'] == np.uint8
    assert list(int8.input['shape']) == [1, 28, 28, 1]
    scale, zero_point = int8.input['quantization']
    assert zero_point == 0 and abs(scale - 1 / 255) < 1e-5  # a uint8 input is the raw pixel
    assert os.path.getsize(out / convert.INT8_FILE) <= 64 * 1024
    keras_accuracy = np.mean(reference == labels[4000:4500])
    int8_accuracy = np.mean(np.argmax(int8.predict(test_input), axis=-1) == labels[4000:4500])
    assert abs(keras_accuracy - int8_accuracy) <= 0.02


@pytest.mark.parametrize('architecture', ['cnn', pytest.param('edge', marks=pytest.mark.e2e)])
def test_mixed_precision_model_converts_through_its_float32_copy(tmp_path, digits, architecture):
    """Trained under mixed_float16, a network cannot be converted as it is (float16 kernels the
    TFLite builtins lack); its float32 copy converts and predicts what the trained model does."""
    import keras
    from image_tfx.model.model import ModelSpec, float32_copy
    spec = ModelSpec(DIGITS, 10, architecture, augment=architecture == 'edge')
    images, labels = digits
    x = tflite.pixels_to_model_input(images[:600], DIGITS)
    previous = keras.mixed_precision.global_policy()
    keras.mixed_precision.set_global_policy('mixed_float16')
    try:
        model = build_model(spec)
        model.fit(x, labels[:600].astype(np.int64), epochs=1, batch_size=64, verbose=0)
    finally:
        keras.mixed_precision.set_global_policy(previous)
    export.save_keras_export(model, str(tmp_path / 'mixed'), DIGITS)
    with pytest.raises(ConversionError):
        run_conversion(str(tmp_path / 'mixed'), x[:100], str(tmp_path / 'mixed-out'))
    copy = float32_copy(model, spec)
    assert {layer.compute_dtype for layer in copy.layers} == {'float32'}
    export.save_keras_export(copy, str(tmp_path / 'copy'), DIGITS)
    run_conversion(str(tmp_path / 'copy'), x[:100], str(tmp_path / 'out'))
    test_input = tflite.pixels_to_model_input(images[4000:4200], DIGITS)
    trained = np.argmax(model.predict(test_input, verbose=0), axis=-1)
    float32 = tflite.TFLiteClassifier(str(tmp_path / 'out' / convert.FLOAT32_FILE))
    assert np.mean(np.argmax(float32.predict(test_input), axis=-1) == trained) >= 0.99


def test_conversion_crash_is_a_clear_error(tmp_path):
    broken = tmp_path / 'broken'
    broken.mkdir()
    (broken / 'saved_model.pb').write_bytes(b'this is not a SavedModel')
    with pytest.raises(ConversionError) as error:
        run_conversion(str(broken), np.zeros((2, 28, 28, 1), np.float32), str(tmp_path / 'out'))
    message = str(error.value)
    assert message.startswith(f'TFLite conversion of {broken} exited with code')
    assert not (tmp_path / 'out' / convert.INT8_FILE).exists()


def _metrics(agreement=1.0, saved=0.95, int8=0.948):
    return {'saved_model': {'accuracy': saved}, 'float32': {'agreement': agreement},
            'int8': {'accuracy': int8}}


def test_verdict_thresholds():
    assert verdict(_metrics(), 0.999, 0.005) == (True, [])
    assert verdict(_metrics(agreement=0.999), 0.999, 0.005)[0]
    blessed, reasons = verdict(_metrics(agreement=0.99), 0.999, 0.005)
    assert not blessed and 'float32 TFLite agrees with the SavedModel on 99.00%' in reasons[0]
    blessed, reasons = verdict(_metrics(int8=0.94), 0.999, 0.005)
    assert not blessed and '1.00 points below' in reasons[0]


def _blessing(cls, blessed, reasons=''):
    artifact = cls()
    artifact.set_int_custom_property('blessed', int(blessed))
    artifact.set_string_custom_property('reasons', reasons)
    return artifact


def test_pusher_pushes_only_with_every_blessing():
    model_ok = _blessing(standard_artifacts.ModelBlessing, True)
    tflite_ok = _blessing(TFLiteBlessing, True)
    tfjs_ok = _blessing(TFJSBlessing, True)
    assert pusher.not_pushed_reasons(model_ok, tflite_ok, tfjs_ok) == []
    assert pusher.not_pushed_reasons(model_ok, tflite_ok,
                                     _blessing(TFJSBlessing, False, 'in Chromium')) == [
        'the TF.js check failed: in Chromium']
    assert pusher.not_pushed_reasons(_blessing(standard_artifacts.ModelBlessing, False),
                                     tflite_ok) == ['the Evaluator did not bless the model']
    assert pusher.not_pushed_reasons(model_ok, _blessing(TFLiteBlessing, False, 'int8 worse')) \
        == ['the TFLite check failed: int8 worse']


def test_images_are_prepared_like_mnist(digits):
    from PIL import Image
    digit = digits[0][7]
    reference = predict.mnist_style(digit).astype(np.float32)
    # The same digit, dark on light, five times larger, in colour, off-centre on a wide page.
    page = np.full((200, 300), 255, np.uint8)
    big = np.asarray(Image.fromarray(255 - digit).resize((140, 140)))
    page[10:150, 150:290] = big
    colour = np.stack([page] * 3, axis=-1)
    prepared = predict.mnist_style(np.asarray(Image.fromarray(colour).convert('L')))
    assert prepared.shape == (28, 28) and prepared.dtype == np.uint8
    assert np.corrcoef(prepared.reshape(-1), reference.reshape(-1))[0, 1] > 0.9
    rows, cols = np.indices(prepared.shape)
    mass = prepared.astype(np.float64)
    assert abs((rows * mass).sum() / mass.sum() - 14) < 1
    assert abs((cols * mass).sum() / mass.sum() - 14) < 1
    assert not predict.mnist_style(np.full((50, 50), 255)).any()  # a blank page


def test_pusher_does_not_copy_the_newest_version_again(tmp_path):
    """The same trained model blessed again (an evaluation option changed) is not a new version."""
    import json
    from image_tfx.components.model_pusher import spec
    serving = tmp_path / 'serving'
    (serving / '100' / 'assets.extra').mkdir(parents=True)
    (serving / '100' / 'saved_model.pb').write_bytes(b'')  # a finished version
    model = standard_artifacts.Model()
    model.uri = str(tmp_path / 'trained')
    (serving / '100' / 'assets.extra' / 'model_card.json').write_text(json.dumps(
        {'version': '100', 'trained_model': {'uri': model.uri}}))
    tflite = TFLiteModel()
    tflite.uri = str(tmp_path / 'tflite')
    pushed = standard_artifacts.PushedModel()
    pushed.uri = str(tmp_path / 'pushed')
    tfjs_blessing = _blessing(TFJSBlessing, True)
    tfjs_blessing.uri = str(tmp_path / 'tfjs_blessing')
    os.makedirs(tfjs_blessing.uri)
    with open(os.path.join(tfjs_blessing.uri, METRICS_FILE), 'w') as f:
        json.dump({'bytes': 1, 'browser_check': 'passed'}, f)
    pusher.Executor().Do(
        {spec.MODEL_KEY: [model], spec.TFLITE_MODEL_KEY: [tflite],
         spec.MODEL_BLESSING_KEY: [_blessing(standard_artifacts.ModelBlessing, True)],
         spec.TFLITE_BLESSING_KEY: [_blessing(TFLiteBlessing, True)],
         spec.TFJS_MODEL_KEY: [TFJSModel()], spec.TFJS_BLESSING_KEY: [tfjs_blessing]},
        {spec.PUSHED_MODEL_KEY: [pushed]},
        {spec.BASE_DIRECTORY_KEY: str(serving), spec.CLASS_NAMES_KEY: '[]'})
    assert sorted(p.name for p in serving.iterdir()) == ['100']
    assert pushed.get_string_custom_property('pushed_version') == '100'
    assert pushed.get_int_custom_property('already_pushed') == 1
