"""deploy/kubernetes/ runs the processes as the Procfile does, with the settings they need, valid for the cluster.

Offline: the base and the example overlay are built by tests/support/kustomize.py and every object
is checked against the Kubernetes 1.33 schemas that kubernetes-validate bundles (strict: a
misspelled field fails), the KEDA ScaledObject against the schema written below from KEDA's
ScaledObject specification. Then the manifests are held to the project: the same commands as the
Procfile and docker-compose.yml, every setting each process needs loaded from the ConfigMap and the
example Secret in production mode, the ports of the settings, probes and Services on ports that
exist, and the security context every pod must have.
"""

from __future__ import annotations

import shlex
from collections.abc import Callable, Iterator, Mapping
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import jsonschema
import kubernetes_validate
import pytest
import yaml
from redis import Redis
from rq import Queue

from service_kit.settings import (
    DEFAULT_GRPC_PORTS,
    DEFAULT_METRICS_PORTS,
    DEFAULT_WORKER_METRICS_PORTS,
    SERVICE_NAMES,
    SettingsError,
    load_attendance_settings,
    load_database_url,
    load_lti_settings,
    load_playback_settings,
    load_settings,
    load_transcode_settings,
)
from service_kit.settings.rate_limits import load_rate_limit_settings
from tests.support.kustomize import KustomizationError, Manifest, build, load_documents, pod_containers
from transcode_svc.adapters import TRANSCODE_QUEUE

ROOT = Path(__file__).resolve().parents[2]
KUBERNETES = ROOT / "deploy" / "kubernetes"
BASE = KUBERNETES / "base"
OVERLAY = KUBERNETES / "overlays" / "example"
KUBERNETES_VERSION = "1.33.0"
"""A release the manifests must suit: kubernetes-validate bundles its schemas (native gRPC probes are GA since 1.27)."""
NO_DOTENV = Path("/nonexistent/.env")
"""Settings are loaded from the manifests' values alone, never from a developer's .env."""
NOT_SETTINGS = {"REDIS_ADDRESS"}
"""ConfigMap keys no process reads: KEDA's address of Redis."""
DEVELOPMENT_ONLY = {"zoom"}
"""Procfile processes that have no place in a cluster (the local Zoom stand-in)."""

KEDA_SCALED_OBJECT_SCHEMA: dict[str, Any] = {
    # From KEDA's ScaledObject specification (keda.sh/docs/2.x/reference/scaledobject-spec) and its
    # redis scaler (keda.sh/docs/2.x/scalers/redis-lists): only the fields used here are allowed, so
    # a misspelled one fails as kubernetes-validate's strict mode fails one in a Deployment.
    "type": "object",
    "required": ["apiVersion", "kind", "metadata", "spec"],
    "additionalProperties": False,
    "properties": {
        "apiVersion": {"const": "keda.sh/v1alpha1"},
        "kind": {"const": "ScaledObject"},
        "metadata": {"type": "object", "required": ["name"]},
        "spec": {
            "type": "object",
            "required": ["scaleTargetRef", "triggers"],
            "additionalProperties": False,
            "properties": {
                "scaleTargetRef": {
                    "type": "object",
                    "required": ["name"],
                    "additionalProperties": False,
                    "properties": {
                        "apiVersion": {"type": "string"},
                        "kind": {"type": "string"},
                        "name": {"type": "string", "minLength": 1},
                        "envSourceContainerName": {"type": "string"},
                    },
                },
                "pollingInterval": {"type": "integer", "minimum": 1},
                "cooldownPeriod": {"type": "integer", "minimum": 0},
                "initialCooldownPeriod": {"type": "integer", "minimum": 0},
                "idleReplicaCount": {"type": "integer", "minimum": 0},
                "minReplicaCount": {"type": "integer", "minimum": 0},
                "maxReplicaCount": {"type": "integer", "minimum": 1},
                "advanced": {
                    "type": "object",
                    "additionalProperties": False,
                    "properties": {
                        "restoreToOriginalReplicaCount": {"type": "boolean"},
                        "horizontalPodAutoscalerConfig": {
                            "type": "object",
                            "additionalProperties": False,
                            "properties": {"name": {"type": "string"}, "behavior": {"type": "object"}},
                        },
                    },
                },
                "triggers": {
                    "type": "array",
                    "minItems": 1,
                    "items": {
                        "type": "object",
                        "required": ["type", "metadata"],
                        "additionalProperties": False,
                        "properties": {
                            "type": {"type": "string"},
                            "name": {"type": "string"},
                            "useCachedMetrics": {"type": "boolean"},
                            "metricType": {"enum": ["AverageValue", "Value", "Utilization"]},
                            "authenticationRef": {
                                "type": "object",
                                "required": ["name"],
                                "properties": {"name": {"type": "string"}, "kind": {"type": "string"}},
                            },
                            # KEDA reads every trigger's metadata as map[string]string: numbers are quoted.
                            "metadata": {"type": "object", "additionalProperties": {"type": "string"}},
                        },
                        "if": {"properties": {"type": {"const": "redis"}}},
                        "then": {
                            "properties": {
                                "metadata": {
                                    "required": ["listName"],
                                    "anyOf": [
                                        {"required": ["address"]},
                                        {"required": ["addressFromEnv"]},
                                        {"required": ["host", "port"]},
                                        {"required": ["hostFromEnv", "portFromEnv"]},
                                    ],
                                    "propertyNames": {
                                        "enum": [
                                            "address",
                                            "addressFromEnv",
                                            "host",
                                            "hostFromEnv",
                                            "port",
                                            "portFromEnv",
                                            "username",
                                            "usernameFromEnv",
                                            "passwordFromEnv",
                                            "databaseIndex",
                                            "enableTLS",
                                            "unsafeSsl",
                                            "listName",
                                            "listLength",
                                            "activationListLength",
                                        ]
                                    },
                                    "properties": {
                                        "listLength": {"pattern": "^[1-9][0-9]*$"},
                                        "activationListLength": {"pattern": "^[0-9]+$"},
                                        "databaseIndex": {"pattern": "^[0-9]+$"},
                                    },
                                }
                            }
                        },
                    },
                },
            },
        },
    },
}


# --- the loader -------------------------------------------------------------------------------


def write(path: Path, text: str) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text)


DEPLOYMENT = """\
apiVersion: apps/v1
kind: Deployment
metadata: {name: app}
spec:
  replicas: 1
  selector: {matchLabels: {app: app}}
  template:
    metadata: {labels: {app: app}}
    spec:
      initContainers: [{name: init, image: "registry:5000/other:1"}]
      containers: [{name: app, image: "lecture-media:dev"}]
---
apiVersion: v1
kind: Namespace
metadata: {name: ignored}
"""


def test_the_loader_applies_resources_generators_namespace_images_and_replicas(tmp_path: Path) -> None:
    write(tmp_path / "base" / "app.yaml", DEPLOYMENT)
    write(tmp_path / "base" / "config.env", "# comment\n\nA=1\nB=two=2\n")
    write(
        tmp_path / "base" / "kustomization.yaml",
        "resources: [app.yaml]\nconfigMapGenerator: [{name: cfg, envs: [config.env]}]\n"
        "generatorOptions: {disableNameSuffixHash: true}\n",
    )
    write(
        tmp_path / "overlay" / "kustomization.yaml",
        "namespace: media\nresources: [../base]\n"
        "images: [{name: lecture-media, newName: reg.example/lm, newTag: '7'}]\n"
        "replicas: [{name: app, count: 4}]\n"
        "configMapGenerator: [{name: cfg, behavior: merge, literals: [B=3, C=4]}]\n"
        "generatorOptions: {disableNameSuffixHash: true}\n",
    )
    objects = {(o["kind"], o["metadata"]["name"]): o for o in build(tmp_path / "overlay")}
    deployment = objects[("Deployment", "app")]
    assert deployment["metadata"]["namespace"] == "media"
    assert deployment["spec"]["replicas"] == 4
    images = [c["image"] for c in pod_containers(deployment)]
    assert images == ["registry:5000/other:1", "reg.example/lm:7"]
    assert objects[("ConfigMap", "cfg")]["data"] == {"A": "1", "B": "3", "C": "4"}
    assert objects[("ConfigMap", "cfg")]["metadata"]["namespace"] == "media"
    assert "namespace" not in objects[("Namespace", "ignored")]["metadata"]


@pytest.mark.parametrize(
    "kustomization",
    [
        "resources: [app.yaml]\npatches: [{path: p.yaml}]\n",
        "resources: [missing.yaml]\n",
        "resources: [app.yaml]\nreplicas: [{name: nobody, count: 2}]\n",
        "resources: [app.yaml]\nconfigMapGenerator: [{name: cfg, literals: [A=1]}]\n",
        "resources: [app.yaml]\nconfigMapGenerator: [{name: cfg, behavior: merge, literals: [A=1]}]\n"
        "generatorOptions: {disableNameSuffixHash: true}\n",
    ],
    ids=["unknown-field", "missing-resource", "replicas-of-nothing", "hashed-names", "merge-into-nothing"],
)
def test_the_loader_refuses_what_it_would_not_build_as_kustomize_does(tmp_path: Path, kustomization: str) -> None:
    write(tmp_path / "app.yaml", DEPLOYMENT)
    write(tmp_path / "kustomization.yaml", kustomization)
    with pytest.raises(KustomizationError):
        build(tmp_path)


# --- the manifests ----------------------------------------------------------------------------


@pytest.fixture(scope="module")
def base() -> list[Manifest]:
    return build(BASE)


@pytest.fixture(scope="module")
def overlay() -> list[Manifest]:
    return build(OVERLAY)


@pytest.fixture(scope="module")
def secret() -> Manifest:
    (document,) = load_documents(KUBERNETES / "secret.example.yaml")
    return document


def named(objects: list[Manifest], kind: str) -> dict[str, Manifest]:
    return {o["metadata"]["name"]: o for o in objects if o["kind"] == kind}


def workloads(objects: list[Manifest]) -> Iterator[Manifest]:
    return (o for o in objects if o["kind"] in ("Deployment", "Job"))


def validate(manifest: Manifest) -> None:
    """Kubernetes' own schema for built-in kinds; KEDA's for the ScaledObject."""
    if manifest["kind"] == "ScaledObject":
        jsonschema.validate(manifest, KEDA_SCALED_OBJECT_SCHEMA)
    else:
        kubernetes_validate.validate(manifest, KUBERNETES_VERSION, strict=True)


@pytest.mark.parametrize("directory", [BASE, OVERLAY], ids=["base", "overlay"])
def test_every_object_is_valid_for_kubernetes_and_keda(directory: Path) -> None:
    objects = build(directory)
    assert {o["kind"] for o in objects} >= {"Deployment", "Service", "Job", "ConfigMap", "ScaledObject"}
    for manifest in objects:
        validate(manifest)


def test_the_example_secret_is_valid_and_the_overlay_adds_an_ingress_and_a_namespace(
    secret: Manifest, overlay: list[Manifest]
) -> None:
    validate(secret)
    assert {"Ingress", "Namespace", "PodDisruptionBudget"} <= {o["kind"] for o in overlay}
    for manifest in overlay:
        assert manifest["kind"] == "Namespace" or manifest["metadata"]["namespace"] == "media"


def test_the_validators_refuse_a_misspelled_field_and_an_unquoted_keda_number(base: list[Manifest]) -> None:
    deployment = dict(named(base, "Deployment")["edge"])
    with pytest.raises(kubernetes_validate.ValidationError):
        validate({**deployment, "spec": {**deployment["spec"], "replica": 2}})
    scaled = named(base, "ScaledObject")["worker"]
    trigger = {**scaled["spec"]["triggers"][0], "metadata": {**scaled["spec"]["triggers"][0]["metadata"]}}
    trigger["metadata"]["listLength"] = 5
    with pytest.raises(jsonschema.ValidationError):
        validate({**scaled, "spec": {**scaled["spec"], "triggers": [trigger]}})


def test_the_overlay_sets_the_image_and_replicas(overlay: list[Manifest]) -> None:
    images = {c["image"] for w in workloads(overlay) for c in pod_containers(w)}
    assert images == {"registry.example.edu/lecture-media:2026.11.30"}
    assert named(overlay, "Deployment")["edge"]["spec"]["replicas"] == 3


# --- the same processes as the Procfile and docker compose ------------------------------------


def procfile_commands() -> dict[str, list[str]]:
    commands: dict[str, list[str]] = {}
    for line in (ROOT / "Procfile").read_text().splitlines():
        if not line.strip() or line.startswith("#"):
            continue
        name, _, command = line.partition(":")
        words = shlex.split(command)
        commands[name.strip()] = words[1:] if words[0] == "exec" else words
    return commands


def compose_commands() -> dict[str, list[str]]:
    services = yaml.safe_load((ROOT / "docker-compose.yml").read_text())["services"]
    return {name: service["command"] for name, service in services.items() if "command" in service}


def test_every_procfile_process_has_one_workload_running_its_command(base: list[Manifest]) -> None:
    commands = [c["command"] for w in workloads(base) for c in w["spec"]["template"]["spec"]["containers"]]
    for name, command in procfile_commands().items():
        if name in DEVELOPMENT_ONLY:
            continue
        assert commands.count(command) == 1, (
            f"Procfile's {name} ({command}) runs in {commands.count(command)} workloads"
        )
    known = [*procfile_commands().values(), *compose_commands().values()]
    assert [c for c in commands if c not in known] == []


def test_the_migrate_job_runs_docker_composes_migrate_command(base: list[Manifest]) -> None:
    (container,) = named(base, "Job")["migrate"]["spec"]["template"]["spec"]["containers"]
    assert container["command"] == compose_commands()["migrate"]


# --- the settings each process needs ----------------------------------------------------------


def container_environment(
    container: Manifest, config_maps: Mapping[str, Manifest], secrets: Mapping[str, Manifest]
) -> dict[str, str]:
    """What the process will see: envFrom ConfigMaps and Secrets in order, then env (which wins)."""
    environment: dict[str, str] = {}
    for source in container.get("envFrom", []):
        if "configMapRef" in source:
            environment.update(config_maps[source["configMapRef"]["name"]]["data"])
        else:
            environment.update(secrets[source["secretRef"]["name"]]["stringData"])
    for variable in container.get("env", []):
        if "value" in variable:
            environment[variable["name"]] = variable["value"]
        elif "configMapKeyRef" in variable["valueFrom"]:
            ref = variable["valueFrom"]["configMapKeyRef"]
            environment[variable["name"]] = config_maps[ref["name"]]["data"][ref["key"]]
        else:
            ref = variable["valueFrom"]["secretKeyRef"]
            environment[variable["name"]] = secrets[ref["name"]]["stringData"][ref["key"]]
    return environment


LOADERS: tuple[Callable[..., object], ...] = (
    load_settings,
    load_lti_settings,
    load_playback_settings,
    load_attendance_settings,
    load_rate_limit_settings,
    load_transcode_settings,
)


def check_settings_load(objects: list[Manifest], secret: Manifest) -> None:
    """Every process starts: all its settings load from what its container is given (production mode)."""
    config_maps, secrets = named(objects, "ConfigMap"), {secret["metadata"]["name"]: secret}
    for workload in workloads(objects):
        for container in workload["spec"]["template"]["spec"]["containers"]:
            environment = container_environment(container, config_maps, secrets)
            if container["command"] == compose_commands()["migrate"]:
                load_database_url(environment, NO_DOTENV)
                continue
            assert environment["MEDIA_ENV"] == "production"
            for loader in LOADERS:
                try:
                    loader(environment, NO_DOTENV)
                except SettingsError as exc:
                    raise AssertionError(f"{workload['metadata']['name']}: {exc}") from exc


def test_every_process_finds_every_setting_it_needs(overlay: list[Manifest], secret: Manifest) -> None:
    check_settings_load(overlay, secret)


@pytest.mark.parametrize(
    "name",
    [
        "AWS_ACCESS_KEY_ID",
        "AWS_SECRET_ACCESS_KEY",
        "JWT_SECRET_KEY",
        "HLS_PROXY_SECRET",
        "ZOOM_WEBHOOK_SECRET",
        "LTI_ENCRYPTION_KEYS",
    ],
)
def test_a_secret_missing_from_the_manifests_fails_the_check(
    overlay: list[Manifest], secret: Manifest, name: str
) -> None:
    without = {**secret, "stringData": {k: v for k, v in secret["stringData"].items() if k != name}}
    with pytest.raises(AssertionError, match=name):
        check_settings_load(overlay, without)


def test_every_configured_name_is_a_documented_setting(overlay: list[Manifest], secret: Manifest) -> None:
    documented = {
        line.lstrip("# ").partition("=")[0]
        for line in (ROOT / ".env.example").read_text().splitlines()
        if "=" in line and line.lstrip("# ").partition("=")[0].isupper()
    }
    configured = set(named(overlay, "ConfigMap")["media-config"]["data"]) | set(secret["stringData"])
    assert configured - NOT_SETTINGS - documented == set()


def test_secrets_are_only_in_the_secret(overlay: list[Manifest], secret: Manifest) -> None:
    config = named(overlay, "ConfigMap")["media-config"]["data"]
    assert set(config) & set(secret["stringData"]) == set()
    assert not any(word in name for name in config for word in ("SECRET", "PASSWORD", "KEY", "DATABASE_URL"))


# --- ports, probes, Services ------------------------------------------------------------------


def container_ports(container: Manifest) -> dict[str | int, int]:
    """Each declared port by name and by number."""
    ports: dict[str | int, int] = {}
    for port in container.get("ports", []):
        ports[port["containerPort"]] = port["containerPort"]
        if "name" in port:
            ports[port["name"]] = port["containerPort"]
    return ports


def test_ports_are_the_settings_and_the_services_dial_them(overlay: list[Manifest], secret: Manifest) -> None:
    deployments, services = named(overlay, "Deployment"), named(overlay, "Service")
    config = named(overlay, "ConfigMap")["media-config"]["data"]
    settings = load_settings({**config, **secret["stringData"]}, NO_DOTENV)
    for name in SERVICE_NAMES:
        (container,) = deployments[name]["spec"]["template"]["spec"]["containers"]
        ports = container_ports(container)
        assert ports["grpc"] == DEFAULT_GRPC_PORTS[name] == settings.endpoint(name).port
        assert ports["metrics"] == DEFAULT_METRICS_PORTS[name] == settings.endpoint(name).metrics_port
        (service_port,) = services[name]["spec"]["ports"]
        assert settings.endpoint(name).address == f"{name}:{service_port['port']}"
        assert ports[service_port["targetPort"]] == DEFAULT_GRPC_PORTS[name]
    for name, deployment in (("transcode", "worker"), ("upload", "upload-worker")):
        (container,) = deployments[deployment]["spec"]["template"]["spec"]["containers"]
        assert container_ports(container)["metrics"] == DEFAULT_WORKER_METRICS_PORTS[name]
        assert settings.worker_metrics_ports[name] == DEFAULT_WORKER_METRICS_PORTS[name]
    (edge,) = deployments["edge"]["spec"]["template"]["spec"]["containers"]
    assert container_ports(edge)["http"] == settings.edge_port
    assert settings.grpc_bind_host == settings.edge_host == "0.0.0.0"


def probes(container: Manifest) -> dict[str, Manifest]:
    return {kind: container[kind] for kind in ("startupProbe", "readinessProbe", "livenessProbe") if kind in container}


def test_services_are_probed_over_grpc_health_and_the_edge_over_health(overlay: list[Manifest]) -> None:
    deployments = named(overlay, "Deployment")
    for name in SERVICE_NAMES:
        (container,) = deployments[name]["spec"]["template"]["spec"]["containers"]
        found = probes(container)
        assert set(found) == {"startupProbe", "readinessProbe", "livenessProbe"}
        assert all(probe["grpc"]["port"] == DEFAULT_GRPC_PORTS[name] for probe in found.values())
    (edge,) = deployments["edge"]["spec"]["template"]["spec"]["containers"]
    assert edge["readinessProbe"]["httpGet"]["path"] == "/health"
    assert edge["startupProbe"]["httpGet"]["path"] == "/health"


def probe_port(probe: Manifest) -> str | int:
    for handler in ("grpc", "httpGet", "tcpSocket"):
        if handler in probe:
            port: str | int = probe[handler]["port"]
            return port
    raise AssertionError(f"a probe this test does not know: {probe}")


def test_probes_services_and_scrapes_point_at_ports_that_exist(overlay: list[Manifest]) -> None:
    pods = [w["spec"]["template"] for w in workloads(overlay)]
    for pod in pods:
        for container in pod["spec"]["containers"]:
            ports = container_ports(container)
            for kind, probe in probes(container).items():
                assert probe_port(probe) in ports, f"{container['name']} {kind}"
        annotations = pod["metadata"].get("annotations", {})
        if "prometheus.io/port" in annotations:
            declared = {p for c in pod["spec"]["containers"] for p in container_ports(c)}
            assert int(annotations["prometheus.io/port"]) in declared
    for service in named(overlay, "Service").values():
        selector = service["spec"]["selector"]
        (pod,) = [p for p in pods if selector.items() <= p["metadata"]["labels"].items()]
        declared = {p for c in pod["spec"]["containers"] for p in container_ports(c)}
        assert all(port["targetPort"] in declared for port in service["spec"]["ports"])
    services = named(overlay, "Service")
    for ingress in named(overlay, "Ingress").values():
        for rule in ingress["spec"]["rules"]:
            for path in rule["http"]["paths"]:
                backend = path["backend"]["service"]
                names = {p.get("name") for p in services[backend["name"]]["spec"]["ports"]}
                assert backend["port"]["name"] in names
    pdb = named(overlay, "PodDisruptionBudget")["edge"]
    assert (
        pdb["spec"]["selector"]["matchLabels"].items()
        <= named(overlay, "Deployment")["edge"]["spec"]["template"]["metadata"]["labels"].items()
    )


def test_keda_scales_the_transcode_worker_on_rqs_transcode_list(overlay: list[Manifest], secret: Manifest) -> None:
    scaled = named(overlay, "ScaledObject")["worker"]
    assert scaled["spec"]["scaleTargetRef"]["name"] in named(overlay, "Deployment")
    (trigger,) = scaled["spec"]["triggers"]
    assert trigger["type"] == "redis"
    assert trigger["metadata"]["listName"] == Queue(TRANSCODE_QUEUE, connection=Redis()).key == "rq:queue:transcode"
    redis_url = urlsplit(secret["stringData"]["REDIS_URL"])
    assert trigger["metadata"]["databaseIndex"] == (redis_url.path.strip("/") or "0")
    config = named(overlay, "ConfigMap")["media-config"]["data"]
    assert config[trigger["metadata"]["addressFromEnv"]].rpartition(":")[2] == str(redis_url.port or 6379)


# --- how every pod runs -----------------------------------------------------------------------


def test_every_pod_runs_unprivileged_with_requests_and_limits(overlay: list[Manifest]) -> None:
    for workload in workloads(overlay):
        pod = workload["spec"]["template"]["spec"]
        assert pod["securityContext"]["runAsNonRoot"] is True
        assert pod["securityContext"]["runAsUser"] != 0
        mounts = {v["name"] for v in pod.get("volumes", []) if "emptyDir" in v}
        for container in pod_containers(workload):
            where = f"{workload['metadata']['name']}/{container['name']}"
            context = container["securityContext"]
            assert context["allowPrivilegeEscalation"] is False, where
            assert context["readOnlyRootFilesystem"] is True, where
            assert context["capabilities"]["drop"] == ["ALL"], where
            assert {m["mountPath"] for m in container["volumeMounts"] if m["name"] in mounts} >= {"/tmp"}, where
            for bound in ("requests", "limits"):
                assert set(container["resources"][bound]) >= {"cpu", "memory"}, where
