#!/usr/bin/env bash
# Mutation testing with mutmut (not run in CI: it takes a long while). One run per module, each
# with the tests that exercise it (bench/mutation.py's MODULES), under `nice -n 10`.
#   bash bench/mutation.sh                          # every module of issue 16.17's scope
#   bash bench/mutation.sh hub/logs.py              # one module
#   bash bench/mutation.sh --keep hub/logs.py       # again, only changed code and survivors
#   bash bench/mutation.sh --report --survivors     # the last scores, and what survived
# Prints killed / (killed + survived) per module and in total (timeouts count as killed).
set -euo pipefail
cd "$(dirname "$0")/.."
exec python bench/mutation.py "$@"
