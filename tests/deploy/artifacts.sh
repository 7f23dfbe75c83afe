# Sections "build", "dist", "image" and "dockerfile": the release artifacts, built and used.
# shellcheck shell=bash
#
# "build" runs `cargo xtask dist` and `cargo xtask image` (static release builds: minutes).
# The other sections test what dist/ holds, and skip a plugin whose tarball or image is
# absent (not landed yet: xtask skips binaries without a real main).

DIST_DIR="${REPO_ROOT}/dist"
MAX_BINARY_BYTES=$((12 * 1024 * 1024))
MAX_IMAGE_BYTES=$((8 * 1024 * 1024))

# `cargo xtask plugins` output, cached: "version V", then "plugin|helper name package binary image".
xtask_list() {
    if [ ! -s "${DEPLOY_TMP}/xtask-plugins" ]; then
        (cd "${REPO_ROOT}" && cargo xtask plugins) >"${DEPLOY_TMP}/xtask-plugins"
    fi
    cat "${DEPLOY_TMP}/xtask-plugins"
}

release_version() { xtask_list | awk -F'\t' '$1 == "version" { print $2 }'; }
plugin_names() { xtask_list | awk -F'\t' '$1 == "plugin" { print $2 }'; }

tarball_of() { printf '%s/teleport-%s-v%s-linux-amd64-bin.tar.gz' "${DIST_DIR}" "$1" "$(release_version)"; }

# Field N of the images.tsv line for reference $1.
image_field() {
    awk -F'\t' -v ref="$1" -v n="$2" '$1 == ref { print $n }' "${DIST_DIR}/images/images.tsv" 2>/dev/null
}

# Runs one cargo xtask command; its size table (or error) goes into the test output.
xtask_step() {
    local log="${DEPLOY_TMP}/xtask-$1.log"
    if (cd "${REPO_ROOT}" && cargo xtask "$@") >"${log}" 2>&1; then
        pass "cargo xtask $*"
        grep -E 'MiB|skipping|^ +teleport-[a-z-]+ v[0-9]' "${log}" | sed 's/^/      | /'
    else
        fail "cargo xtask $*"
        tail -n 40 "${log}" | sed 's/^/      | /'
    fi
}

section_build() {
    echo "== build release artifacts (cargo xtask dist, cargo xtask image)"
    need_tools "build" cargo || return 0
    xtask_step dist
    xtask_step image
}

# The installed binary answers `version` with this release's version.
version_answers() {
    local binary="$1" plugin="$2"
    local line
    line="$("${binary}" version)" || return 1
    echo "${line}"
    case "${line}" in
        "teleport-${plugin} v$(release_version)"*) return 0 ;;
        *) return 1 ;;
    esac
}

is_static() {
    local out
    out="$(ldd "$1" 2>&1 || true)"
    echo "ldd: ${out}"
    case "${out}" in
        *"statically linked"* | *"not a dynamic executable"*) return 0 ;;
        *) return 1 ;;
    esac
}

at_most() {
    local what="$1" bytes="$2" limit="$3"
    echo "${what}: ${bytes} bytes (limit ${limit})"
    [ "${bytes}" -le "${limit}" ]
}

tarball_listing_is() {
    local tarball="$1" plugin="$2"
    local want got
    want="$(printf '%s\n' "teleport-${plugin}/" "teleport-${plugin}/README.md" "teleport-${plugin}/VERSION" \
        "teleport-${plugin}/install" "teleport-${plugin}/sbom.cdx.json" "teleport-${plugin}/teleport-${plugin}" \
        "teleport-${plugin}/teleport-${plugin}.example.toml")"
    got="$(tar -tzf "${tarball}")"
    echo "${got}"
    [ "${want}" = "${got}" ]
}

section_dist() {
    echo "== release tarballs (dist/)"
    need_tools "dist" cargo tar sha256sum || return 0
    local plugin tarball work
    for plugin in $(plugin_names); do
        tarball="$(tarball_of "${plugin}")"
        if [ ! -f "${tarball}" ]; then
            skip "dist ${plugin}: ${tarball##*/} not built (teleport-${plugin} has no real main yet, its build failed, or the build section did not run)"
            continue
        fi
        work="${DEPLOY_TMP}/dist-${plugin}"
        mkdir -p "${work}"
        check "dist ${plugin}: .sha256 matches" bash -c "cd '${DIST_DIR}' && sha256sum -c '${tarball##*/}.sha256'"
        check "dist ${plugin}: tarball layout" tarball_listing_is "${tarball}" "${plugin}"
        check "dist ${plugin}: CycloneDX SBOM next to the tarball names tokio and the plugin" \
            bash -c "grep -q '\"bomFormat\": \"CycloneDX\"' '${tarball}.cdx.json' && grep -q '\"name\": \"tokio\"' '${tarball}.cdx.json' && grep -q '\"name\": \"teleport-${plugin}\"' '${tarball}.cdx.json'"
        tar -xzf "${tarball}" -C "${work}"
        local dir="${work}/teleport-${plugin}"
        check "dist ${plugin}: VERSION is v$(release_version)" grep -qx "v$(release_version)" "${dir}/VERSION"
        check "dist ${plugin}: example config is what \`configure\` prints" \
            bash -c "'${dir}/teleport-${plugin}' configure | cmp - '${dir}/teleport-${plugin}.example.toml'"
        check "dist ${plugin}: binary is static" is_static "${dir}/teleport-${plugin}"
        check "dist ${plugin}: binary ≤ 12 MiB" at_most "teleport-${plugin}" \
            "$(stat -c %s "${dir}/teleport-${plugin}")" "${MAX_BINARY_BYTES}"

        # Default prefix, staged under DESTDIR (also creates the data directory there).
        check "dist ${plugin}: install (DESTDIR, default prefix)" \
            env DESTDIR="${work}/stage" "${dir}/install"
        check "dist ${plugin}: installed binary answers version" \
            version_answers "${work}/stage/usr/local/bin/teleport-${plugin}" "${plugin}"
        check "dist ${plugin}: install created the data directory" \
            test -d "${work}/stage/var/lib/teleport/plugins/${plugin}"
        # Prefix as an argument, run from another directory.
        check "dist ${plugin}: install PREFIX (argument)" \
            bash -c "cd / && DESTDIR='${work}/stage2' '${dir}/install' /opt/teleport"
        check "dist ${plugin}: installed under the prefix answers version" \
            version_answers "${work}/stage2/opt/teleport/bin/teleport-${plugin}" "${plugin}"
        # Prefix from the environment, no DESTDIR.
        check "dist ${plugin}: install PREFIX (environment)" \
            env PREFIX="${work}/prefix" DESTDIR="${work}/stage3" "${dir}/install"
        check "dist ${plugin}: installed binary is byte-identical" \
            cmp "${dir}/teleport-${plugin}" "${work}/stage3${work}/prefix/bin/teleport-${plugin}"
    done
}

docker_ready() {
    need_tools "$1" docker || return 1
    if ! docker info >/dev/null 2>&1; then
        skip "$1: the Docker engine is not running"
        return 1
    fi
}

image_config() { docker image inspect --format "$2" "$1"; }

# `docker load` says "Loaded image: <ref>" and the image ID is the config digest we wrote.
loads_as() {
    local archive="$1" ref="$2" config_digest="$3"
    docker rmi -f "${ref}" >/dev/null 2>&1 || true
    docker load -i "${archive}" | tee /dev/stderr | grep -qx "Loaded image: ${ref}" || return 1
    [ "$(image_config "${ref}" '{{.Id}}')" = "${config_digest}" ]
}

skopeo_digest_is() {
    local layout="$1" tag="$2" digest="$3"
    [ "$(skopeo inspect --format '{{.Digest}}' "oci:${layout}:${tag}")" = "${digest}" ]
}

# With its TOML in the data directory volume, the default command reads it: a TOML with a
# wrong type fails at load and names the key, which shows which file was read.
default_command_reads_volume_toml() {
    local ref="$1" plugin="$2" mount="$3"
    local dir="${DEPLOY_TMP}/volume-${plugin}-$RANDOM"
    mkdir -p "${dir}"
    printf '[teleport]\naddr = 12345\n' >"${dir}/teleport-${plugin}.toml"
    chmod -R a+rX "${dir}"
    local out
    out="$(docker run --rm --network none -v "${dir}:${mount}:ro" "${ref}" 2>&1)" && return 1
    echo "${out}"
    grep -q "teleport.addr" <<<"${out}"
}

# The container has exited, or logged that it is starting (after any config warning).
exited_or_started() {
    [ "$(docker inspect -f '{{.State.Running}}' "$1" 2>/dev/null)" != "true" ] \
        || docker logs "$1" 2>&1 | grep -q "Starting teleport-"
}

# A TOML the Helm chart renders (golden file) loads in the plugin without a config error or
# warning (both contain `key "`). Every file it names exists (dummy identity and secrets)
# under a data directory mounted into the image; what happens after loading (the dummy
# identity is refused, Teleport is unreachable) does not matter here.
chart_toml_accepted() {
    local ref="$1" plugin="$2" golden="$3"
    local root="${DEPLOY_TMP}/chart-toml-${plugin}-$RANDOM"
    local data="/var/lib/teleport/plugins/${plugin}"
    mkdir -p "${root}"
    # Credentials are checked when the config loads (a key that names the file), so the
    # identity and TLS files must be real: a throwaway self-signed key and certificate.
    local pki="${root}.pki"
    mkdir -p "${pki}"
    openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes -days 2 \
        -subj "/CN=chart-test" -keyout "${pki}/key.pem" -out "${pki}/cert.pem" >/dev/null 2>&1 || return 1
    local path file
    for path in $(grep -o "\"${data}/[^\"]*\"" "${golden}" | tr -d '"'); do
        file="${root}${path#"${data}"}"
        mkdir -p "$(dirname "${file}")"
        case "${path}" in
            */teleport-identity/*) cat "${pki}/key.pem" "${pki}/cert.pem" "${pki}/cert.pem" >"${file}" ;;
            *.key) cp "${pki}/key.pem" "${file}" ;;
            *.crt | *.pem) cp "${pki}/cert.pem" "${file}" ;;
            *) echo "dummy-secret" >"${file}" ;;
        esac
    done
    cp "${golden}" "${root}/teleport-${plugin}.toml"
    chmod -R a+rX "${root}"
    local cid out
    cid="$(docker run -d --network none -v "${root}:${data}:ro" "${ref}")" || return 1
    wait_until 60 exited_or_started "${cid}"
    out="$(docker logs "${cid}" 2>&1)"
    docker rm -f "${cid}" >/dev/null 2>&1
    echo "${out}" | head -n 20
    grep -q "Starting teleport-${plugin}" <<<"${out}" || grep -q "^error: " <<<"${out}" || return 1
    ! grep -Eq 'key "|TOML syntax error|config file not found' <<<"${out}"
}

section_image() {
    echo "== OCI images (dist/images/)"
    docker_ready "image" || return 0
    local tsv="${DIST_DIR}/images/images.tsv"
    if [ ! -s "${tsv}" ]; then
        skip "image: ${tsv} not found (run the build section)"
        return 0
    fi
    local version ref archive layout manifest config size name
    version="$(release_version)"
    cp "${tsv}" "${DEPLOY_TMP}/images-first.tsv"
    while IFS=$'\t' read -r ref archive layout manifest config size; do
        name="${ref%%:*}"
        if command -v skopeo >/dev/null 2>&1; then
            check "image ${name}: skopeo reads the OCI layout at the same digest" \
                skopeo_digest_is "${layout}" "${version}" "${manifest}"
        else
            skip "image ${name}: skopeo not installed"
        fi
        check "image ${name}: docker load" loads_as "${archive}" "${ref}" "${config}"
        check "image ${name}: runs as 65532:65532" \
            test "$(image_config "${ref}" '{{.Config.User}}')" = "65532:65532"
        check "image ${name}: has version and revision labels" bash -c \
            "docker image inspect --format '{{index .Config.Labels \"org.opencontainers.image.version\"}} {{index .Config.Labels \"org.opencontainers.image.revision\"}}' '${ref}' | grep -Eq '^${version} [0-9a-f]{40}\$'"
        check "image ${name}: compressed size ≤ 8 MiB" at_most "${name}" "${size}" "${MAX_IMAGE_BYTES}"
        case "${name}" in
            teleport-plugin-*)
                local plugin="${name#teleport-plugin-}"
                check "image ${name}: docker run ... version" bash -c \
                    "docker run --rm --network none '${ref}' version | grep -q '^teleport-${plugin} v${version}'"
                # As the Helm chart and the Compose file run it: read-only root, no
                # capabilities, no privilege escalation, the image's own non-root user.
                check "image ${name}: runs with a read-only root, no capabilities, no new privileges" bash -c \
                    "docker run --rm --network none --read-only --cap-drop ALL --security-opt no-new-privileges '${ref}' version | grep -q '^teleport-${plugin} '"
                check "image ${name}: default command reads the TOML from the data volume" \
                    default_command_reads_volume_toml "${ref}" "${plugin}" "/var/lib/teleport/plugins/${plugin}"
                local golden
                for golden in "${REPO_ROOT}/tests/deploy/helm/golden/${plugin}"-*.toml; do
                    case "${golden##*/}" in
                        *-default.toml | *-go.toml | *-tbot.toml) continue ;; # no recipients: invalid on purpose
                    esac
                    check "image ${name}: the chart's ${golden##*/} loads without config errors or warnings" \
                        chart_toml_accepted "${ref}" "${plugin}" "${golden}"
                done
                ;;
            *)
                check "image ${name}: docker run ... --help" \
                    docker run --rm --network none "${ref}" --help
                ;;
        esac
    done <"${tsv}"

    # Reproducible: writing the images again from the same binaries gives the same digests
    # (same commit: a commit in between changes the revision label and the timestamps).
    if check "image: cargo xtask image --no-build (write them again)" \
        bash -c "cd '${REPO_ROOT}' && cargo xtask image --no-build"; then
        check "image: second write is byte-identical (same manifest and config digests)" \
            diff <(cut -f1,4,5 "${DEPLOY_TMP}/images-first.tsv") <(cut -f1,4,5 "${tsv}")
    fi
}

section_dockerfile() {
    echo "== docker/Dockerfile (docker build from the release tarballs)"
    docker_ready "dockerfile" || return 0
    local version plugin ref rootfs
    version="$(release_version)"
    rootfs="${DIST_DIR}/teleport-plugins-rootfs-v${version}.tar"
    if [ ! -f "${rootfs}" ]; then
        skip "dockerfile: ${rootfs##*/} not built (run the build section)"
        return 0
    fi
    for plugin in $(plugin_names); do
        if [ ! -f "$(tarball_of "${plugin}")" ]; then
            skip "dockerfile ${plugin}: no release tarball (teleport-${plugin} has no real main yet, or its build failed)"
            continue
        fi
        ref="teleport-plugin-${plugin}:dockerfile-test"
        check "dockerfile ${plugin}: docker build (no network, FROM scratch)" \
            docker build --network none -f "${REPO_ROOT}/docker/Dockerfile" \
            --build-arg "PLUGIN=${plugin}" --build-arg "VERSION=${version}" -t "${ref}" "${DIST_DIR}"
        check "dockerfile ${plugin}: docker run ... version" bash -c \
            "docker run --rm --network none '${ref}' version | grep -q '^teleport-${plugin} v${version}'"
        check "dockerfile ${plugin}: runs as 65532:65532" \
            test "$(image_config "${ref}" '{{.Config.User}}')" = "65532:65532"
        check "dockerfile ${plugin}: \`start\` reads the TOML from the data volume" \
            default_command_reads_volume_toml "${ref}" "${plugin}" "/var/lib/teleport/plugins/${plugin}"
        docker rmi "${ref}" >/dev/null 2>&1 || true
    done
}
