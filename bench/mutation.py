"""Mutation testing with mutmut, one module at a time (not run in CI: it takes a long while).

Issue 16.17's scope: oauth/, webhooks/, the events/freebusy/availability/idempotency services
and hub/logs.py. mutmut only runs, for each mutant, the tests that called the mutated function
while it collected stats; a mutant no selected test reaches is "not covered", not tested. A
single run over the whole suite needs hours on a 2-core machine, and one left to the unit tests
leaves most mutants uncovered. So each module gets its own run whose test selection is the tests
that really exercise it (unit tests plus the e2e/security tests that drive it through a live
hub in this process), listed in MODULES below.

    python bench/mutation.py                       # every module, one after the other
    python bench/mutation.py hub/logs.py webhooks/outbound/signing.py
    python bench/mutation.py --list                # the modules and their tests
    python bench/mutation.py --keep hub/logs.py    # reuse the last work dir: only changed
                                                   # functions and earlier survivors run again
                                                   # (quick while writing tests; final scores
                                                   # from a fresh run)
    python bench/mutation.py --report              # scores of the last runs, nothing run

Runs under `nice -n 10` with MUTMUT_CHILDREN (default 1) workers. Each module's run happens in a
copy of the checkout under $HUB_MUTATION_DIR (default /tmp/hub-mutation/<module>), so the
checkout stays clean; `cd` there and `mutmut browse` / `mutmut show <name>` to read survivors.
Score: killed / (killed + survived), timeouts counted as killed; "no tests" are reported apart.
"""
from __future__ import annotations

import argparse
import collections
import json
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
WORK = Path(os.environ.get("HUB_MUTATION_DIR", "/tmp/hub-mutation"))

E2E_HUB = ["tests/e2e/test_google_e2e.py", "tests/e2e/test_microsoft_e2e.py", "tests/e2e/test_zoom_e2e.py",
           "tests/e2e/test_caldav_e2e.py"]
# module -> the tests that exercise it (files or node ids).
MODULES: dict[str, list[str]] = {
    "hub/services/idempotency.py": ["tests/unit/test_idempotency.py", "tests/security/test_tenancy_and_idempotency.py"],
    "hub/logs.py": ["tests/unit/test_logs.py", "tests/security/test_headers_and_logs.py"],
    "webhooks/outbound/url_guard.py": ["tests/security/test_webhook_ssrf.py", "tests/unit/test_url_guard.py"],
    "webhooks/outbound/signing.py": ["tests/unit/test_signatures.py", "tests/unit/test_webhook_signing.py",
                                     "tests/e2e/test_outbound_webhooks.py"],
    "webhooks/outbound/schedule.py": ["tests/unit/test_signatures.py", "tests/unit/test_webhook_signing.py"],
    "webhooks/outbound/delivery.py": ["tests/unit/test_webhook_delivery_rules.py", "tests/unit/test_webhook_signing.py"],
    "webhooks/outbound/outbox.py": ["tests/unit/test_webhook_delivery_rules.py", "tests/unit/test_webhook_signing.py"],
    "webhooks/outbound/endpoints.py": ["tests/unit/test_webhook_delivery_rules.py"],
    "webhooks/outbound/connection_events.py": ["tests/unit/test_webhook_delivery_rules.py"],
    "webhooks/calendar_push.py": ["tests/unit/test_sync_service.py"],
    "webhooks/zoom_signature.py": ["tests/unit/test_signatures.py", "tests/unit/test_zoom_webhook.py",
                                   "tests/security/test_malformed_json.py"],
    "webhooks/zoom.py": ["tests/unit/test_zoom_webhook.py", "tests/security/test_malformed_json.py"],
    "webhooks/zoom_events.py": ["tests/unit/test_zoom_events_rules.py", "tests/unit/test_zoom_webhook.py"],
    "oauth/flows.py": ["tests/unit/test_authlib_flow.py", "tests/security/test_oauth_flow.py"],
    "oauth/tokens.py": ["tests/unit/test_token_rules.py", "tests/unit/test_token_manager.py",
                        "tests/unit/test_keys_and_errors.py", "tests/unit/test_services_with_fakes.py",
                        "tests/security/test_oauth_flow.py"],
    "oauth/vault.py": ["tests/unit/test_vault.py", "tests/unit/test_keys_and_errors.py"],
    "oauth/connect.py": ["tests/unit/test_connect_service.py", "tests/security/test_oauth_flow.py",
                         "tests/security/test_return_urls.py"],
    "oauth/id_tokens.py": ["tests/unit/test_id_tokens.py", "tests/security/test_oauth_flow.py"],
    "oauth/credential_form.py": ["tests/unit/test_connect_service.py", "tests/e2e/test_caldav_e2e.py"],
    # Fast tests only (fake adapters; the sandbox in-process): every mutant against the four e2e
    # hub files would take hours on a 2-core machine, and these drive the same rules.
    "hub/services/freebusy.py": ["tests/unit/test_services_with_fakes.py", "tests/security/test_busy_and_optional.py",
                                 "tests/unit/test_busy_cache_read.py", "tests/unit/test_freebusy_rules.py"],
    "hub/services/availability.py": ["tests/unit/test_services_with_fakes.py",
                                     "tests/security/test_busy_and_optional.py", "tests/unit/test_busy_cache_read.py",
                                     "tests/unit/test_freebusy_rules.py"],
    # Fakes only: a live hub + emulators costs ~6 s of set-up per mutant (1,200+ mutants). The
    # e2e and security tests prove the same paths against the emulators.
    "hub/services/events.py": ["tests/unit/test_event_service_rules.py", "tests/unit/test_services_with_fakes.py"],
    # The slot engine: example tests, and hypothesis properties against the brute-force oracle.
    "hub/availability/intervals.py": ["tests/unit/test_intervals.py", "tests/unit/test_slots.py",
                                      "tests/unit/test_slots_property.py"],
    "hub/availability/slots.py": ["tests/unit/test_slots.py", "tests/unit/test_slots_property.py"],
}

STATUS = re.compile(r"^\s*(\S+):\s*(killed|survived|timeout|suspicious|no tests|skipped|not checked|segfault|"
                    r"caught by type check)\s*$")


def slug(module: str) -> str:
    return module.replace("/", ".").removesuffix(".py")


def copy_checkout(dest: Path, keep: bool) -> None:
    """The checkout's tracked and new (not ignored) files; with `keep`, over the last copy so
    mutmut's cache (mutants/) survives and only changed functions are mutated again."""
    if dest.exists() and not keep:
        shutil.rmtree(dest)
    dest.mkdir(parents=True, exist_ok=True)
    files = subprocess.run(["git", "ls-files", "-co", "--exclude-standard", "-z"], cwd=ROOT, check=True,
                           capture_output=True).stdout.split(b"\0")
    for raw in files:
        if not raw:
            continue
        rel = raw.decode()
        src = ROOT / rel
        if not src.is_file():
            continue
        target = dest / rel
        if keep and target.exists() and target.read_bytes() == src.read_bytes():
            continue
        target.parent.mkdir(parents=True, exist_ok=True)
        shutil.copy2(src, target)


def configure(dest: Path, module: str, tests: list[str]) -> None:
    """The copy's pyproject gets a [tool.mutmut] for this module alone."""
    text = (dest / "pyproject.toml").read_text()
    text = text[:text.index("[tool.mutmut]")] if "[tool.mutmut]" in text else text
    existing = [t for t in tests if (ROOT / t.split("::")[0]).exists()]
    text += ("[tool.mutmut]\n"
             'source_paths = ["hub", "oauth", "webhooks", "providers"]\n'
             f"only_mutate = {json.dumps([module])}\n"
             f"pytest_add_cli_args_test_selection = {json.dumps(existing)}\n"
             'pytest_add_cli_args = ["-p", "no:xdist", "-p", "no:randomly", "-q"]\n')
    (dest / "pyproject.toml").write_text(text)


def results(dest: Path) -> dict[str, str]:
    out = subprocess.run([sys.executable, "-m", "mutmut", "results", "--all", "true"], cwd=dest,
                         capture_output=True, text=True).stdout
    found = {}
    for line in out.splitlines():
        m = STATUS.match(line)
        if m:
            found[m.group(1)] = m.group(2)
    return found


def run_module(module: str, keep: bool, children: int) -> None:
    dest = WORK / slug(module)
    copy_checkout(dest, keep)
    configure(dest, module, MODULES[module])
    env = {k: v for k, v in os.environ.items() if k != "PYTHONPATH"}  # mutmut puts mutants/ first itself
    args = ["nice", "-n", "10", sys.executable, "-m", "mutmut", "run", "--max-children", str(children)]
    out = None if os.environ.get("MUTMUT_VERBOSE") else subprocess.DEVNULL
    print(f"== {module}: {' '.join(MODULES[module])}", flush=True)
    again = keep and (dest / "mutants").exists()
    # A plain run tests what has no result yet (new or changed functions); results stand once
    # computed, so with --keep the survivors are then named to give new tests their chance.
    subprocess.run(args, cwd=dest, env=env, stdout=out)
    # mutmut may keep a cached verdict for a function that changed (it warns about the rewritten
    # pyproject.toml): naming survivors and unchecked mutants makes it test them for certain.
    survivors = [name for name, status in results(dest).items() if status in ("survived", "not checked")] if again else []
    if survivors:
        subprocess.run(args + survivors, cwd=dest, env=env, stdout=out)


def score(module: str) -> tuple[collections.Counter[str], list[str]]:
    found = results(WORK / slug(module))
    counts = collections.Counter(found.values())
    return counts, sorted(n for n, s in found.items() if s == "survived")


def report(modules: list[str], show_survivors: bool) -> None:
    total_killed = total_tested = total_uncovered = 0
    print(f"{'module':42} {'killed':>7} {'tested':>7} {'score':>7} {'no tests':>9} {'unchecked':>9}")
    for module in modules:
        if not (WORK / slug(module) / "mutants").exists():
            print(f"{module:42} (not run)")
            continue
        counts, survivors = score(module)
        killed = counts["killed"] + counts["timeout"] + counts["caught by type check"]
        tested = killed + counts["survived"]
        total_killed += killed
        total_tested += tested
        total_uncovered += counts["no tests"]
        pct = f"{killed / tested:.1%}" if tested else "-"
        print(f"{module:42} {killed:7} {tested:7} {pct:>7} {counts['no tests']:9} {counts['not checked']:9}")
        if show_survivors:
            for name in survivors:
                print(f"    survived: {name}")
    if total_tested:
        print(f"{'total':42} {total_killed:7} {total_tested:7} {total_killed / total_tested:7.1%} {total_uncovered:9}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("modules", nargs="*", help="modules to run (default: all of MODULES)")
    parser.add_argument("--keep", action="store_true", help="reuse the last work dir; rerun survivors")
    parser.add_argument("--report", action="store_true", help="only print the scores of the last runs")
    parser.add_argument("--survivors", action="store_true", help="list surviving mutants in the report")
    parser.add_argument("--list", action="store_true", help="the modules and their tests")
    args = parser.parse_args()
    modules = args.modules or list(MODULES)
    unknown = [m for m in modules if m not in MODULES]
    if unknown:
        parser.error(f"not in MODULES: {unknown}")
    if args.list:
        for module in modules:
            print(module, *MODULES[module], sep="\n    ")
        return
    if not args.report:
        for module in modules:
            run_module(module, args.keep, int(os.environ.get("MUTMUT_CHILDREN", "1")))
    report(modules, args.survivors)


if __name__ == "__main__":
    main()
