# Section "compose": the Compose files are valid, and the demo really carries a request from
# the test Teleport through teleport-slack to the fake Slack.
# shellcheck shell=bash

COMPOSE_DIR="${REPO_ROOT}/deploy/compose"
DEMO_PROJECT="tpdeploytest$$"

# `docker compose` (v2 plugin) when present, else the standalone docker-compose.
compose() {
    if docker compose version >/dev/null 2>&1; then
        docker compose "$@"
    else
        docker-compose "$@"
    fi
}

have_compose() {
    docker compose version >/dev/null 2>&1 || command -v docker-compose >/dev/null 2>&1
}

# Loads the image from its xtask archive; false when it was not built.
load_image() {
    local ref="$1" archive
    archive="$(image_field "${ref}" 2)"
    [ -n "${archive}" ] && [ -f "${archive}" ] && docker load -i "${archive}" >/dev/null
}

demo_logs() { compose -p "${DEMO_PROJECT}" -f "${COMPOSE_DIR}/demo.yml" logs --no-color "$@" 2>&1; }

# The fake Slack printed a root message for a request in the configured channel.
demo_posted() { demo_logs fake-slack | grep -E '\[post\] channel=C0ACCESS .*Role Request'; }

# ... and, once the testkit approved that request, an update showing it.
demo_approved() { demo_logs fake-slack | grep -E '\[update\] channel=C0ACCESS .*APPROVED'; }

section_compose() {
    echo "== Docker Compose"
    docker_ready "compose" || return 0
    if ! have_compose; then
        skip "compose: neither 'docker compose' nor docker-compose is installed"
        return 0
    fi
    check "compose: docker-compose.yml is valid" compose -f "${COMPOSE_DIR}/docker-compose.yml" config -q
    check "compose: demo.yml is valid" compose -f "${COMPOSE_DIR}/demo.yml" config -q
    if command -v yamllint >/dev/null 2>&1; then
        check "compose: yamllint" yamllint -d \
            '{extends: default, rules: {line-length: {max: 110}, document-start: disable, comments-indentation: disable}}' \
            "${COMPOSE_DIR}/docker-compose.yml" "${COMPOSE_DIR}/demo.yml"
    fi

    local version ref missing=()
    version="$(release_version)"
    for ref in "teleport-testkit-server:${version}" "teleport-fake-chat:${version}" "teleport-plugin-slack:${version}"; do
        load_image "${ref}" || missing+=("${ref}")
    done
    if [ "${#missing[@]}" -gt 0 ]; then
        skip "compose demo: images not built: ${missing[*]} (run the build section)"
        return 0
    fi

    export TELEPORT_PLUGIN_VERSION="${version}"
    if ! check "compose demo: up" compose -p "${DEMO_PROJECT}" -f "${COMPOSE_DIR}/demo.yml" up -d; then
        compose -p "${DEMO_PROJECT}" -f "${COMPOSE_DIR}/demo.yml" down -v >/dev/null 2>&1
        return 0
    fi
    if wait_until 180 demo_posted; then
        pass "compose demo: fake Slack received the testkit's request from teleport-slack"
        demo_posted | head -n 1 | sed 's/^/      | /'
    else
        fail "compose demo: no request reached the fake Slack within 180 s"
        demo_logs | tail -n 60 | sed 's/^/      | /'
    fi
    if wait_until 120 demo_approved; then
        pass "compose demo: the approval updated the Slack message"
    else
        fail "compose demo: no approval update within 120 s"
        demo_logs | tail -n 40 | sed 's/^/      | /'
    fi
    check "compose demo: down -v" compose -p "${DEMO_PROJECT}" -f "${COMPOSE_DIR}/demo.yml" down -v
}
