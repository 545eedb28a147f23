"""Reference values of the caption metrics, from the COCO caption evaluation itself.

Runs `pycocoevalcap` (PyPI; METEOR needs Java) on fixed candidate / reference caption sets and
writes `__test__/fixtures/caption-metrics.json`, which `__test__/caption-metrics.spec.ts` checks our
implementation (`src/eval/caption-metrics.ts`) against. Run once, commit the JSON:

    bash scripts/reference/caption-metrics.sh

The captions are already tokenised (lower case, space separated), so the scorers see exactly the
tokens our implementation sees; the PTB tokenizer step of `COCOEvalCap` is not involved.
"""

import json
import sys
from pathlib import Path

from pycocoevalcap.bleu.bleu import Bleu
from pycocoevalcap.cider.cider import Cider
from pycocoevalcap.meteor.meteor import Meteor
from pycocoevalcap.rouge.rouge import Rouge

# Each set: a list of (candidate, [references]). Chosen to exercise the corners: exact matches,
# no overlap, short candidates (brevity penalty), repeated words (clipping), different reference
# counts, candidates longer than every reference, shared n-grams across the corpus (idf).
SETS = {
    "demo-like": [
        ("a red circle moves left", ["a red circle moves left", "the red circle moves to the left"]),
        ("a blue square moves right", ["a green square moves right", "a green box slides right"]),
        ("a red square", ["a red square moves up", "a red square goes up the screen", "red square moving up"]),
        ("a yellow triangle moves down", ["a yellow triangle moves down"]),
        ("circle circle circle circle", ["a blue circle moves down", "the blue circle falls"]),
        ("a green triangle moves up slowly across the whole screen", ["a green triangle moves up", "green triangle rising"]),
        ("a shape moves", ["a purple circle moves left", "the purple circle drifts left", "purple circle to the left"]),
        ("nothing here matches", ["a blue square moves up", "blue square going up"]),
    ],
    "cooking": [
        ("add the onions to the pan", ["add chopped onions to the pan", "put the onions in the hot pan"]),
        ("stir the sauce", ["stir the sauce until it thickens", "keep stirring the sauce"]),
        ("cut the tomatoes into small pieces", ["dice the tomatoes", "cut tomatoes into small cubes", "chop the tomatoes into small pieces"]),
        ("pour the batter into the pan", ["pour the batter into a greased pan"]),
        ("season with salt and pepper", ["season the meat with salt and pepper", "add salt and pepper to taste"]),
        ("the the the pan pan", ["heat oil in the pan", "heat the pan with oil"]),
    ],
}


def score(pairs):
    gts = {i: refs for i, (_, refs) in enumerate(pairs)}
    res = {i: [cand] for i, (cand, _) in enumerate(pairs)}
    bleu, bleu_per = Bleu(4).compute_score(gts, res, verbose=0)
    rouge, rouge_per = Rouge().compute_score(gts, res)
    cider, cider_per = Cider().compute_score(gts, res)
    meteor, meteor_per = Meteor().compute_score(gts, res)
    return {
        "candidates": [c for c, _ in pairs],
        "references": [r for _, r in pairs],
        "bleu": list(map(float, bleu)),
        "bleuPerCaption": [[float(b[i]) for b in bleu_per] for i in range(len(pairs))],
        "rougeL": float(rouge),
        "rougeLPerCaption": list(map(float, rouge_per)),
        "ciderD": float(cider),
        "ciderDPerCaption": list(map(float, cider_per)),
        "meteor": float(meteor),
        "meteorPerCaption": list(map(float, meteor_per)),
    }


def main():
    out = Path(sys.argv[1]) if len(sys.argv) > 1 else Path(__file__).resolve().parents[2] / "__test__" / "fixtures" / "caption-metrics.json"
    import pycocoevalcap  # noqa: F401  (its version goes into the fixture)
    from importlib.metadata import version

    fixture = {"source": f"pycocoevalcap {version('pycocoevalcap')}", "sets": {name: score(pairs) for name, pairs in SETS.items()}}
    out.write_text(json.dumps(fixture, indent=1) + "\n")
    print(f"wrote {out}")


if __name__ == "__main__":
    main()
