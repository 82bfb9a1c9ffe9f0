#!/usr/bin/env bash
# The whole test suite: installs what is missing, builds with AddressSanitizer +
# UndefinedBehaviorSanitizer and -Werror, and runs every test under ctest (unit, integration
# against the real server, browser end to end). Ends with ctest's summary.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/install-deps.sh test
if [ ! -d node_modules ] || [ package-lock.json -nt node_modules/.package-lock.json ]; then
  npm ci --no-audit --no-fund --loglevel=error
fi
cmake -S . -B build-test -DCMAKE_BUILD_TYPE=Debug -DTANDEM_WERROR=ON -DTANDEM_SANITIZE=ON >/dev/null
if ! cmake --build build-test -j"$(nproc)" >build-test/build.log 2>&1; then
  tail -n 60 build-test/build.log
  echo "Build failed (full log: build-test/build.log)"
  exit 1
fi
cd build-test
export ASAN_OPTIONS=detect_leaks=1:abort_on_error=0:strict_string_checks=1
export UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1
exec ctest --output-on-failure -j"$(nproc)" --timeout 900 "$@"
