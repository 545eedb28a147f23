"""Reference values of METEOR (exact + stem modules) from Meteor 1.5 itself.

Runs the `meteor-1.5.jar` that the PyPI package `pycocoevalcap` ships, as pycocoevalcap runs it
(`-stdio -l en -norm`) but with the modules this library implements (`-m "exact stem"`), on fixed
caption sets — the two sets of caption_metrics.py and a set of METEOR corner cases — plus seeded
random sets over a small vocabulary full of repeats and shared stems; and its Snowball stemmer on a
fixed vocabulary (a deterministic sample of the PyPI package `english-words`). Writes
`__test__/fixtures/meteor.json`, which `__test__/caption-metrics.spec.ts` checks
`src/eval/meteor.ts` and `src/eval/porter2.ts` against. Run once, commit the JSON:

    bash scripts/reference/caption-metrics.sh
"""

import json
import random
import subprocess
import sys
from pathlib import Path

import pycocoevalcap
from caption_metrics import SETS

JAR = Path(list(pycocoevalcap.__path__)[0]) / "meteor" / "meteor-1.5.jar"  # a namespace package: no __file__

CORNERS = [
    ("a man rides a horse", ["a man is riding a horse"]),
    ("a dog is running in the park", ["a dog runs in the park", "the dog is running on the grass"]),
    ("the the the cat cat", ["the cat sat on the mat"]),
    ("it was on the box for the man", ["it is in the box of the man"]),
    ("the woman moves a box", ["a woman is moving the boxes"]),
    ("the house is near the red car parked", ["the red car is parked near the house"]),
    ("move x", ["moves moving"]),
    ("dogs bark", ["a cat"]),
    ("the red circle is moving left", ["a red circle moves left"]),
    ("we see a red circle going left", ["a red circle moves left"]),
    ("a red circle slides left", ["a red circle moves left"]),
    ("people said two new years", ["two people said one year"]),
    ("don't stop the dog's running", ["do not stop the running dog"]),
    ("generously generous generation", ["general generosity generating"]),
    ("", ["a blue square moves up"]),
]

VOCAB = "the a of is in on and to with man men dog dogs run runs running runner move moves moving moved cat cats sit sitting sat red ball balls play playing played player two people street walk walks walking walked".split()


def random_sets(seed, n):
    rng = random.Random(seed)
    out = []
    for _ in range(n):
        sub = rng.sample(VOCAB, rng.randint(3, 12))
        refs = [" ".join(rng.choice(sub) for _ in range(rng.randint(1, 14))) for _ in range(rng.choice([1, 1, 2, 3]))]
        out.append((" ".join(rng.choice(sub) for _ in range(rng.randint(1, 14))), refs))
    return out


def meteor(pairs):
    """Per-caption scores and the corpus aggregate, through the jar's stdio protocol (SCORE, then EVAL)."""
    cmd = ["java", "-Xmx2G", "-jar", str(JAR), "-", "-", "-stdio", "-l", "en", "-norm", "-m", "exact stem"]
    proc = subprocess.Popen(cmd, stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True, cwd=JAR.parent)
    stats = []
    for cand, refs in pairs:
        proc.stdin.write("SCORE ||| " + " ||| ".join(refs) + " ||| " + cand.replace("|||", "").replace("  ", " ") + "\n")
        proc.stdin.flush()
        stats.append(proc.stdout.readline().strip())
    proc.stdin.write("EVAL ||| " + " ||| ".join(stats) + "\n")
    proc.stdin.flush()
    per = [float(proc.stdout.readline().strip()) for _ in pairs]
    corpus = float(proc.stdout.readline().strip())
    proc.stdin.close()
    proc.wait()
    return {"candidates": [c for c, _ in pairs], "references": [r for _, r in pairs], "perCaption": per, "corpus": corpus}


def stems(words):
    out = subprocess.run(["java", "-cp", str(JAR), "Stemmer", "en"], input=" ".join(words) + "\n", capture_output=True, text=True, check=True).stdout.split()
    assert len(out) == len(words)
    return dict(zip(words, out))


def vocabulary():
    from english_words import get_english_words_set

    words = sorted(w for w in get_english_words_set(["web2"], lower=True, alpha=True) if 3 <= len(w) <= 16)
    rng = random.Random(1417)
    sample = set(rng.sample(words, 6000))
    # Every suffix rule of Porter2, with words that end in it.
    for suffix in ["ies", "ied", "sses", "eed", "eedly", "ingly", "edly", "ational", "tional", "enci", "anci", "abli", "entli", "izer", "ization", "ation", "ator", "alism", "aliti", "alli", "fulness", "ousli", "ousness", "iveness", "iviti", "biliti", "bli", "logi", "fulli", "lessli", "alize", "icate", "iciti", "ical", "ative", "ement", "sion", "tion", "ness", "ful", "ly", "y"]:
        sample.update([w for w in words if w.endswith(suffix)][:40])
    sample.update(["skis", "skies", "dying", "lying", "tying", "idly", "gently", "ugly", "early", "only", "singly", "sky", "news", "howe", "atlas", "cosmos", "bias", "andes", "inning", "outing", "canning", "herring", "earring", "proceed", "exceed", "succeed", "generous", "generously", "communism", "arsenal", "'tis", "dog's", "dogs'"])
    return sorted(sample)


def main():
    out = Path(sys.argv[1]) if len(sys.argv) > 1 else Path(__file__).resolve().parents[2] / "__test__" / "fixtures" / "meteor.json"
    from importlib.metadata import version

    sets = {name: meteor(pairs) for name, pairs in SETS.items()}
    sets["corners"] = meteor(CORNERS)
    sets["random"] = meteor(random_sets(7, 300))
    fixture = {"source": f"meteor-1.5.jar of pycocoevalcap {version('pycocoevalcap')}, -l en -norm -m 'exact stem'", "sets": sets, "stems": stems(vocabulary())}
    out.write_text(json.dumps(fixture, indent=None, separators=(",", ":")) + "\n")
    print(f"wrote {out}")


if __name__ == "__main__":
    main()
