"""A small `kustomize build` for the fields deploy/kubernetes/ uses, so `make test` needs no kustomize.

kustomize is not installable here, and the manifests must still be checked as the cluster will
see them: base plus overlay, with the overlay's image, replicas, namespace and settings applied.
This reads only the fields below and refuses any other, so a patch added to a kustomization later
fails the test instead of being silently left out of what is validated:

- ``resources``: YAML files (several documents each) and directories holding a kustomization;
- ``configMapGenerator``: ``envs`` files and ``literals``, ``behavior`` create, merge or replace,
  only with ``generatorOptions.disableNameSuffixHash: true`` (no hashed names to rewrite);
- ``namespace``: set on every namespaced object, as kustomize does;
- ``images``: ``newName``/``newTag``/``digest`` for containers whose image has that name;
- ``replicas``: ``spec.replicas`` of the named Deployment.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import yaml

Manifest = dict[str, Any]

KNOWN_FIELDS = frozenset(
    {"apiVersion", "kind", "resources", "configMapGenerator", "generatorOptions", "namespace", "images", "replicas"}
)
CLUSTER_SCOPED_KINDS = frozenset(
    {"Namespace", "ClusterRole", "ClusterRoleBinding", "CustomResourceDefinition", "PriorityClass", "StorageClass"}
)
POD_TEMPLATE_KINDS = frozenset({"Deployment", "StatefulSet", "DaemonSet", "Job", "ReplicaSet"})


class KustomizationError(ValueError):
    """A kustomization this loader cannot build as kustomize would (unknown field, missing target)."""


def build(directory: Path) -> list[Manifest]:
    """The objects ``kustomize build directory`` would print, for the supported fields."""
    path = directory / "kustomization.yaml"
    spec = yaml.safe_load(path.read_text())
    unknown = set(spec) - KNOWN_FIELDS
    if unknown:
        raise KustomizationError(f"{path}: fields this loader does not apply: {sorted(unknown)}")
    objects: list[Manifest] = []
    for entry in spec.get("resources", []):
        target = directory / entry
        if target.is_dir():
            objects.extend(build(target))
        elif target.is_file():
            objects.extend(load_documents(target))
        else:
            raise KustomizationError(f"{path}: resource {entry} does not exist")
    _generate_config_maps(directory, spec, objects)
    if "namespace" in spec:
        for manifest in objects:
            if manifest["kind"] not in CLUSTER_SCOPED_KINDS:
                manifest["metadata"]["namespace"] = spec["namespace"]
    for image in spec.get("images", []):
        _set_image(objects, image)
    for replicas in spec.get("replicas", []):
        _set_replicas(objects, replicas["name"], int(replicas["count"]))
    return objects


def load_documents(path: Path) -> list[Manifest]:
    """Every non-empty YAML document of one file."""
    return [document for document in yaml.safe_load_all(path.read_text()) if document]


def read_env_file(path: Path) -> dict[str, str]:
    """KEY=VALUE lines as kustomize's ``envs`` reads them: blank lines and ``#`` comments skipped."""
    values: dict[str, str] = {}
    for number, line in enumerate(path.read_text().splitlines(), start=1):
        stripped = line.strip()
        if not stripped or stripped.startswith("#"):
            continue
        key, sep, value = stripped.partition("=")
        if not sep or not key:
            raise KustomizationError(f"{path}:{number}: not KEY=VALUE: {line!r}")
        values[key] = value
    return values


def pod_containers(manifest: Manifest) -> Iterator[Manifest]:
    """The containers and init containers of a workload's pod template (none for other kinds)."""
    if manifest["kind"] not in POD_TEMPLATE_KINDS:
        return
    pod = manifest["spec"]["template"]["spec"]
    yield from pod.get("initContainers", [])
    yield from pod.get("containers", [])


def _generate_config_maps(directory: Path, spec: Manifest, objects: list[Manifest]) -> None:
    generators = spec.get("configMapGenerator", [])
    if generators and not spec.get("generatorOptions", {}).get("disableNameSuffixHash"):
        raise KustomizationError(
            f"{directory}: configMapGenerator needs generatorOptions.disableNameSuffixHash: true here"
            " (this loader does not rewrite references to hashed names)"
        )
    for generator in generators:
        data: dict[str, str] = {}
        for env_file in generator.get("envs", []):
            data.update(read_env_file(directory / env_file))
        for literal in generator.get("literals", []):
            key, sep, value = literal.partition("=")
            if not sep:
                raise KustomizationError(f"{directory}: literal {literal!r} is not KEY=VALUE")
            data[key] = value
        behavior = generator.get("behavior", "create")
        existing = [o for o in objects if o["kind"] == "ConfigMap" and o["metadata"]["name"] == generator["name"]]
        if behavior == "create":
            if existing:
                raise KustomizationError(f"{directory}: ConfigMap {generator['name']} already exists")
            objects.append(
                {"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": generator["name"]}, "data": data}
            )
        elif behavior in ("merge", "replace"):
            if not existing:
                raise KustomizationError(f"{directory}: no ConfigMap {generator['name']} to {behavior}")
            merged = {} if behavior == "replace" else dict(existing[0].get("data", {}))
            merged.update(data)
            existing[0]["data"] = merged
        else:
            raise KustomizationError(f"{directory}: unknown behavior {behavior!r}")


def _set_image(objects: list[Manifest], image: Manifest) -> None:
    for manifest in objects:
        for container in pod_containers(manifest):
            name, tag, digest = _split_image(container["image"])
            if name != image["name"]:
                continue
            name = image.get("newName", name)
            if "digest" in image:
                container["image"] = f"{name}@{image['digest']}"
            else:
                tag = image.get("newTag", tag)
                container["image"] = f"{name}@{digest}" if digest and "newTag" not in image else f"{name}:{tag}"


def _split_image(image: str) -> tuple[str, str, str]:
    """``name:tag@digest`` into its parts; a registry's port (``host:5000/name``) is not a tag."""
    rest, _, digest = image.partition("@")
    slash = rest.rfind("/")
    colon = rest.rfind(":")
    if colon > slash:
        return rest[:colon], rest[colon + 1 :], digest
    return rest, "latest", digest


def _set_replicas(objects: list[Manifest], name: str, count: int) -> None:
    targets = [o for o in objects if o["kind"] in ("Deployment", "StatefulSet") and o["metadata"]["name"] == name]
    if not targets:
        raise KustomizationError(f"replicas: no Deployment named {name}")
    for target in targets:
        target["spec"]["replicas"] = count
