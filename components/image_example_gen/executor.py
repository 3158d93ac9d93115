"""Beam executor of ImageExampleGen: image data sets in, tf.Examples out.

The 'train' source split is hash-split into train and eval by the output config, as every
TFX ExampleGen does; a 'test' source split (IDX t10k files, x_test/y_test in an npz, a test/
folder) is written whole as a third output split, `test`.

Every example holds `pixels` (height x width x channels integers 0-255, row-major) and
`label`; the data set's ImageSpec (shape, class names) is recorded on the Examples artifact,
where the schema and the model read it. Image files are decoded and sized here, one file per
Beam element, so that the data checks downstream see pixel values.
"""

import json
import os
from typing import Any, Dict, List

import apache_beam as beam
from absl import logging
import numpy as np
import tensorflow as tf
from tfx import types
from tfx.components.example_gen import base_example_gen_executor
from tfx.proto import example_gen_pb2
from tfx.types import artifact_utils
from tfx.types import standard_component_specs
from tfx.utils import proto_utils

from image_tfx.components.artifacts import DUPLICATES_PROPERTY, IMAGE_SPEC_PROPERTY
from image_tfx.components.image_example_gen.spec import IMAGE_SIZE_KEY, SOURCE_FORMAT_KEY
from image_tfx.data import images as imaging
from image_tfx.data import sources
from image_tfx.model import features
from image_tfx.model.params import PROGRESS_MESSAGE

TEST_SPLIT = 'test'


def to_example(pixels: np.ndarray, label: int) -> tf.train.Example:
    """One image as a tf.Example: its pixel values (flattened) and an integer label."""
    pixels = np.asarray(pixels).reshape(-1)
    example = tf.train.Example()
    feature = example.features.feature
    # Extended from a list of Python numbers: about twice as fast as the constructors.
    if pixels.dtype.kind == 'f':
        feature[features.PIXELS_KEY].float_list.value.extend(pixels.tolist())
    else:
        feature[features.PIXELS_KEY].int64_list.value.extend(pixels.tolist())
    feature[features.LABEL_KEY].int64_list.value.append(label)
    return example


def _source(exec_properties: Dict[str, Any]) -> sources.Source:
    input_config = example_gen_pb2.Input()
    proto_utils.json_to_proto(exec_properties[standard_component_specs.INPUT_CONFIG_KEY],
                              input_config)
    base = exec_properties[standard_component_specs.INPUT_BASE_KEY]
    pattern = input_config.splits[0].pattern
    source_format = exec_properties[SOURCE_FORMAT_KEY]
    if source_format == sources.FORMAT_AUTO:
        # A data location set per run (a Kubeflow parameter): a directory, a file, or ''.
        return sources.detect_source(base or sources.default_data_path())
    path = base if source_format in (sources.FORMAT_IDX, sources.FORMAT_FOLDERS) else \
        os.path.join(base, pattern)
    source = sources.detect_source(path)
    if source.format != source_format:
        raise sources.DataError(path, f'is {source.format} data, but the pipeline was built for '
                                f'{source_format}')
    return source


def _read_examples(split: str, source: sources.Source, spec: sources.ImageSpec):
    images, labels = sources.read_split(source, split)
    for image, label in zip(sources.fit_images(images, spec), labels):
        yield serialized(to_example(image, int(label)))


def serialized(example: tf.train.Example) -> bytes:
    """An example as ExampleGen hands it to TFX: serialized deterministically, which is also
    the key TFX's hash split reads, so the splits are those of the example itself."""
    return example.SerializeToString(deterministic=True)


def _read_file(item, spec: sources.ImageSpec) -> bytes:
    path, label = item
    image = imaging.to_shape(sources.read_image(path, spec.channels), spec.shape)
    return serialized(to_example(image, label))


@beam.ptransform_fn
@beam.typehints.with_input_types(beam.Pipeline)
@beam.typehints.with_output_types(bytes)
def _ReadSourceSplit(pipeline: beam.Pipeline, source: sources.Source,
                     split: str, spec: sources.ImageSpec) -> beam.pvalue.PCollection:
    if source.format == sources.FORMAT_FOLDERS:
        # One element per file, reshuffled before decoding so that workers share the files.
        files, _ = sources.image_files(source, split)
        return (pipeline
                | 'Files' >> beam.Create(files)
                | 'Spread' >> beam.Reshuffle()
                | 'Decode' >> beam.Map(_read_file, spec=spec))
    # Reading happens on a worker, not while the graph is built, so a 60,000-image data set is
    # never pickled into the pipeline. TFX reshuffles the examples before writing them; a
    # reshuffle here as well cost time, and slices of images reshuffled before making the
    # examples doubled the peak memory (docs/performance.md).
    return (pipeline
            | 'Split' >> beam.Create([split])
            | 'Read' >> beam.FlatMap(_read_examples, source=source, spec=spec))


def _data_check(source: sources.Source, exec_properties: Dict[str, Any]) -> sources.DataCheck:
    size = exec_properties.get(IMAGE_SIZE_KEY) or ''
    check = sources.check_source(source, imaging.parse_size(size) if size else sources.NO_SIZE,
                                 decode=False)
    if check.skipped:
        logging.warning('%d file(s) that are not images skipped: %s', len(check.skipped),
                        ', '.join(check.skipped[:5]))
    return check


class Executor(base_example_gen_executor.BaseExampleGenExecutor):
    """Reads IDX, npz, CSV or image folders and writes train/eval(/test) tf.Example splits."""

    def GetInputSourceToExamplePTransform(self) -> beam.PTransform:
        # The base class calls this for single-input-split configs only; GenerateExamplesByBeam
        # below handles every case, so this is a thin adapter kept for the abstract interface.
        @beam.ptransform_fn
        def _to_examples(pipeline, exec_properties, split_pattern):
            return pipeline | _ReadSourceSplit(self._source, sources.SOURCE_TRAIN, self._spec)
        return _to_examples

    def GenerateExamplesByBeam(self, pipeline: beam.Pipeline, exec_properties: Dict[str, Any],
                               ) -> Dict[str, beam.pvalue.PCollection]:
        source = self._source = _source(exec_properties)
        check = _data_check(source, exec_properties)
        spec = self._spec = check.spec
        logging.info(PROGRESS_MESSAGE, f'{sum(check.counts.values()):,} images to write ('
                     + ', '.join(f'{split} {n:,}' for split, n in check.counts.items()) + ')')
        result = super().GenerateExamplesByBeam(pipeline, exec_properties)
        if sources.SOURCE_TEST in source.splits:
            result[TEST_SPLIT] = pipeline | 'ReadTest' >> _ReadSourceSplit(
                source, sources.SOURCE_TEST, spec)
        # The base class named only the output config's splits on the artifact, and it checks a
        # split's name there before writing it: add `test` now, before the splits are written.
        self._examples.split_names = artifact_utils.encode_split_names(list(result))
        # Recorded on the artifact: where a location set per run pointed, and what it held.
        self._examples.set_string_custom_property('source_format', source.format)
        self._examples.set_string_custom_property('source_path', source.path)
        self._examples.set_string_custom_property(IMAGE_SPEC_PROPERTY, spec.to_json())
        # Exact copies among the images (within a split, and test copies of train images),
        # which the gate judges.
        logging.info(PROGRESS_MESSAGE, 'looking for exact copies among the images')
        self._examples.set_string_custom_property(
            DUPLICATES_PROPERTY, json.dumps(sources.find_duplicates(source, spec)))
        return result

    def Do(self, input_dict: Dict[str, List[types.Artifact]],
           output_dict: Dict[str, List[types.Artifact]], exec_properties: Dict[str, Any]) -> None:
        self._examples = artifact_utils.get_single_instance(
            output_dict[standard_component_specs.EXAMPLES_KEY])
        super().Do(input_dict, output_dict, exec_properties)
