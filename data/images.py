"""Image files and pixel arrays brought to one shape: the data layer's single resize.

ExampleGen decodes class-folder images with these functions, and `predict` prepares a photo
with the same ones, so that a served image is sized the way training images were. Pixels
stay 0-255 integers (as in MNIST's arrays) so that the data checks see pixel values.
"""

from __future__ import annotations

import io
from typing import BinaryIO, Tuple

import numpy as np

# What ExampleGen reads from a class folder; anything else there is named and skipped.
IMAGE_EXTENSIONS = ('.png', '.jpg', '.jpeg', '.bmp', '.gif', '.tif', '.tiff', '.webp')
GRAY, RGB = 1, 3
CHANNELS = (GRAY, RGB)
# PIL modes without colour: an image in one of these adds no colour channel to the data set.
_GRAY_MODES = {'1', 'L', 'LA', 'I', 'I;16', 'I;16B', 'I;16L', 'I;16N', 'F', 'La'}
# Largest side when a data set's own size is taken (no --image-size): beyond it training on 2
# cores is impractical and the edge model's budgets cannot be met.
MAX_SIDE = 512


# EXIF orientations that turn the stored pixels a quarter turn: width and height swap.
_QUARTER_TURNS = (5, 6, 7, 8)
_ORIENTATION_TAG = 0x0112
# Modes of more than 8 bits per pixel (16-bit PNG and TIFF scans, 32-bit integer or float TIFF).
_WIDE_MODES = ('I;16', 'I;16B', 'I;16L', 'I;16N', 'I', 'F')
# Bit depths a wide image is taken to use: the smallest that holds its largest value.
_BIT_DEPTHS = (8, 10, 12, 14, 16)


class ImageError(ValueError):
    """A file that is not a readable image; the message says why (without the path)."""


def is_image_name(name: str) -> bool:
    return name.lower().endswith(IMAGE_EXTENSIONS)


def _pil():
    from PIL import Image
    return Image


def header(file: BinaryIO) -> Tuple[int, int, int]:
    """(height, width, channels) of an encoded image from its header, without decoding it
    (PIL reads only the first bytes of the file object)."""
    try:
        with _pil().open(file) as image:
            width, height = image.size
            if _orientation(image) in _QUARTER_TURNS:
                width, height = height, width
            mode = image.mode
            if mode == 'P':
                mode = 'RGB' if _palette_has_colour(image) else 'L'
    except Exception as e:  # PIL raises many types for one cause: not an image it can read
        raise ImageError(f'not a readable image ({type(e).__name__}: {e})') from None
    return height, width, GRAY if mode in _GRAY_MODES else RGB


def _orientation(image) -> int:
    """The EXIF Orientation tag (1 upright, 6 a phone held upright, ...); 1 without one."""
    try:
        return int(image.getexif().get(_ORIENTATION_TAG, 1))
    except Exception:  # a broken EXIF block: the pixels as stored
        return 1


def _eight_bit(image) -> np.ndarray:
    """A gray image of more than 8 bits as uint8, scaled by the bit depth its values use (the
    smallest of 8, 10, 12, 14, 16 bits holding its largest value; a float image by its range),
    not clipped at 255 as PIL's conversion does."""
    values = np.asarray(image, dtype=np.float64)
    if image.mode == 'F':
        low, high = float(values.min()), float(values.max())
        scaled = (values - low) / (high - low) if high > low else np.zeros_like(values)
        return np.round(scaled * 255).astype(np.uint8)
    values = np.clip(values, 0, None)
    top = float(values.max())
    depth = next((bits for bits in _BIT_DEPTHS if top <= 2 ** bits - 1), 16)
    return np.round(np.clip(values, 0, 2 ** depth - 1) * 255 / (2 ** depth - 1)).astype(
        np.uint8)


def _palette_has_colour(image) -> bool:
    palette = np.frombuffer(bytes(image.getpalette() or []), np.uint8)
    rgb = palette[:len(palette) // 3 * 3].reshape(-1, 3)
    return bool(np.any(rgb.max(axis=1) != rgb.min(axis=1)))


def decode(raw: bytes, channels: int) -> np.ndarray:
    """An encoded image (PNG, JPEG, BMP, GIF, TIFF, WebP: its first frame) as uint8
    [H, W, channels], turned upright as its EXIF orientation says (as every viewer shows a
    phone's photo), more than 8 bits per pixel scaled down to 8 (see _eight_bit)."""
    try:
        with _pil().open(io.BytesIO(raw)) as image:
            image.load()
            if _orientation(image) != 1:
                from PIL import ImageOps
                image = ImageOps.exif_transpose(image)
            if image.mode in _WIDE_MODES:
                image = _pil().fromarray(_eight_bit(image), mode='L')
            if image.mode in ('RGBA', 'LA', 'PA') or (image.mode == 'P' and
                                                      'transparency' in image.info):
                # Transparent pixels over white, as a viewer shows them (their hidden colour
                # is often black, which would turn a drawing on nothing into a black square).
                rgba = image.convert('RGBA')
                background = _pil().new('RGBA', rgba.size, (255, 255, 255, 255))
                image = _pil().alpha_composite(background, rgba)
            converted = image.convert('L' if channels == GRAY else 'RGB')
    except Exception as e:  # truncated, corrupt or unsupported data: one cause for the user
        raise ImageError(f'not a readable image ({type(e).__name__}: {e})') from None
    array = np.asarray(converted, dtype=np.uint8)
    return array[..., None] if channels == GRAY else array


def to_shape(image: np.ndarray, shape: Tuple[int, int, int]) -> np.ndarray:
    """One image [H, W, C] (any numbers) brought to `shape` (height, width, channels).

    Colour becomes gray by ITU-R 601 luma (as PIL's 'L'); gray becomes colour by repeating it.
    Sizes change by bilinear resampling with antialiasing (PIL's, per channel, in float32);
    integer images come back as integers, rounded.
    """
    height, width, channels = shape
    image = np.asarray(image)
    if image.ndim == 2:
        image = image[..., None]
    integer = image.dtype.kind in 'iub'
    out = image.astype(np.float32)
    if out.shape[-1] != channels:
        if channels == GRAY:
            out = (out[..., :3] @ np.array([0.299, 0.587, 0.114], np.float32))[..., None]
        else:
            out = np.repeat(out[..., :1], channels, axis=-1)
    if out.shape[:2] != (height, width):
        Image = _pil()
        out = np.stack([np.asarray(Image.fromarray(out[..., c], mode='F').resize(
            (width, height), Image.BILINEAR)) for c in range(channels)], axis=-1)
    if integer:
        out = np.clip(np.round(out), 0, 255).astype(image.dtype if image.dtype.kind != 'b'
                                                     else np.uint8)
    return out


def parse_size(text: str) -> Tuple[int, int, int]:
    """'HxW' or 'HxWxC' (C 1 or 3) -> (height, width, channels or 0 for the data's own)."""
    parts = text.lower().split('x')
    try:
        numbers = [int(p) for p in parts]
    except ValueError:
        numbers = []
    if len(numbers) not in (2, 3) or min(numbers[:2]) < 1 or max(numbers[:2]) > 4096 or (
            len(numbers) == 3 and numbers[2] not in CHANNELS):
        raise ValueError(f'{text!r}: expected HEIGHTxWIDTH or HEIGHTxWIDTHxCHANNELS (channels '
                         '1 or 3), e.g. 64x64 or 96x96x3')
    return numbers[0], numbers[1], numbers[2] if len(numbers) == 3 else 0
