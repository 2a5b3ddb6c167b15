#!/usr/bin/env bash
# One build-and-test entry point for developers and CI.
#   ./build.sh            build (Release)
#   ./build.sh test       install what the tests need (redis-server, chromium), build, run every test
#   ./build.sh run        build, then start the application (Chat.AppHost)
set -euo pipefail
cd "$(dirname "$0")"
configuration="${CONFIGURATION:-Release}"

install_test_prerequisites() {
  local wanted=()
  command -v redis-server >/dev/null 2>&1 || wanted+=(redis-server)
  [ -x /usr/bin/chromium ] || wanted+=(chromium)
  # The conformance suite (Chat.Tests/Conformance): a client of the original contracts from a second stack, on
  # Debian's own python3 (a pyenv python3 first on PATH does not see these packages).
  /usr/bin/python3 -c "import grpc, grpc_tools" >/dev/null 2>&1 || wanted+=(python3-grpcio python3-grpc-tools)
  /usr/bin/python3 -c "import websocket" >/dev/null 2>&1 || wanted+=(python3-websocket)
  if [ ${#wanted[@]} -gt 0 ]; then
    if [ "$(id -u)" = 0 ]; then
      echo "Installing test prerequisites: ${wanted[*]}"
      apt-get update -qq >/dev/null
      DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${wanted[@]}" >/dev/null
      # Debian starts a system redis on install; the tests run their own servers on free ports.
      service redis-server stop >/dev/null 2>&1 || true
    else
      echo "Missing test prerequisites (${wanted[*]}): install them with apt-get as root." >&2
    fi
  fi
  dotnet tool restore >/dev/null
}

build() {
  dotnet build Chat.sln -c "$configuration" -nologo -clp:"ErrorsOnly;NoSummary"
}

# Sums a count over dotnet test's per-assembly summary lines ("Passed!  - Failed:     0, Passed:   638, Skipped: …").
sum_of() {
  { grep -oE "(Passed|Failed)! +- .*" "$2" || true; } | grep -oE "$1: +[0-9]+" | awk '{ s += $2 } END { print s + 0 }'
}

# Quiet by design: a line per failing test (with its message, stack and the console output of the services it used),
# a summary per test assembly, and the sum. Service logs go to .test-artifacts/logs/, results (TRX) to
# .test-artifacts/results/.
run_tests() {
  install_test_prerequisites
  build
  rm -rf .test-artifacts/logs .test-artifacts/results
  local log
  log=$(mktemp)
  set +e
  dotnet test Chat.sln -c "$configuration" --no-build -nologo --logger "console;verbosity=minimal" \
    --logger "trx;LogFilePrefix=chat" --results-directory .test-artifacts/results "$@" 2>&1 | tee "$log"
  local status=${PIPESTATUS[0]}
  set -e
  # Sum every test assembly's summary line into the one line CI reads.
  local passed failed skipped
  passed=$(sum_of 'Passed' "$log")
  failed=$(sum_of 'Failed' "$log")
  skipped=$(sum_of 'Skipped' "$log")
  rm -f "$log"
  if [ "$status" != 0 ] && [ "${failed:-0}" = 0 ]; then failed=1; fi
  echo "Service logs: .test-artifacts/logs/ · results: .test-artifacts/results/ · screenshots: .test-artifacts/screenshots/"
  echo "${passed:-0} passed, ${failed:-0} failed, ${skipped:-0} skipped"
  return "$status"
}

case "${1:-build}" in
  build) build ;;
  test) shift; run_tests "$@" ;;
  run) shift; build; exec dotnet run --project Chat.AppHost -c "$configuration" --no-build -- "$@" ;;
  *) echo "usage: $0 [build|test|run]" >&2; exit 2 ;;
esac
