# Section "helm": lint, render, schema-validate and cross-check every plugin chart.
# shellcheck shell=bash
#
# Cases per chart: the chart's defaults, the Go chart's own values file (drop-in claim; GitLab
# has none),
# tbot values, and every tests/deploy/helm/values/<plugin>-*.yaml. Each rendering must pass
# `helm lint --strict`, `kubernetes-validate --strict` and check_render.py (TOML golden files
# in tests/deploy/helm/golden; UPDATE_GOLDEN=1 rewrites them).

# The Go charts' values files, kept in the repository as test inputs.
GO_HELM_VALUES="${GO_HELM_VALUES:-${REPO_ROOT}/tests/go-compat/helm-values}"
KUBE_VERSIONS=(1.27.0 1.32.0)

helm_case() {
    local chart="$1" plugin="$2" case_name="$3"
    shift 3
    local out="${DEPLOY_TMP}/helm-${plugin}-${case_name}.yaml"
    local python="${DEPLOY_TOOLS_DIR}/venv/bin/python"
    check "helm lint ${plugin} (${case_name})" helm lint --strict "${chart}" "$@"
    if ! helm template "rel-${plugin}" "${chart}" --namespace plugins "$@" >"${out}" 2>"${out}.err"; then
        fail "helm template ${plugin} (${case_name})"
        sed 's/^/      | /' "${out}.err"
        return
    fi
    pass "helm template ${plugin} (${case_name})"
    local version
    for version in "${KUBE_VERSIONS[@]}"; do
        check "kubernetes-validate --strict ${plugin} (${case_name}, k8s ${version})" \
            kubernetes-validate -k "${version}" --strict --quiet "${out}"
    done
    check "rendered pieces fit ${plugin} (${case_name})" \
        "${python}" "${REPO_ROOT}/tests/deploy/helm/check_render.py" "${plugin}" "${out}" \
        "${REPO_ROOT}/tests/deploy/helm/golden/${plugin}-${case_name}.toml"
}

# Expects `helm template` to fail with a message containing $2.
helm_rejects() {
    local chart="$1" message="$2" what="$3"
    shift 3
    local err="${DEPLOY_TMP}/helm-reject.err"
    if helm template rel "${chart}" "$@" >/dev/null 2>"${err}"; then
        fail "${what}: rendered, expected an error"
    elif grep -qF "${message}" "${err}"; then
        pass "${what}"
    else
        fail "${what}: wrong error"
        sed 's/^/      | /' "${err}"
    fi
}

section_helm() {
    echo "== helm charts"
    need_tools "helm charts" helm kubernetes-validate || return 0
    check "helm: values.schema.json files are generated from deploy/helm/schema.py" \
        python3 "${REPO_ROOT}/deploy/helm/schema.py" --check
    local chart plugin values case_name
    for chart in "${REPO_ROOT}"/deploy/helm/teleport-plugin-*/; do
        chart="${chart%/}"
        plugin="${chart##*/teleport-plugin-}"
        [ "${plugin}" = "lib" ] && continue
        if ! helm dependency build "${chart}" >"${DEPLOY_TMP}/helm-dep.log" 2>&1; then
            fail "helm dependency build ${plugin}"
            sed 's/^/      | /' "${DEPLOY_TMP}/helm-dep.log"
            continue
        fi
        helm_case "${chart}" "${plugin}" default
        if [ -f "${GO_HELM_VALUES}/${plugin}-values.yaml" ]; then
            check "${plugin} values.yaml has every key of the Go chart's" \
                "${DEPLOY_TOOLS_DIR}/venv/bin/python" "${REPO_ROOT}/tests/deploy/helm/check_values.py" \
                "${chart}/values.yaml" "${GO_HELM_VALUES}/${plugin}-values.yaml"
            helm_case "${chart}" "${plugin}" go -f "${GO_HELM_VALUES}/${plugin}-values.yaml"
        elif [ "${plugin}" = "gitlab" ] || [ "${plugin}" = "opsgenie" ] || [ "${plugin}" = "servicenow" ]; then
            # No Go chart to be values-compatible with: Teleport removed its GitLab plugin
            # before it had one, and its Opsgenie and ServiceNow plugins are hosted only. Not a skip.
            :
        elif [ "${plugin}" = "datadog" ]; then
            # Teleport's Datadog chart is not among the Go chart values kept in
            # tests/go-compat; helm/values/datadog-go.yaml sets its keys instead. Not a skip.
            :
        else
            skip "helm ${plugin} with the Go chart's values: ${GO_HELM_VALUES}/${plugin}-values.yaml not found"
        fi
        helm_case "${chart}" "${plugin}" tbot -f "${REPO_ROOT}/tests/deploy/helm/values/tbot.yaml"
        for values in "${REPO_ROOT}/tests/deploy/helm/values/${plugin}"-*.yaml; do
            [ -e "${values}" ] || continue
            case_name="${values##*/"${plugin}"-}"
            helm_case "${chart}" "${plugin}" "${case_name%.yaml}" -f "${values}"
        done
        helm_rejects "${chart}" "tbot.clusterName is required" "${plugin}: tbot without a cluster name is refused" \
            --set tbot.enabled=true --set tbot.teleportProxyAddress=example.com:443
        if [ "${plugin}" = "jira" ] || [ "${plugin}" = "gitlab" ]; then
            helm_rejects "${chart}" "would never learn of decisions" "${plugin}: no webhook and no polling is refused" \
                --set http.enabled=false
        else
            helm_rejects "${chart}" "serves no webhook" "${plugin}: an Ingress without a webhook is refused" \
                --set ingress.enabled=true
        fi
        helm_rejects "${chart}" "ops.port: Invalid type" "${plugin}: the values schema refuses a string port" \
            --set-string ops.port=http
    done
}
