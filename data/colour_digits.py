"""Makes a folder data set of colour "photos" of digits from the shipped MNIST digits.

    python data/colour_digits.py --out DIR [--per-class 200] [--classes 10] [--test-share 0.2]

Each digit is drawn in a random ink colour on a random paper colour with uneven light,
scaled to a random size (30-60 px), saved as PNG or JPEG in a class folder named by the digit's
word (zero, one, ...), under train/ and test/. It stands in for what a user photographs: class
folders of mixed sizes and formats, where the background is not black.
"""

import argparse
import os
import sys

import numpy as np

WORDS = ('zero', 'one', 'two', 'three', 'four', 'five', 'six', 'seven', 'eight', 'nine')


def colourize(digit: np.ndarray, rng: np.random.Generator, side: int) -> np.ndarray:
    """A 28x28 digit (0 background, 255 stroke) as an RGB image side x side."""
    from PIL import Image
    paper = rng.uniform(120, 255, 3)
    ink = paper * rng.uniform(0.0, 0.45, 3)
    resized = np.asarray(Image.fromarray(digit.astype(np.uint8)).resize(
        (side, side), Image.BILINEAR), np.float32) / 255.0
    yy, xx = np.mgrid[0:side, 0:side] / side
    light = 1.0 - rng.uniform(0, 0.35) * (rng.uniform(-1, 1) * xx + rng.uniform(-1, 1) * yy)
    image = (paper * (1 - resized[..., None]) + ink * resized[..., None]) * light[..., None]
    image += rng.normal(0, 4, image.shape)
    return np.clip(image, 0, 255).astype(np.uint8)


def make(out: str, per_class: int = 200, classes: int = 10, test_share: float = 0.2,
         seed: int = 0) -> None:
    from PIL import Image
    from image_tfx.data import sources
    images, labels = sources.read_split(
        sources.detect_source(sources.default_data_path()), sources.SOURCE_TRAIN)
    rng = np.random.default_rng(seed)
    for label in range(classes):
        chosen = np.flatnonzero(labels == label)[:per_class]
        n_test = int(round(len(chosen) * test_share))
        for i, index in enumerate(chosen):
            split = 'test' if i < n_test else 'train'
            folder = os.path.join(out, split, WORDS[label]) if test_share else \
                os.path.join(out, WORDS[label])
            os.makedirs(folder, exist_ok=True)
            side = int(rng.integers(30, 61))
            image = Image.fromarray(colourize(images[index, ..., 0], rng, side))
            if rng.random() < 0.5:
                image.save(os.path.join(folder, f'{index}.png'))
            else:
                image.save(os.path.join(folder, f'{index}.jpg'), quality=90)


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    parser.add_argument('--out', required=True)
    parser.add_argument('--per-class', type=int, default=200)
    parser.add_argument('--classes', type=int, default=10, choices=range(2, 11))
    parser.add_argument('--test-share', type=float, default=0.2)
    parser.add_argument('--seed', type=int, default=0)
    args = parser.parse_args(argv)
    make(args.out, args.per_class, args.classes, args.test_share, args.seed)
    print(f'{args.out}: {args.classes} classes x {args.per_class} images')
    return 0


if __name__ == '__main__':
    sys.exit(main())
