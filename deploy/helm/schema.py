"""Writes values.schema.json for every teleport-plugin-<name> chart (or checks them: --check).

The schemas type the values the templates use, so `helm install` rejects a typo'd type
(`ops.port: "80"`, `tbot.enabled: "yes"`) with the key's name instead of rendering a broken
manifest. Unknown keys stay allowed, like the Go charts' schemas: values files written for
Teleport's charts carry keys this chart ignores.
"""

import json
import sys
from pathlib import Path

STRING = {"type": "string"}
BOOL = {"type": "boolean"}
STRINGS = {"type": "array", "items": STRING}
OBJECT = {"type": "object"}
LIST = {"type": "array"}


def obj(**properties):
    return {"type": "object", "properties": properties}




def secret(value, from_secret, path):
    """A value/fromSecret/secretPath triple under the Go charts' names."""
    return {value: STRING, from_secret: STRING, path: {"type": "string", "minLength": 1}}


RECIPIENTS = {
    "type": "object",
    "additionalProperties": {"anyOf": [STRING, STRINGS]},
}

COMMON = {
    "teleport": obj(
        address=STRING,
        identitySecretName=STRING,
        identitySecretPath={"type": "string", "minLength": 1},
    ),
    "log": obj(output=STRING, severity=STRING),
    "secretVolumeName": {"type": "string", "minLength": 1},
    "annotations": obj(config=OBJECT, deployment=OBJECT, pod=OBJECT, secret=OBJECT),
    "image": obj(
        repository={"type": "string", "minLength": 1},
        pullPolicy={"enum": ["Always", "IfNotPresent", "Never"]},
        tag=STRING,
    ),
    "imagePullSecrets": LIST,
    "nameOverride": STRING,
    "fullnameOverride": STRING,
    "podAnnotations": OBJECT,
    "podLabels": OBJECT,
    "podSecurityContext": OBJECT,
    "securityContext": OBJECT,
    "resources": OBJECT,
    "nodeSelector": OBJECT,
    "tolerations": LIST,
    "affinity": OBJECT,
    "failFast": BOOL,
    "replicaCount": {"type": "integer", "minimum": 0},
    "podDisruptionBudget": obj(
        enabled=BOOL,
        minAvailable={"anyOf": [{"type": "integer", "minimum": 0}, {"type": "string", "pattern": "^[0-9]+%$"}]},
    ),
    "extraEnv": LIST,
    "volumes": LIST,
    "volumeMounts": LIST,
    "serviceAccount": obj(create=BOOL, name=STRING, annotations=OBJECT),
    "ops": obj(enabled=BOOL, port={"type": "integer", "minimum": 1, "maximum": 65535}),
    "service": obj(enabled=BOOL, type={"enum": ["ClusterIP", "NodePort", "LoadBalancer"]}, annotations=OBJECT),
    "ingress": obj(enabled=BOOL, className=STRING, annotations=OBJECT, hosts=STRINGS, tls=LIST),
    "tbot": obj(
        enabled=BOOL,
        clusterName=STRING,
        teleportProxyAddress=STRING,
        teleportAuthAddress=STRING,
        joinMethod={"type": "string", "minLength": 1},
        token=STRING,
        credentialTTL=STRING,
        renewalInterval=STRING,
        image=obj(repository=STRING, tag=STRING, pullPolicy={"enum": ["Always", "IfNotPresent", "Never"]}),
        extraArgs=STRINGS,
        resources=OBJECT,
    ),
}

PLUGINS = {
    "slack": {
        "slack": obj(**secret("token", "tokenFromSecret", "tokenSecretPath")),
        "roleToRecipients": RECIPIENTS,
    },
    "discord": {
        "discord": obj(**secret("token", "tokenFromSecret", "tokenSecretPath")),
        "roleToRecipients": RECIPIENTS,
    },
    "msteams": {
        "msTeams": obj(
            appID=STRING,
            tenantID=STRING,
            teamsAppID=STRING,
            region=STRING,
            lookupPosted=BOOL,
            **secret("appSecret", "appSecretFromSecret", "appSecretFromSecretKey"),
        ),
        "roleToRecipients": RECIPIENTS,
    },
    "mattermost": {
        "mattermost": obj(url=STRING, recipients=STRINGS, **secret("token", "tokenFromSecret", "tokenSecretPath")),
        "roleToRecipients": RECIPIENTS,
    },
    "pagerduty": {
        "pagerduty": obj(userEmail=STRING, **secret("apiKey", "apiKeyFromSecret", "apiKeySecretPath")),
    },
    "opsgenie": {
        "opsgenie": obj(
            apiEndpoint=STRING,
            priority={"enum": ["", "P1", "P2", "P3", "P4", "P5"]},
            defaultSchedules=STRINGS,
            defaultTeams=STRINGS,
            autoApproval=obj(enabled=BOOL, schedules=STRINGS, allowedRoles=STRINGS, dryRun=BOOL),
            **secret("apiKey", "apiKeyFromSecret", "apiKeySecretPath"),
        ),
    },
    "datadog": {
        "datadog": obj(
            apiEndpoint=STRING,
            fallbackRecipient=STRING,
            severity=STRING,
            autoApproval=obj(enabled=BOOL, teams=STRINGS, allowedRoles=STRINGS, dryRun=BOOL),
            **secret("apiKey", "apiKeyFromSecret", "apiKeySecretPath"),
            **secret("applicationKey", "applicationKeyFromSecret", "applicationKeySecretPath"),
        ),
        "roleToRecipients": RECIPIENTS,
    },
    "servicenow": {
        "servicenow": obj(
            apiEndpoint=STRING,
            username=STRING,
            closeCode=STRING,
            autoApproval=obj(enabled=BOOL, rotas=STRINGS, allowedRoles=STRINGS, dryRun=BOOL),
            **secret("apiToken", "apiTokenFromSecret", "apiTokenSecretPath"),
        ),
    },
    "jira": {
        "teleport": obj(
            address=STRING,
            identityFromSecret=STRING,
            identitySecretName=STRING,
            identitySecretPath={"type": "string", "minLength": 1},
        ),
        "jira": obj(
            url=STRING,
            username=STRING,
            project=STRING,
            issueType=STRING,
            pollInterval=STRING,
            **secret("apiToken", "apiTokenFromSecret", "apiTokenSecretPath"),
        ),
        "http": obj(
            enabled=BOOL,
            publicAddress=STRING,
            tlsFromSecret=STRING,
            tlsKeySecretPath={"type": "string", "minLength": 1},
            tlsCertSecretPath={"type": "string", "minLength": 1},
            basicAuth=obj(user=STRING, password=STRING),
        ),
        "chartMode": {"enum": ["", "aws"]},
        "tlsSecretVolumeName": {"type": "string", "minLength": 1},
        "serviceType": {"enum": ["", "ClusterIP", "NodePort", "LoadBalancer"]},
        "serviceAnnotations": OBJECT,
    },
    "gitlab": {
        "gitlab": obj(
            url=STRING,
            projectId=STRING,
            pollInterval=STRING,
            minAccessLevel={"enum": ["", "guest", "planner", "reporter", "developer", "maintainer", "owner"]},
            **secret("token", "tokenFromSecret", "tokenSecretPath"),
            **secret("webhookSecret", "webhookSecretFromSecret", "webhookSecretSecretPath"),
        ),
        "http": obj(
            enabled=BOOL,
            publicAddress=STRING,
            tlsFromSecret=STRING,
            tlsKeySecretPath={"type": "string", "minLength": 1},
            tlsCertSecretPath={"type": "string", "minLength": 1},
            basicAuth=obj(user=STRING, password=STRING),
        ),
        "chartMode": {"enum": ["", "aws"]},
        "tlsSecretVolumeName": {"type": "string", "minLength": 1},
        "serviceType": {"enum": ["", "ClusterIP", "NodePort", "LoadBalancer"]},
        "serviceAnnotations": OBJECT,
    },
    "email": {
        "mailgun": obj(
            enabled=BOOL,
            domain=STRING,
            **secret("privateKey", "privateKeyFromSecret", "privateKeySecretPath"),
        ),
        "smtp": obj(
            enabled=BOOL,
            host=STRING,
            port={"type": "integer", "minimum": 1, "maximum": 65535},
            username=STRING,
            starttlsPolicy={"enum": ["", "mandatory", "opportunistic", "disabled"]},
            **secret("password", "passwordFromSecret", "passwordSecretPath"),
        ),
        "delivery": obj(sender=STRING, recipients=STRINGS),
        "roleToRecipients": RECIPIENTS,
    },
}


def schema(plugin):
    return {
        "$schema": "http://json-schema.org/draft-07/schema#",
        "title": f"Values of teleport-plugin-{plugin}",
        "type": "object",
        "properties": {**COMMON, **PLUGINS[plugin]},
    }


def main():
    check = "--check" in sys.argv[1:]
    here = Path(__file__).resolve().parent
    stale = []
    for plugin in PLUGINS:
        path = here / f"teleport-plugin-{plugin}" / "values.schema.json"
        text = json.dumps(schema(plugin), indent=2) + "\n"
        if check:
            if not path.exists() or path.read_text(encoding="utf-8") != text:
                stale.append(str(path))
        else:
            path.write_text(text, encoding="utf-8")
    for path in stale:
        print(f"stale: {path} (run python3 deploy/helm/schema.py)")
    return 1 if stale else 0


if __name__ == "__main__":
    sys.exit(main())
