#!/usr/bin/env bash
# Writes __test__/fixtures/caption-metrics.json (the COCO caption evaluation's own values) and
# __test__/fixtures/meteor.json (Meteor 1.5's exact + stem METEOR and stems): pycocoevalcap and
# english-words from PyPI in .venv-coco; METEOR runs Java, installed from Debian if missing.
#   bash scripts/reference/caption-metrics.sh
set -euo pipefail
cd "$(dirname "$0")/../.."
if ! command -v java >/dev/null; then
  sudo_cmd=(); [ "$(id -u)" -eq 0 ] || sudo_cmd=(sudo)
  "${sudo_cmd[@]}" apt-get update -qq && DEBIAN_FRONTEND=noninteractive "${sudo_cmd[@]}" apt-get install -y -qq --no-install-recommends default-jre-headless
fi
[ -x .venv-coco/bin/python ] || python3 -m venv .venv-coco
.venv-coco/bin/pip install --quiet pycocoevalcap english-words
.venv-coco/bin/python scripts/reference/caption_metrics.py
(cd scripts/reference && ../../.venv-coco/bin/python meteor.py)
