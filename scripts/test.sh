#!/usr/bin/env bash
# The one test command (npm test): static checks, then unit, e2e and integration tiers in turn.
# The integration tier starts the Kafka broker itself (scripts/kafka.sh via jest's global setup);
# a broker that cannot start fails the run. Ends with one "N passed, N failed" line.
set -uo pipefail
cd "$(dirname "$0")/.."

results=$(mktemp -d)
status=0

step() {
  echo
  echo "== $*"
}

# kcat (librdkafka) stands for direct producers in other languages in the integration tier.
if ! command -v kcat >/dev/null 2>&1 && [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then
  step "installing kcat from Debian"
  (apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq kcat >/dev/null) || echo "kcat could not be installed; its test will be skipped"
fi

# rsyslog and jc are the real SIEM-side receiver and parser of the SIEM forwarder's e2e test (skipped without rsyslogd).
if { ! command -v rsyslogd >/dev/null 2>&1 || ! command -v jc >/dev/null 2>&1; } && [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then
  step "installing rsyslog and jc from Debian"
  (apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq rsyslog rsyslog-gnutls jc >/dev/null) || echo "rsyslog/jc could not be installed; the SIEM receiver tests will be skipped"
fi
# age (the stock CLI) decrypts the retention archives in the e2e tier: the second implementation of the format.
if ! command -v age >/dev/null 2>&1 && [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then
  step "installing age from Debian"
  (apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq age >/dev/null) || echo "age could not be installed; the archive test will fail"
fi
# Chromium (Debian's) is the real browser the web console's e2e test drives with playwright-core.
if ! command -v chromium >/dev/null 2>&1 && [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then
  step "installing chromium from Debian"
  (apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium >/dev/null) || echo "chromium could not be installed; the console test will fail"
fi

# The project runs on the Node of the `node` npm dependency (24 LTS), whatever the machine's own is: `npm test`
# puts node_modules/.bin first on PATH already; this makes `bash scripts/test.sh` do the same, so jest, tsc and
# the apps the e2e tier spawns (process.execPath) all run on it.
export PATH="$PWD/node_modules/.bin:$PATH"
step "node $(node --version)"
if [ "$(node -p 'process.versions.node.split(".")[0]')" -lt 24 ]; then
  echo "Node 24 or later is required (npm install puts it in node_modules/.bin); found $(node --version)"
  exit 1
fi

step "typecheck"
npx tsc -p tsconfig.json --noEmit || status=1
step "lint"
npm run --silent lint || status=1

run_tier() {
  local tier=$1
  shift
  step "jest: $tier"
  npx jest --ci --selectProjects "$tier" --json --outputFile "$results/$tier.json" "$@" || status=1
}

run_tier unit
run_tier e2e --maxWorkers=2
run_tier integration --runInBand

node -e '
  const fs = require("fs");
  let passed = 0, failed = 0;
  for (const t of ["unit", "e2e", "integration"]) {
    const f = process.argv[1] + "/" + t + ".json";
    if (!fs.existsSync(f)) { console.log(t + ": no results (the tier did not run)"); failed++; continue; }
    const r = JSON.parse(fs.readFileSync(f, "utf8"));
    console.log(`${t}: ${r.numPassedTests} passed, ${r.numFailedTests} failed, ${r.numPendingTests} skipped`);
    passed += r.numPassedTests; failed += r.numFailedTests + (r.numRuntimeErrorTestSuites || 0);
  }
  console.log(`${passed} passed, ${failed} failed`);
' "$results"
rm -rf "$results"
exit $status
