#!/bin/bash
# The version-bound expectations of tests/functional/versions come in pairs,
# NAME_before_N.toml and NAME_from_N.toml: on any one QEMU exactly one of each
# pair applies, so it must PASS while the other SKIPs by design. Fails when a
# test of a pair FAILs (or ends in any verdict but PASS or SKIP), when both
# SKIP (the version rule matched neither), when both PASS, or when a pair is
# incomplete. Names each offending pair.
#
#   scripts/check-versions-pair.sh JOB_FOLDER   (e.g. target/kennel-results/latest)
set -euo pipefail
python3 - "$1/results.json" <<'PY'
import json, os, re, sys
results = json.load(open(sys.argv[1]))
pairs = {}
for t in results["tests"]:
    stem = os.path.splitext(os.path.basename(t["file"]))[0]
    m = re.fullmatch(r"(.+)_(before|from)_(\w+)", stem)
    if not m:
        sys.exit(f"check-versions-pair: {t['file']} is not NAME_before_N or NAME_from_N")
    pairs.setdefault((os.path.dirname(t["file"]), m.group(1), m.group(3)), []).append(t)
bad = []
for (folder, name, version), tests in sorted(pairs.items()):
    verdicts = sorted(t["status"] for t in tests)
    what = ", ".join(f"{t['name']}: {t['status']}" for t in tests)
    if verdicts != ["PASS", "SKIP"]:
        bad.append(f"  {name} (version {version}): want one PASS and one SKIP, got {what}")
        for t in tests:
            if t["status"] != "PASS" and t.get("reason"):
                bad.append(f"    {t['name']}: {t['reason']}")
if not pairs:
    sys.exit("check-versions-pair: no version-bound tests in the job")
if bad:
    print("check-versions-pair: pairs not split one PASS, one SKIP:", *bad, sep="\n", file=sys.stderr)
    sys.exit(1)
print(f"check-versions-pair: each of {len(pairs)} pair(s) has one PASS and one SKIP")
PY
