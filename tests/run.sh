#!/usr/bin/env bash
# Runs the integration suite against the real binary twice: with the
# machine's python3 (boto3 1.43: current protocols, e.g. SQS over JSON) and
# with Debian's /usr/bin/python3 (boto3 1.26: older protocols, e.g. SQS over
# query/XML).  pytest comes from Debian's python3-pytest in both cases; for
# the pyenv interpreter it is appended to sys.path *after* site-packages so
# that interpreter's own boto3 wins.
set -euo pipefail
cd "$(dirname "$0")/.."
export NIMBUS_BIN="${NIMBUS_BIN:-$PWD/build/nimbus}"
args=("tests" "-q" "-p" "no:cacheprovider" "${@}")
status=0
new_py=""
for cand in python3 "$HOME/.pyenv/shims/python3" /root/.pyenv/shims/python3; do
  if command -v "$cand" >/dev/null 2>&1 && [ "$(command -v "$cand")" != /usr/bin/python3 ]; then
    new_py=$(command -v "$cand"); break
  fi
done
if [ -n "$new_py" ]; then
  echo "== integration: $new_py ($("$new_py" -c 'import botocore; print("botocore", botocore.__version__)'))"
  "$new_py" -c "import sys; sys.path.append('/usr/lib/python3/dist-packages'); import pytest; sys.exit(pytest.main(sys.argv[1:]))" "${args[@]}" || status=1
else
  echo "== integration: no second python3 with a current boto3 found; only Debian's runs" >&2
fi
echo "== integration: /usr/bin/python3 ($(/usr/bin/python3 -c 'import botocore; print("botocore", botocore.__version__)'))"
/usr/bin/python3 -m pytest "${args[@]}" || status=1
exit $status
