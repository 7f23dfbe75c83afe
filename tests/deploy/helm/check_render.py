"""Checks one `helm template` rendering of a teleport-plugin-<name> chart.

Usage: check_render.py PLUGIN RENDERED.yaml GOLDEN.toml

Beyond schema validation (kubernetes-validate does that), this checks that the pieces fit:
- the ConfigMap's teleport-<plugin>.toml parses as TOML and equals the golden file
  (UPDATE_GOLDEN=1 rewrites it);
- the container runs `/usr/local/bin/teleport-plugin start --config /etc/teleport-<plugin>.toml`
  and that path is mounted from the ConfigMap;
- every file path the TOML names under /var/lib/teleport/plugins/ is mounted (as a file,
  or inside a mounted directory), and a Secret item feeds each secret file mount;
- a Secret the chart creates itself holds every key its volumes read;
- with tbot, the sidecar writes the identity where the TOML reads it;
- the plugin runs hardened: non-root, no privilege escalation, read-only root filesystem, all
  capabilities dropped;
- with the ops endpoint, startup, liveness and readiness probes use it;
- above one replica: a PodDisruptionBudget selects the pods, and they prefer different nodes.
Exits 1 with one line per failed check.
"""

import os
import sys
import tomllib

import yaml

DATA_ROOT = "/var/lib/teleport/plugins/"


def strings_in(value):
    """Every string inside a parsed TOML value."""
    if isinstance(value, str):
        yield value
    elif isinstance(value, dict):
        for v in value.values():
            yield from strings_in(v)
    elif isinstance(value, list):
        for v in value:
            yield from strings_in(v)


def main():
    plugin, rendered_path, golden_path = sys.argv[1:4]
    with open(rendered_path, encoding="utf-8") as f:
        docs = [d for d in yaml.safe_load_all(f) if d]
    by_kind = {}
    for doc in docs:
        by_kind.setdefault(doc["kind"], []).append(doc)
    failures = []

    def check(ok, message):
        if not ok:
            failures.append(message)

    config_file = f"teleport-{plugin}.toml"
    config_path = f"/etc/{config_file}"
    config_maps = [c for c in by_kind.get("ConfigMap", []) if config_file in c.get("data", {})]
    if len(config_maps) != 1:
        print(f"FAIL: expected one ConfigMap with {config_file}, found {len(config_maps)}")
        return 1
    config_map = config_maps[0]
    toml_text = "\n".join(line.rstrip() for line in config_map["data"][config_file].splitlines()) + "\n"
    try:
        config = tomllib.loads(toml_text)
    except tomllib.TOMLDecodeError as err:
        print(f"FAIL: {config_file} is not valid TOML: {err}\n{toml_text}")
        return 1

    if os.environ.get("UPDATE_GOLDEN") == "1" or not os.path.exists(golden_path):
        with open(golden_path, "w", encoding="utf-8") as f:
            f.write(toml_text)
    with open(golden_path, encoding="utf-8") as f:
        golden = f.read()
    check(toml_text == golden, f"{config_file} differs from {golden_path}:\n{toml_text}")

    deployments = by_kind.get("Deployment", [])
    if len(deployments) != 1:
        print(f"FAIL: expected one Deployment, found {len(deployments)}")
        return 1
    pod = deployments[0]["spec"]["template"]["spec"]
    containers = {c["name"]: c for c in pod["containers"]}
    container = containers.get(plugin)
    if container is None:
        print(f"FAIL: no container named {plugin}")
        return 1
    check(
        container.get("command") == ["/usr/local/bin/teleport-plugin", "start", "--config", config_path],
        f"unexpected command {container.get('command')}",
    )
    volumes = {v["name"]: v for v in pod.get("volumes", [])}
    mounts = {m["mountPath"]: m for m in container.get("volumeMounts", [])}

    config_mount = mounts.get(config_path)
    check(
        config_mount is not None
        and volumes.get(config_mount["name"], {}).get("configMap", {}).get("name")
        == config_map["metadata"]["name"],
        f"{config_path} is not mounted from ConfigMap {config_map['metadata']['name']}",
    )

    own_secrets = {s["metadata"]["name"]: s for s in by_kind.get("Secret", [])}
    for path in sorted({s for s in strings_in(config) if s.startswith(DATA_ROOT)}):
        mount = mounts.get(path)
        if mount is not None:
            volume = volumes.get(mount["name"], {})
            secret = volume.get("secret", {})
            items = {i["path"]: i["key"] for i in secret.get("items", [])}
            key = items.get(mount.get("subPath"))
            check(key is not None, f"{path}: volume {mount['name']} has no item for {mount.get('subPath')}")
            owner = own_secrets.get(secret.get("secretName"))
            if owner is not None and key is not None:
                check(key in owner.get("data", {}), f"{path}: Secret {owner['metadata']['name']} lacks key {key}")
            continue
        parent = os.path.dirname(path)
        dir_mount = mounts.get(parent)
        check(dir_mount is not None, f"{path} (named in the TOML) is not mounted")
        if dir_mount is not None:
            check("subPath" not in dir_mount, f"{parent} is a subPath mount, so updates would not propagate")

    # The pod must not run the plugin as root, and the mounted files stay private.
    check(pod.get("securityContext", {}).get("runAsNonRoot") is True, "pod securityContext lacks runAsNonRoot")
    for name, volume in volumes.items():
        for source in ("secret", "configMap"):
            if source in volume:
                check(volume[source].get("defaultMode") == 0o600, f"volume {name}: defaultMode is not 0600")

    security = container.get("securityContext", {})
    check(security.get("readOnlyRootFilesystem") is True, "the plugin's root filesystem is not read-only")
    check(security.get("allowPrivilegeEscalation") is False, "the plugin may escalate privileges")
    check(security.get("capabilities", {}).get("drop") == ["ALL"], "the plugin keeps Linux capabilities")

    if "ops" in config:
        port = int(config["ops"]["listen_addr"].rsplit(":", 1)[1])
        named = {p["name"]: p["containerPort"] for p in container.get("ports", [])}
        check(named.get("ops") == port, f"container port ops is not the TOML's {port}")
        for probe, path in (("startupProbe", "/healthz"), ("livenessProbe", "/healthz"), ("readinessProbe", "/readyz")):
            got = container.get(probe, {}).get("httpGet", {})
            check(got.get("path") == path and got.get("port") == "ops", f"{probe} does not GET {path} on the ops port")

    replicas = deployments[0]["spec"].get("replicas", 1)
    selector = deployments[0]["spec"]["selector"]["matchLabels"]
    budgets = by_kind.get("PodDisruptionBudget", [])
    if replicas > 1:
        check(len(budgets) == 1, f"{replicas} replicas but {len(budgets)} PodDisruptionBudgets")
        for budget in budgets:
            check(budget["spec"]["selector"]["matchLabels"] == selector, "the PodDisruptionBudget selects other pods")
            check(budget["spec"].get("minAvailable", 0) not in (0, "0%"), "the PodDisruptionBudget allows no replica")
        terms = (
            pod.get("affinity", {})
            .get("podAntiAffinity", {})
            .get("preferredDuringSchedulingIgnoredDuringExecution", [])
        )
        check(
            any(t["podAffinityTerm"]["labelSelector"]["matchLabels"] == selector for t in terms),
            f"{replicas} replicas may all land on one node (no pod anti-affinity)",
        )
    else:
        check(not budgets, "a PodDisruptionBudget on a single replica would block every node drain")

    if "tbot" in containers:
        identity = config["teleport"]["identity"]
        tbot_maps = [c for c in by_kind.get("ConfigMap", []) if "tbot.yaml" in c.get("data", {})]
        check(len(tbot_maps) == 1, "tbot enabled but no tbot ConfigMap")
        if tbot_maps:
            tbot = yaml.safe_load(tbot_maps[0]["data"]["tbot.yaml"])
            outputs = [o["destination"]["path"] for o in tbot.get("outputs", []) if o.get("type") == "identity"]
            check(
                outputs == [os.path.dirname(identity)],
                f"tbot writes to {outputs}, the plugin reads {identity}",
            )
        tbot_mounts = {m["mountPath"]: m["name"] for m in containers["tbot"].get("volumeMounts", [])}
        shared = tbot_mounts.get(os.path.dirname(identity))
        check(shared is not None and "emptyDir" in volumes.get(shared, {}), "tbot and plugin share no identity emptyDir")
        check(bool(pod.get("serviceAccountName")), "tbot enabled but no serviceAccountName")

    for failure in failures:
        print(f"FAIL: {failure}")
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
