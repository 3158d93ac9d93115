"""What was pushed, served the way TF Serving serves it (tests/tf_serving.py follows its source).

The base path is `<output root>/serving/<pipeline>`, as in TF Serving's
`--model_base_path`; it picks the highest numeric folder, loads the SavedModel there, replays
the warm-up file, then answers Predict requests. The answers must equal the SavedModel's own
(tf.saved_model.load), and each signature must match model/signatures.json, what clients code
against.
"""

import json
import os

import numpy as np
import pytest
import tensorflow as tf

import tf_serving
from image_tfx.components import pushed_layout
from image_tfx.model import export

PIPELINE = 'mnist'


@pytest.fixture(scope='module')
def base_path(runs, tmp_path_factory):
    """A copy of the e2e run's serving base path, with folders TF Serving must pass over."""
    _, _, root = runs
    source = root / 'serving' / PIPELINE
    (version,) = [n for n in os.listdir(source) if n.isdigit()]
    base = tmp_path_factory.mktemp('serving') / PIPELINE
    tf.io.gfile.makedirs(str(base))
    for path, _, files in os.walk(source):
        for name in files:
            target = base / os.path.relpath(os.path.join(path, name), source)
            target.parent.mkdir(parents=True, exist_ok=True)
            target.write_bytes(open(os.path.join(path, name), 'rb').read())
    # A half-written push (hidden name) and a stray folder: not versions, whatever they hold.
    (base / f'.{int(version) + 5}.partial').mkdir()
    (base / 'notes').mkdir()
    return base, version


def test_tf_serving_loads_the_newest_version_and_replays_its_warmup(base_path):
    base, version = base_path
    servable = tf_serving.Servable(str(base))
    assert servable.version == int(version)
    # One request per signature and batch size, every one answered during the load.
    assert servable.warmup_records == 4


def test_warmup_requests_answer_like_the_saved_model(base_path):
    from tensorflow_serving.apis import prediction_log_pb2
    base, version = base_path
    servable = tf_serving.Servable(str(base))
    loaded = tf.saved_model.load(str(base / version))
    path = pushed_layout.extra(str(base / version), pushed_layout.WARMUP_FILE)
    signatures = set()
    for record in tf.data.TFRecordDataset(path).as_numpy_iterator():
        request = prediction_log_pb2.PredictionLog.FromString(record).predict_log.request
        assert request.model_spec.name == PIPELINE
        name = request.model_spec.signature_name
        signatures.add(name)
        served = servable.predict(request)
        own = loaded.signatures[name](**{key: tf.constant(tf.make_ndarray(proto))
                                         for key, proto in request.inputs.items()})
        assert set(served) == set(own) == {export.PREDICTION_KEY, export.CLASS_IDS_KEY}
        np.testing.assert_array_equal(served[export.CLASS_IDS_KEY],
                                      own[export.CLASS_IDS_KEY].numpy())
        np.testing.assert_allclose(served[export.PREDICTION_KEY],
                                   own[export.PREDICTION_KEY].numpy(), atol=1e-6)
    assert signatures == {export.DEFAULT_SIGNATURE, export.IMAGES_SIGNATURE}


def test_served_model_classifies_digits(base_path, digits):
    from tensorflow_serving.apis import predict_pb2
    base, _ = base_path
    servable = tf_serving.Servable(str(base))
    images, labels = digits
    request = predict_pb2.PredictRequest()
    request.model_spec.signature_name = export.IMAGES_SIGNATURE
    request.inputs[export.IMAGES_INPUT].CopyFrom(tf.make_tensor_proto(images[4500:4700]))
    classes = servable.predict(request)[export.CLASS_IDS_KEY]
    # One epoch on 320 images is weak, but far better than chance (0.1).
    assert (classes == labels[4500:4700]).mean() > 0.3


def test_signatures_match_the_contract(base_path):
    base, version = base_path
    expected = export.expected_signatures()
    assert export.describe_signatures(str(base / version)) == expected
    with open(pushed_layout.extra(str(base / version), pushed_layout.MODEL_CARD_FILE)) as f:
        assert json.load(f)['signatures'] == expected


def test_the_export_writes_no_keras2_traces(base_path):
    """Transform's layer (a tf_keras model) is saved without the call traces tf_keras would add
    for reloading it as a layer (export._without_keras2_traces): nothing serves from them, and
    tracing them was most of the export's time. The signatures above still serve."""
    from tensorflow.core.protobuf import saved_model_pb2
    base, version = base_path
    saved_model = saved_model_pb2.SavedModel()
    saved_model.ParseFromString((base / version / 'saved_model.pb').read_bytes())
    children = {child.local_name for node in saved_model.meta_graphs[0].object_graph_def.nodes
                for child in node.children}
    assert not children & {'keras_api', 'call_and_return_conditional_losses'}


def test_a_changed_signature_breaks_the_contract(tmp_path):
    class Module(tf.Module):
        @tf.function(input_signature=[tf.TensorSpec([None, 28, 28], tf.float32, name='images')])
        def serve(self, images):
            return {'probabilities': tf.zeros([tf.shape(images)[0], 10]),
                    'class_ids': tf.zeros([tf.shape(images)[0]], tf.int64)}

    module = Module()
    tf.saved_model.save(module, str(tmp_path), signatures={
        export.IMAGES_SIGNATURE: module.serve.get_concrete_function()})
    described = export.describe_signatures(str(tmp_path))
    assert described[export.IMAGES_SIGNATURE]['inputs']['images']['dtype'] == 'float32'
    assert described != export.expected_signatures()


def test_stand_in_refuses_what_tf_serving_refuses(base_path, tmp_path):
    from tensorflow_serving.apis import predict_pb2
    base, version = base_path
    servable = tf_serving.Servable(str(base))
    images = np.zeros((1, 28, 28), np.int64)

    def request(signature, inputs):
        r = predict_pb2.PredictRequest()
        r.model_spec.signature_name = signature
        for key, value in inputs.items():
            r.inputs[key].CopyFrom(tf.make_tensor_proto(value))
        return r

    with pytest.raises(tf_serving.ServingError, match='expects uint8, got int64'):
        servable.predict(request(export.IMAGES_SIGNATURE, {'images': images}))
    with pytest.raises(tf_serving.ServingError, match='not found'):
        servable.predict(request('serving_pixels', {'images': images.astype(np.uint8)}))
    with pytest.raises(tf_serving.ServingError, match='sent extra'):
        servable.predict(request(export.IMAGES_SIGNATURE, {
            'images': images.astype(np.uint8), 'pixels': images}))
    # The old layout (SavedModel one level down) serves nothing; no numeric folder, nothing.
    old = tmp_path / 'old' / '7' / 'saved_model'
    old.mkdir(parents=True)
    (old / 'saved_model.pb').write_bytes((base / version / 'saved_model.pb').read_bytes())
    with pytest.raises(tf_serving.ServingError, match='SavedModel not found'):
        tf_serving.Servable(str(tmp_path / 'old'))
    with pytest.raises(tf_serving.ServingError, match='No versions'):
        tf_serving.Servable(str(base / version))
