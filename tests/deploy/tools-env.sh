# Sourced by the deployment test scripts: puts the tools from install-tools.sh on PATH.
# shellcheck shell=bash
DEPLOY_TOOLS_DIR="${DEPLOY_TOOLS_DIR:-${HOME}/.cache/teleport-plugins-deploy}"
export DEPLOY_TOOLS_DIR
case ":${PATH}:" in
    *":${DEPLOY_TOOLS_DIR}/bin:"*) ;;
    *) PATH="${DEPLOY_TOOLS_DIR}/bin:${PATH}" ;;
esac
export PATH
