#!/bin/bash
# Under KENNEL_REQUIRE_ALL (kennel's own CI sets it), a job in which any test
# SKIPped fails: a SKIP there means something the suite needs is missing (an
# architecture's guest pieces, a QEMU binary, a device), and coverage must not
# vanish while CI stays green. Names each skipped test and its reason.
#
#   scripts/check-no-skips.sh JOB_FOLDER     (e.g. target/kennel-results/latest)
set -euo pipefail
case ${KENNEL_REQUIRE_ALL:-} in '' | 0 | false | no | off) exit 0 ;; esac
python3 - "$1/results.json" <<'PY'
import json, sys
results = json.load(open(sys.argv[1]))
skipped = [t for t in results["tests"] if t["status"] == "SKIP"]
for t in skipped:
    print(f"check-no-skips: SKIP {t['name']}: {t.get('reason')}", file=sys.stderr)
if skipped:
    sys.exit(f"check-no-skips: {len(skipped)} test(s) skipped and KENNEL_REQUIRE_ALL is set")
print(f"check-no-skips: none of {len(results['tests'])} tests skipped")
PY
