"""ImageExampleGen's executor run directly on a small folder data set (no pipeline)."""

import json
import logging
import os

import numpy as np
from PIL import Image

from image_tfx.components.artifacts import DUPLICATES_PROPERTY, IMAGE_SPEC_PROPERTY
from image_tfx.components.image_example_gen.component import ImageExampleGen
from image_tfx.components.image_example_gen.executor import Executor
from image_tfx.data import sources
from image_tfx.model.params import PROGRESS_MESSAGE


def _folders(root, digits):
    images, labels = digits
    for split, start in (('train', 0), ('test', 60)):
        for i in range(start, start + 40 if split == 'train' else start + 10):
            folder = root / split / str(int(labels[i]))
            folder.mkdir(parents=True, exist_ok=True)
            Image.fromarray(images[i]).save(folder / f'{i}.png')
    # Two test images are copies of train images, under other names.
    for i in (3, 7):
        folder = root / 'test' / str(int(labels[i]))
        folder.mkdir(parents=True, exist_ok=True)
        Image.fromarray(images[i]).save(folder / f'copy-{i}.png')
    return str(root)


class _Lines(logging.Handler):
    def __init__(self):
        super().__init__(logging.INFO)
        self.lines = []

    def emit(self, record):
        if record.msg == PROGRESS_MESSAGE:
            self.lines.append(record.args[0])


def _run(data, out, log_records):
    """Runs the executor on a data set; returns (the Examples artifact, its progress lines)."""
    from tfx.types import standard_artifacts
    source = sources.detect_source(data)
    component = ImageExampleGen(input_base=source.base, source_format=source.format,
                                pattern=source.pattern)
    properties = dict(component.exec_properties)  # the configs already as JSON, as TFX passes
    properties['beam_pipeline_args'] = ['--direct_running_mode=in_memory',
                                        '--direct_num_workers=1']
    examples = standard_artifacts.Examples()
    examples.uri = str(out)
    with log_records(_Lines()) as handler:
        Executor().Do({}, {'examples': [examples]}, properties)
    return examples, handler


def test_example_gen_writes_splits_and_records_spec_copies_and_counts(tmp_path, digits,
                                                                    log_records):
    examples, handler = _run(_folders(tmp_path / 'data', digits), tmp_path / 'examples',
                             log_records)

    assert sorted(json.loads(examples.split_names)) == ['eval', 'test', 'train']
    for split in ('train', 'eval', 'test'):
        assert os.listdir(os.path.join(examples.uri, f'Split-{split}'))
    spec = json.loads(examples.get_string_custom_property(IMAGE_SPEC_PROPERTY))
    assert spec['shape'] == [28, 28, 1], spec
    copies = json.loads(examples.get_string_custom_property(DUPLICATES_PROPERTY))
    assert copies['across'] == {'train/test': 2}, copies
    assert sorted(os.path.basename(copy) for copy, _ in copies['across_examples']) == \
        ['copy-3.png', 'copy-7.png']
    # What the local runner shows as progress lines: the counts, before the long part.
    assert handler.lines[0] == '52 images to write (train 40, test 12)', handler.lines
    assert 'looking for exact copies among the images' in handler.lines


def test_arrays_give_every_image_once(tmp_path, digits, log_records, monkeypatch):
    """Every image of an array data set is written once, train and eval together holding the
    train images and test the test images."""
    from image_tfx.components import artifacts
    from image_tfx.components.artifacts import read_examples
    from image_tfx.components.image_example_gen import executor
    monkeypatch.setattr(artifacts, 'READ_BATCH', 500)  # several batches per split
    images, labels = digits
    count = 2007
    data = tmp_path / 'digits.npz'
    np.savez(data, x_train=images[:count], y_train=labels[:count],
             x_test=images[count:count + 50], y_test=labels[count:count + 50])
    examples, _ = _run(str(data), tmp_path / 'examples', log_records)
    written = {split: read_examples(examples, split) for split in ('train', 'eval', 'test')}
    assert sum(len(written[s][2]) for s in ('train', 'eval')) == count
    assert len(written['test'][2]) == 50
    # The same images, each once: pixel bytes with labels, as a multiset.
    expected = sorted(images[i].tobytes() + bytes([labels[i]]) for i in range(count))
    got = sorted(pixels.astype(np.uint8).tobytes() + bytes([int(label)])
                 for s in ('train', 'eval') for pixels, label in zip(written[s][1], written[s][2]))
    assert got == expected
    # Read back compactly (uint8), and the first records alone when asked.
    assert written['train'][1].dtype == np.uint8
    first = read_examples(examples, 'train', limit=700)
    assert first[0] == written['train'][0][:700]
    assert np.array_equal(first[1], written['train'][1][:700])
    assert np.array_equal(first[2], written['train'][2][:700])
    # Each in the split TFX's hash puts the tf.Example itself in (4 train buckets, 1 eval):
    # handing TFX serialized examples changed no split.
    from tfx.components.example_gen.base_example_gen_executor import _PartitionFn
    from tfx.proto import example_gen_pb2
    config = example_gen_pb2.SplitConfig()
    for index, split in enumerate(('train', 'eval')):
        for pixels, label in zip(written[split][1], written[split][2]):
            example = executor.to_example(pixels.astype(np.uint8), int(label))
            assert _PartitionFn(example, 2, [4, 5], config) == index
