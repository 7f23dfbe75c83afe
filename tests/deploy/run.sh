#!/usr/bin/env bash
# Deployment tests: release tarballs, OCI images, the Dockerfile, Compose and the Helm charts.
#
# Usage: tests/deploy/run.sh [SECTION...]   (default: all, in the order of `all_sections`)
#
# "build" runs `cargo xtask dist` and `cargo xtask image` (static release builds, minutes);
# leave it out to test artifacts already in dist/.
#
# Run tests/deploy/install-tools.sh first (helm, kubernetes-validate, skopeo...). A section
# whose prerequisite is missing (a tool, the Docker engine, a plugin binary that has not
# landed yet) is skipped with a message saying what is missing; the closing line is
# "deploy: N passed, N failed, N skipped" and the exit status is non-zero on any failure.
set -uo pipefail

here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
# shellcheck source=tests/deploy/tools-env.sh
source "${here}/tools-env.sh"
# shellcheck source=tests/deploy/lib.sh
source "${here}/lib.sh"
# shellcheck source=tests/deploy/helm.sh
source "${here}/helm.sh"
# shellcheck source=tests/deploy/artifacts.sh
source "${here}/artifacts.sh"
# shellcheck source=tests/deploy/compose.sh
source "${here}/compose.sh"

all_sections=(helm build dist image dockerfile compose)
sections=("${all_sections[@]}")
if [ "$#" -gt 0 ]; then
    sections=("$@")
fi

trap 'rm -rf "${DEPLOY_TMP}"' EXIT
for section in "${sections[@]}"; do
    if ! declare -F "section_${section}" >/dev/null; then
        fail "unknown section ${section} (known: ${all_sections[*]})"
        continue
    fi
    "section_${section}"
done
summary
