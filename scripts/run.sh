#!/usr/bin/env bash
# The main job: build `lake` (release), ingest Evaluation-Files into ./lake, print the reports.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/setup.sh
swift build -c release --static-swift-stdlib --product lake
.build/release/lake run --input Evaluation-Files "$@"
