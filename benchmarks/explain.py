"""Explanations: what they cost next to the prediction they explain, and whether they point at the right
place, measured side by side in one run.

    uv run python benchmarks/explain.py [--digits N] [--reviews N]

- Images: a digit classifier trained here (tests/explain_support.py: timm's test_efficientnet, the
  fine-tuned folder format) and its ONNX export. Held-back digits pasted at a known place (slot 0, 1
  or 2, across or upright) into a canvas three digits long: the share of each map's mass inside the
  digit's box (a third by chance), for Grad-CAM on the PyTorch model and occlusion on the ONNX export;
  and the seconds of each map against one prediction of the same image (`image.classify`).
- Texts: a sentiment classifier trained here on 80 % of the generated reviews; on the held-back 20 %,
  the share whose top word (integrated gradients) is a sentiment word, the median relative delta, and
  the seconds of an explanation against one classification.
Prints one JSON object last.
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests"))

import explain_support as es  # noqa: E402
from playground.core import image, onnx_export, text  # noqa: E402
from playground.core.explain import image as explain_image, text as explain_text  # noqa: E402
from playground.core.jobs import JobContext  # noqa: E402
from train_support import NEGATIVE, POSITIVE  # noqa: E402


def timed(fn):
    t0 = time.perf_counter()
    out = fn()
    return out, time.perf_counter() - t0


def images(root: Path, n: int) -> dict:
    ctx = JobContext()
    folder, held = es.train_digit_classifier(root / "digits")
    onnx = root / "digits.onnx"
    onnx_export.export(ctx, str(folder), onnx)
    pics, labels = es.digit_images()
    shares = {"grad-cam": [], "onnx occlusion": []}
    seconds = {"predict": [], "grad-cam": [], "predict onnx": [], "onnx occlusion": []}
    for k, i in enumerate(held[:n]):
        canvas, box = es.paste(pics[i], k % 3, vertical=k % 2 == 1)
        path = root / f"c{k}.png"
        canvas.save(path)
        for model, name, predict in ((str(folder), "grad-cam", "predict"), (str(onnx), "onnx occlusion", "predict onnx")):
            _, s = timed(lambda m=model: image.classify(ctx, [str(path)], m, top_k=1, thumbnails=False))
            seconds[predict].append(s)
            result, s = timed(lambda m=model: explain_image.explain(ctx, str(path), m, class_index=labels[i]))
            seconds[name].append(s)
            shares[name].append(es.mass_in_box(result.heatmap, box))
    return {"digits": len(shares["grad-cam"]),
            "mass_in_box": {k: round(statistics.mean(v), 3) for k, v in shares.items()},
            "mass_in_box_min": {k: round(min(v), 3) for k, v in shares.items()},
            "median_s": {k: round(statistics.median(v), 4) for k, v in seconds.items()},
            "grad_cam_over_predict": round(statistics.median(seconds["grad-cam"]) / statistics.median(seconds["predict"]), 1),
            "onnx_occlusion_over_predict": round(statistics.median(seconds["onnx occlusion"])
                                                 / statistics.median(seconds["predict onnx"]), 1)}


def texts(root: Path, n: int) -> dict:
    ctx = JobContext()
    folder, held = es.sentiment_classifier(root / "reviews")
    held = held[:n]
    sentiment = set(POSITIVE + NEGATIVE)
    hits, deltas, predict_s, explain_s = 0, [], [], []
    for review, _label in held:
        _, s = timed(lambda r=review: text.classify(ctx, [r], folder))
        predict_s.append(s)
        why, s = timed(lambda r=review: explain_text.explain_classification(ctx, r, folder))
        explain_s.append(s)
        hits += why.top(1)[0].token in sentiment
        deltas.append(why.relative_delta)
    return {"reviews": len(held), "top_word_is_sentiment": round(hits / len(held), 3),
            "median_relative_delta": float(f"{statistics.median(deltas):.2g}"),
            "median_s": {"classify": round(statistics.median(predict_s), 4),
                         "integrated gradients": round(statistics.median(explain_s), 4)},
            "explain_over_classify": round(statistics.median(explain_s) / statistics.median(predict_s), 1)}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--digits", type=int, default=60, help="held-back digits to paste (default 60)")
    ap.add_argument("--reviews", type=int, default=24, help="held-back reviews (default 24: all of them)")
    args = ap.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        out = {"images": images(Path(tmp), args.digits), "texts": texts(Path(tmp), args.reviews)}
    im, tx = out["images"], out["texts"]
    print(f"digits pasted at known places ({im['digits']}): mass in the digit's box "
          f"grad-cam {im['mass_in_box']['grad-cam']:.2f}, ONNX occlusion {im['mass_in_box']['onnx occlusion']:.2f} "
          "(a third by chance)")
    print(f"  seconds (median): {im['median_s']}; grad-cam / predict {im['grad_cam_over_predict']}x, "
          f"ONNX occlusion / predict {im['onnx_occlusion_over_predict']}x")
    print(f"held-back reviews ({tx['reviews']}): top word carries the sentiment in {tx['top_word_is_sentiment']:.0%}, "
          f"median relative delta {tx['median_relative_delta']}")
    print(f"  seconds (median): {tx['median_s']}; explain / classify {tx['explain_over_classify']}x")
    print(json.dumps(out))


if __name__ == "__main__":
    main()
