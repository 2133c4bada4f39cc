#!/usr/bin/env bash
# Creates benches/peer/.venv with Buildbot 4.3.0, the peer that buildbot_peer.py measures.
# buildbot-www is the "base" web plugin: without it Buildbot's WWWService refuses to build its
# site, so the real REST endpoint cannot be served. Twisted and SQLAlchemy come with buildbot.
# Idempotent: a venv that already has both at 4.3.0 is left alone.
set -euo pipefail

BUILDBOT_VERSION=4.3.0
here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
venv="$here/.venv"
python="${PYTHON:-python3}"

installed_version() {
    "$venv/bin/python" - 2>/dev/null <<'PY' || true
from importlib.metadata import version
print(version("buildbot") if version("buildbot") == version("buildbot-www") else "mismatch")
PY
}

if [[ -x "$venv/bin/python" && "$(installed_version)" == "$BUILDBOT_VERSION" ]]; then
    echo "buildbot $BUILDBOT_VERSION already installed in $venv"
    exit 0
fi

"$python" -m venv "$venv"
"$venv/bin/python" -m pip install "buildbot==$BUILDBOT_VERSION" "buildbot-www==$BUILDBOT_VERSION"

version="$(installed_version)"
if [[ "$version" != "$BUILDBOT_VERSION" ]]; then
    echo "setup.sh: expected buildbot and buildbot-www $BUILDBOT_VERSION in $venv," \
        "found '${version:-nothing}'" >&2
    exit 1
fi
echo "buildbot $version installed in $venv"
