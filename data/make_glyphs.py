"""Makes a many-class colour image data set from the fonts Debian ships: the edge benchmark's data.

    python data/make_glyphs.py --classes 200 --out DIR [--per-font 2] [--size 64]

No 200-class photo set can be downloaded here, so this renders characters of several scripts
(Latin, Greek, Cyrillic, digits, symbols; only those every font has, and not the ones that
look alike across scripts or cases) in every font file found in FONT_DIRS, with random scale,
rotation, position, ink and paper colours, a textured background, blur and noise, as RGB
images in class folders: DIR/train/<class>/ and DIR/test/<class>/. Whole font families are held
out for the test split (TEST_FAMILIES), so its score measures recognising a glyph drawn in an
unseen typeface, not remembering one.

Fonts: `apt-get install fonts-dejavu-core fonts-dejavu-extra fonts-liberation
fonts-freefont-ttf` (.ci/run installs them).
"""

import argparse
import hashlib
import os
import sys
import unicodedata
from typing import Dict, List, Sequence

import numpy as np

FONT_DIRS = ('/usr/share/fonts/truetype/dejavu', '/usr/share/fonts/truetype/liberation',
             '/usr/share/fonts/truetype/freefont')
# Designs held out for the test split: a sans (with its narrow cut), a serif, a monospace.
TEST_FAMILIES = ('LiberationSans', 'LiberationSansNarrow', 'FreeSerif', 'DejaVuSansMono')
# In order of preference. Left out: letters drawn alike in another script or case (Greek
# Alpha, Cyrillic A, o/O/0, c/C, l/I/1, ...), which no model can tell apart in an unseen font.
CANDIDATES = (
    'ABDEFGHJKLMNQRTY' 'abdefghijkmnqrtuy' '2345679'
    'ΓΔΘΛΞΠΣΦΨΩ' 'αβγδεζηθλμξπρσςτφχψω'
    'БГДЖЗИЙЛПФЦЧШЩЪЫЬЭЮЯ' 'бгджзийлпфцчшщъыьэюя'
    '+=<>%&@#$€£¥§¶©®?!*/\\()[]{}~^|±×÷≠≤≥∞√∑∫∂∆∇∏∈∉∩∪⊂⊃∧∨¬∀∃≈≡∝°′″‰†‡•…←↑→↓↔↕⇐⇒⇔♠♣♥♦♪♫☺☼★☆■□▲△▼▽◆◇○●◊'
    'ÆŒØÞßæœøþðĦħŁłŊŋ' 'ϑϕϖϰϱ'
    'ÄÖÜÅÑÉÈÊËÎÔÛÙÚÝŽŠČĆŘĚŇŤĎŮŐŰĞŞ' 'äöüåñéèêëîôûùúýžščćřěňťďůőűğş' 'ЂЃЄЅЉЊЋЌЎЏђѓєљњћќўџ' 'ѢѣѲѳѴѵ'
    '¼½¾¿«»¢¤ƒĄĘ'
)
# Also left out, though every font draws them: characters that, scaled and turned as render()
# does, are drawn as another candidate is. Lowercase Cyrillic letters are small capitals
# (ш/Ш, я/Я) or italic Latin ones (и/u, д/g); Г, П, Ф, ∆, ∑ and ∏ are drawn as Γ, Π, Φ, Δ, Σ
# and Π; З as 3; ø as Ø; θ and ψ as Θ and Ψ; Ѳ as Θ; ϱ as ρ; ћ and ђ as ħ; and accented
# lowercase letters whose capital is a candidate and whose base letter is left out above
# (ö/Ö, š/Š, ú/Ú, ...). A model trained on the earlier list confused exactly these pairs most.
LOOK_ALIKES = frozenset('бгджзийлпфцчшщъыьэюя' 'ГПФЗ' '∆∑∏' 'øθψϱћђѲѳ'
                        'öüžščćůőűşîôûùú' 'ѓєљњќўџѣѵ')


def font_files() -> List[str]:
    found = []
    for folder in FONT_DIRS:
        if os.path.isdir(folder):
            found += [os.path.join(folder, name) for name in sorted(os.listdir(folder))
                      if name.lower().endswith(('.ttf', '.otf'))]
    # DejaVu's math font holds symbols only.
    return [path for path in found if 'Math' not in os.path.basename(path)]


_STYLES = ('Regular', 'Bold', 'Oblique', 'Italic')


def family(path: str) -> str:
    """A font file's design: 'DejaVuSans-BoldOblique.ttf' and 'FreeSerifBoldItalic.ttf' are
    DejaVuSans and FreeSerif."""
    name = os.path.basename(path).split('-')[0].split('.')[0]
    while name.endswith(_STYLES):
        name = name[:-len(next(s for s in _STYLES if name.endswith(s)))]
    return name


def _has_glyph(font, char: str, missing: bytes) -> bool:
    mask = font.getmask(char)
    if mask.getbbox() is None:
        return False
    return bytes(mask) != missing


def glyphs(fonts: Sequence[str], count: int) -> List[str]:
    """The first `count` candidates that every font draws (not as its missing-glyph box)."""
    from PIL import ImageFont
    loaded = [ImageFont.truetype(path, 48) for path in fonts]
    missing = [bytes(font.getmask('\U0010FFFD')) for font in loaded]
    chosen = [c for c in dict.fromkeys(CANDIDATES) if c not in LOOK_ALIKES
              and all(_has_glyph(font, c, m) for font, m in zip(loaded, missing))]
    if len(chosen) < count:
        raise SystemExit(f'error: only {len(chosen)} characters are drawn by all {len(fonts)} '
                         f'fonts; ask for --classes {len(chosen)} or fewer')
    return chosen[:count]


def class_name(char: str) -> str:
    """A folder name for a character: its Unicode name, made file-safe."""
    name = unicodedata.name(char, f'U+{ord(char):04X}').lower()
    return ''.join(c if c.isalnum() else '_' for c in name)


def _texture(rng: np.random.Generator, size: int) -> np.ndarray:
    from PIL import Image
    coarse = rng.uniform(-1, 1, (4, 4)).astype(np.float32)
    smooth = np.asarray(Image.fromarray(coarse, mode='F').resize((size, size), Image.BICUBIC))
    return smooth


def render(char: str, font_path: str, rng: np.random.Generator, size: int) -> np.ndarray:
    """One RGB image [size, size, 3] of a character, randomly drawn."""
    from PIL import Image, ImageDraw, ImageFilter, ImageFont
    paper = rng.uniform(0, 255, 3)
    ink = rng.uniform(0, 255, 3)
    while abs((paper - ink) @ np.array([0.299, 0.587, 0.114])) < 90:  # legible contrast
        ink = rng.uniform(0, 255, 3)
    canvas = size * 2
    font = ImageFont.truetype(font_path, int(canvas * rng.uniform(0.45, 0.8)))
    layer = Image.new('L', (canvas, canvas), 0)
    draw = ImageDraw.Draw(layer)
    left, top, right, bottom = draw.textbbox((0, 0), char, font=font)
    draw.text(((canvas - (right - left)) / 2 - left, (canvas - (bottom - top)) / 2 - top), char,
              fill=255, font=font)
    layer = layer.rotate(rng.uniform(-20, 20), resample=Image.BILINEAR)
    shift = rng.uniform(-0.12, 0.12, 2) * canvas
    layer = layer.transform(layer.size, Image.AFFINE, (1, 0, shift[0], 0, 1, shift[1]),
                            resample=Image.BILINEAR)
    mask = np.asarray(layer.resize((size, size), Image.BILINEAR), np.float32)[..., None] / 255
    background = paper + 40 * _texture(rng, size)[..., None] * rng.uniform(0.3, 1, 3)
    image = background * (1 - mask) + ink * mask
    image += rng.normal(0, rng.uniform(2, 10), image.shape)
    picture = Image.fromarray(np.clip(image, 0, 255).astype(np.uint8))
    if rng.random() < 0.3:
        picture = picture.filter(ImageFilter.GaussianBlur(rng.uniform(0.3, 1.0)))
    return np.asarray(picture)


def make(out: str, classes: int = 200, per_font: int = 2, size: int = 64,
         seed: int = 0) -> Dict[str, int]:
    """Writes the data set; returns the image count per split."""
    from PIL import Image
    fonts = font_files()
    if not any(family(f) in TEST_FAMILIES for f in fonts) or \
            all(family(f) in TEST_FAMILIES for f in fonts):
        raise SystemExit(f'error: need fonts of the held-out families {TEST_FAMILIES} and of '
                         f'others in {FONT_DIRS} (apt-get install fonts-dejavu-core '
                         'fonts-liberation fonts-freefont-ttf)')
    chars = glyphs(fonts, classes)
    counts = {'train': 0, 'test': 0}
    for char in chars:
        name = class_name(char)
        for font_path in fonts:
            split = 'test' if family(font_path) in TEST_FAMILIES else 'train'
            folder = os.path.join(out, split, name)
            os.makedirs(folder, exist_ok=True)
            # Seeded by character and font: the same command writes the same images.
            key = hashlib.sha256(f'{seed}:{char}:{os.path.basename(font_path)}'.encode())
            rng = np.random.default_rng(int.from_bytes(key.digest()[:8], 'little'))
            for i in range(per_font):
                image = render(char, font_path, rng, size)
                base = os.path.splitext(os.path.basename(font_path))[0]
                Image.fromarray(image).save(os.path.join(folder, f'{base}-{i}.png'))
                counts[split] += 1
    return counts


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    parser.add_argument('--out', required=True)
    parser.add_argument('--classes', type=int, default=200)
    parser.add_argument('--per-font', type=int, default=2,
                        help='images of each character in each font file (default 2)')
    parser.add_argument('--size', type=int, default=64, help='image side in pixels (default 64)')
    parser.add_argument('--seed', type=int, default=0)
    args = parser.parse_args(argv)
    if args.classes < 2 or args.per_font < 1 or args.size < 16:
        parser.error('--classes must be >= 2, --per-font >= 1, --size >= 16')
    counts = make(args.out, args.classes, args.per_font, args.size, args.seed)
    print(f'{args.out}: {args.classes} classes; train {counts["train"]:,} images, test '
          f'{counts["test"]:,} images (held-out font families: {", ".join(TEST_FAMILIES)})')
    return 0


if __name__ == '__main__':
    sys.exit(main())
