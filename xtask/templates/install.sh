#!/bin/sh
# Installs teleport-{{plugin}} {{version}} from this release tarball.
#
#   sudo ./install              # /usr/local/bin/teleport-{{plugin}}
#   ./install "$HOME/.local"    # PREFIX as the first argument ...
#   PREFIX=/opt/teleport ./install   # ... or in the environment
#   DESTDIR=/tmp/pkgroot ./install   # staged install (packaging)
#
# It also creates the data directory /var/lib/teleport/plugins/{{plugin}} (under DESTDIR),
# where the plugin's credentials conventionally live, when it may.
set -eu

name="teleport-{{plugin}}"
prefix="${1:-${PREFIX:-/usr/local}}"
destdir="${DESTDIR:-}"
bindir="${destdir}${prefix}/bin"
datadir="${destdir}/var/lib/teleport/plugins/{{plugin}}"

cd "$(dirname "$0")"

if ! mkdir -p "${bindir}" 2>/dev/null || [ ! -w "${bindir}" ]; then
    echo "ERROR: cannot write to ${bindir}: run as root, or pass another prefix (./install PREFIX)" >&2
    exit 1
fi
cp "${name}" "${bindir}/${name}.new"
chmod 0755 "${bindir}/${name}.new"
# Rename over the old binary so a running plugin keeps its (deleted) file intact.
mv -f "${bindir}/${name}.new" "${bindir}/${name}"
echo "${name} {{version}} has been copied to ${bindir}"

if mkdir -p "${datadir}" 2>/dev/null; then
    chmod 0700 "${datadir}" 2>/dev/null || true
    echo "data directory: ${datadir}"
else
    echo "note: could not create ${datadir} (not root?); create it before starting the plugin"
fi

echo
echo "Next: write a config and start the plugin:"
echo "  ${bindir}/${name} configure > /etc/${name}.toml"
echo "  ${bindir}/${name} start --config /etc/${name}.toml"
