#!/usr/bin/env bash
# Mutation testing with mutmut (not run in CI: it takes a long while). Mutates what
# [tool.mutmut] in pyproject.toml lists (oauth/, webhooks/, the events/freebusy/availability/
# idempotency services, hub/logs.py) and runs the tests that cover each mutant.
#   bash bench/mutation.sh              # everything (hours on 2 cores)
#   bash bench/mutation.sh 'hub.logs*'  # one module (mutant names are module.function__mutmut_N)
# Prints the score: killed / (killed + survived), timeouts counted as killed.
set -euo pipefail
cd "$(dirname "$0")/.."
work=$(mktemp -d /tmp/hub-mutation.XXXXXX)
# mutmut writes mutants/ next to the sources: run it on a copy so the checkout stays clean.
git ls-files -z | xargs -0 cp --parents -t "$work"
cd "$work"
unset PYTHONPATH  # mutmut puts mutants/ first on sys.path itself
python -m mutmut run --max-children "${MUTMUT_CHILDREN:-2}" "$@" || true
python -m mutmut results --all true > results.txt 2>/dev/null || python -m mutmut results > results.txt || true
python - <<'PY'
import collections, re
counts = collections.Counter()
for line in open("results.txt"):
    m = re.search(r":\s*(killed|survived|timeout|suspicious|no tests|skipped|not checked|segfault)\s*$", line.strip())
    if m:
        counts[m.group(1)] += 1
killed = counts["killed"] + counts["timeout"]
tested = killed + counts["survived"]
print(dict(counts))
print(f"mutation score: {killed}/{tested} = {killed / tested:.1%}" if tested else "no mutants tested")
PY
echo "work dir: $work (mutmut browse there to see survivors)"
