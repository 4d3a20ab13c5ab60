#!/usr/bin/env python3
"""Toy labelled image set in CUB-200-2011's layout, for end-to-end, kill -9 and resume tests of the vision task.

Source photos: the scikit-image wheel's skimage/data/ (licences from the docstrings of skimage/data/_fetchers.py):
chelsea.png CC0 (Stefan van der Walt), coffee.png CC0 (Rachel Michetti), astronaut.png NASA public domain,
rocket.jpg SpaceX public domain, horse.png "no known copyright restrictions". motorcycle_left.png is left out on
purpose (Middlebury stereo 2014, no licence stated).

Usage: python scripts/make-toy-cub.py <scikit_image-*.whl> <out dir>   (needs Pillow; `pip download --no-deps
scikit-image` gives the wheel). Deterministic: same wheel, same Pillow -> same bytes.
Output: <out>/CUB_200_2011/{images.txt,image_class_labels.txt,train_test_split.txt,classes.txt,images/NNN.Name/*.jpg}
5 classes x 4 images (image 1 of each class is the train split, images 2-4 the test split), 64-112 px JPEGs.
"""
import io
import sys
import zipfile
from pathlib import Path

from PIL import Image, ImageOps

CLASSES = [
    ("001.Tabby_Cat", "chelsea.png"),
    ("002.Coffee_Cup", "coffee.png"),
    ("003.Astronaut", "astronaut.png"),
    ("004.Rocket_Launch", "rocket.jpg"),
    ("005.Horse_Silhouette", "horse.png"),
]


def variants(img: Image.Image):
    w, h = img.size
    s = min(w, h)
    yield img.resize((112, int(112 * h / w)), Image.BICUBIC)  # whole photo, landscape
    yield ImageOps.mirror(img).resize((96, int(96 * h / w)), Image.BICUBIC)  # flipped
    yield img.crop(((w - s) // 2, (h - s) // 2, (w + s) // 2, (h + s) // 2)).resize((80, 80), Image.BICUBIC)  # centre
    yield img.crop((0, 0, int(w * 0.7), int(h * 0.8))).resize((64, int(64 * 0.8 * h / (0.7 * w))), Image.BICUBIC)  # corner


def main(wheel: str, out: str) -> None:
    root = Path(out) / "CUB_200_2011"
    (root / "images").mkdir(parents=True, exist_ok=True)
    images, labels, split, classes = [], [], [], []
    img_id = 0
    with zipfile.ZipFile(wheel) as z:
        for ci, (folder, name) in enumerate(CLASSES, start=1):
            classes.append(f"{ci} {folder}")
            src = Image.open(io.BytesIO(z.read(f"skimage/data/{name}"))).convert("RGB")
            (root / "images" / folder).mkdir(exist_ok=True)
            for vi, im in enumerate(variants(src), start=1):
                img_id += 1
                rel = f"{folder}/{folder.split('.')[1]}_{vi:04d}.jpg"
                im.save(root / "images" / rel, "JPEG", quality=75, optimize=True)
                images.append(f"{img_id} {rel}")
                labels.append(f"{img_id} {ci}")
                split.append(f"{img_id} {1 if vi == 1 else 0}")
    for fname, rows in [("images.txt", images), ("image_class_labels.txt", labels), ("train_test_split.txt", split), ("classes.txt", classes)]:
        (root / fname).write_text("\n".join(rows) + "\n")
    (Path(out) / "SOURCE.md").write_text(
        "Toy CUB-layout set made by scripts/make-toy-cub.py from scikit-image 0.26.0's skimage/data/.\n\n"
        "| class | source | licence |\n|---|---|---|\n"
        "| Tabby Cat | chelsea.png (Stefan van der Walt) | CC0 |\n"
        "| Coffee Cup | coffee.png (Rachel Michetti) | CC0 |\n"
        "| Astronaut | astronaut.png (NASA, Eileen Collins) | public domain |\n"
        "| Rocket Launch | rocket.jpg (SpaceX) | public domain |\n"
        "| Horse Silhouette | horse.png | no known copyright restrictions |\n\n"
        "Each class: 4 resized / flipped / cropped JPEG variants; image 1 is train, 2-4 test.\n"
    )


if __name__ == "__main__":
    main(sys.argv[1], sys.argv[2])
