# Shared helpers for the deployment test sections: result counting and skips.
# shellcheck shell=bash

DEPLOY_PASSED=0
DEPLOY_FAILED=0
DEPLOY_SKIPPED=0
DEPLOY_FAILURES=()

# The repository root and the scratch directory every section writes under.
REPO_ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
DEPLOY_TMP="${DEPLOY_TMP:-$(mktemp -d -t teleport-deploy-test.XXXXXX)}"
export REPO_ROOT DEPLOY_TMP

pass() {
    DEPLOY_PASSED=$((DEPLOY_PASSED + 1))
    printf 'PASS  %s\n' "$*"
}

fail() {
    DEPLOY_FAILED=$((DEPLOY_FAILED + 1))
    DEPLOY_FAILURES+=("$*")
    printf 'FAIL  %s\n' "$*"
}

skip() {
    DEPLOY_SKIPPED=$((DEPLOY_SKIPPED + 1))
    printf 'SKIP  %s\n' "$*"
}

# Runs "$@" quietly, keeping its output in a log that is shown on failure.
# Usage: check "description" command args...
check() {
    local what="$1"
    shift
    local log
    log="${DEPLOY_TMP}/log.$((DEPLOY_PASSED + DEPLOY_FAILED + DEPLOY_SKIPPED))"
    if "$@" >"${log}" 2>&1; then
        pass "${what}"
    else
        fail "${what}"
        sed 's/^/      | /' "${log}" | tail -n 40
    fi
}

# True when every named command is on PATH; otherwise records one skip naming the missing ones.
# Usage: need_tools "what is skipped" tool...
need_tools() {
    local what="$1"
    shift
    local missing=()
    local tool
    for tool in "$@"; do
        command -v "${tool}" >/dev/null 2>&1 || missing+=("${tool}")
    done
    if [ "${#missing[@]}" -gt 0 ]; then
        skip "${what}: ${missing[*]} not installed (run tests/deploy/install-tools.sh)"
        return 1
    fi
}

# Polls "$@" every second until it succeeds or $1 seconds pass.
# Usage: wait_until SECONDS command args...
wait_until() {
    local deadline=$((SECONDS + $1))
    shift
    until "$@" >/dev/null 2>&1; do
        [ "${SECONDS}" -lt "${deadline}" ] || return 1
        sleep 1
    done
}

summary() {
    local failure
    if [ "${#DEPLOY_FAILURES[@]}" -gt 0 ]; then
        printf '\nFailed:\n'
        for failure in "${DEPLOY_FAILURES[@]}"; do
            printf '  %s\n' "${failure}"
        done
    fi
    printf '\ndeploy: %d passed, %d failed, %d skipped\n' "${DEPLOY_PASSED}" "${DEPLOY_FAILED}" "${DEPLOY_SKIPPED}"
    [ "${DEPLOY_FAILED}" -eq 0 ] || return 1
    # DEPLOY_STRICT=1 (cargo xtask test, so CI): a skip means something was not tested.
    if [ "${DEPLOY_STRICT:-0}" = 1 ] && [ "${DEPLOY_SKIPPED}" -gt 0 ]; then
        printf 'deploy: %d skipped under DEPLOY_STRICT=1: install what is missing\n' "${DEPLOY_SKIPPED}" >&2
        return 1
    fi
}
