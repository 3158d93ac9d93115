"""How well a digit model reads colour photos of digits through `predict`'s preparation.

    python data/colour_digits.py --out /tmp/photos --per-class 100 --test-share 0
    python bench/photo_bench.py outputs/serving/mnist/<version> /tmp/photos [--format int8]

A benchmark, not a test: for every image of a folder data set of digits (class folders named
zero ... nine, as data/colour_digits.py writes them, or 0 ... 9), it prepares the image as
`predict` does, with and without taking the background level away, runs the pushed model, and
prints the accuracy of both.
"""

import argparse
import sys

import numpy as np

WORDS = ('zero', 'one', 'two', 'three', 'four', 'five', 'six', 'seven', 'eight', 'nine')


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split('\n\n')[0])
    parser.add_argument('version_dir')
    parser.add_argument('photos', help='class folders zero..nine (or 0..9) of images')
    parser.add_argument('--format', default='int8', choices=('int8', 'float32', 'savedmodel'))
    args = parser.parse_args(argv)
    from image_tfx.tools import predict
    from image_tfx.data import images as imaging
    from image_tfx.data import sources
    source = sources.detect_source(args.photos)
    names = sources.class_folders(source)
    digit = {i: (WORDS.index(n) if n in WORDS else int(n)) for i, n in enumerate(names)}
    model = predict.Model(args.version_dir, args.format)
    files, _ = sources.image_files(source, sources.SOURCE_TRAIN)
    correct = {True: 0, False: 0}
    for path, label in files:
        rgb = sources.read_image(path, imaging.RGB)
        gray = imaging.to_shape(rgb, (*rgb.shape[:2], 1))[..., 0]
        for remove in (True, False):
            image = predict.mnist_style(gray, remove_background=remove)[..., None]
            probabilities, _ = model.predict(image)
            correct[remove] += int(np.argmax(probabilities) == digit[label])
    n = len(files)
    print(f'{n} photos, {args.format} model {args.version_dir}')
    print(f'  background removed and contrast stretched (predict): {correct[True] / n:.3f}')
    print(f'  without taking the background away:                   {correct[False] / n:.3f}')
    return 0


if __name__ == '__main__':
    sys.exit(main())
