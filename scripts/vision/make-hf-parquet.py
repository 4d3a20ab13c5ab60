#!/usr/bin/env python3
"""Small parquet files in the layout of the HF hub's Multimodal-Fatima/StanfordCars_{test,train}: columns
image (struct<bytes: binary, path: string>, the `datasets` Image feature), label (int64, ClassLabel) and one of the
extra text columns, with the `huggingface` schema metadata that holds features["label"].names. Serves
tests/vision.data.test.ts's local HTTP hub. Images are 24-32 px re-encodings of the toy CUB JPEGs (CC0 / public domain).

Usage: python scripts/vision/make-hf-parquet.py tests/fixtures/toy-cub tests/fixtures/hf-parquet   (pyarrow, Pillow)
"""
import io
import json
import sys
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq
from PIL import Image

NAMES = ["AM General Hummer SUV 2000", "Acura RL Sedan 2012", "Acura TL Sedan 2012"]
SOURCES = ["001.Tabby_Cat", "002.Coffee_Cup", "003.Astronaut"]


def jpeg(path: Path, size: int) -> bytes:
    im = Image.open(path).convert("RGB").resize((size, size + 20), Image.BICUBIC)
    buf = io.BytesIO()
    im.save(buf, "JPEG", quality=70)
    return buf.getvalue()


def write(out: Path, rows, names):
    features = {"image": {"_type": "Image"}, "label": {"names": names, "_type": "ClassLabel"}, "clip_tags_ViT_L_14": {"feature": {"dtype": "string", "_type": "Value"}, "_type": "Sequence"}}
    schema = pa.schema(
        [("image", pa.struct([("bytes", pa.binary()), ("path", pa.string())])), ("label", pa.int64()), ("clip_tags_ViT_L_14", pa.list_(pa.string()))],
        metadata={"huggingface": json.dumps({"info": {"features": features}})},
    )
    table = pa.table(
        {
            "image": [{"bytes": b, "path": p} for b, p, _ in rows],
            "label": [l for _, _, l in rows],
            "clip_tags_ViT_L_14": [["a tag", "another"] for _ in rows],
        },
        schema=schema,
    )
    pq.write_table(table, out, row_group_size=2, compression="snappy")


def main(toy: str, out: str) -> None:
    o = Path(out)
    o.mkdir(parents=True, exist_ok=True)
    imgs = Path(toy) / "CUB_200_2011" / "images"
    test = [(jpeg(imgs / s / f"{s.split('.')[1]}_{v:04d}.jpg", 24 + 4 * v), f"img_{i}_{v}.jpg", i) for i, s in enumerate(SOURCES) for v in (2, 3)]
    train = [(jpeg(imgs / s / f"{s.split('.')[1]}_0001.jpg", 24), f"train_{i}.jpg", i) for i, s in enumerate(SOURCES)]
    write(o / "test-00000-of-00001.parquet", test, NAMES)
    write(o / "train-00000-of-00001.parquet", train, NAMES)
    write(o / "train-other-names.parquet", train, NAMES[:2] + ["Acura TL Type-S 2008"])


if __name__ == "__main__":
    main(sys.argv[1], sys.argv[2])
