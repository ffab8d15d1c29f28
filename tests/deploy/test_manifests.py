"""The Kubernetes manifests and the Dockerfile: probes, resources, non-root, the lock file."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
import yaml

ROOT = Path(__file__).resolve().parents[2]
K8S = ROOT / "deploy" / "k8s"


def documents() -> dict[tuple[str, str], dict[str, Any]]:
    found = {}
    for path in sorted(K8S.glob("*.yaml")):
        for doc in yaml.safe_load_all(path.read_text()):
            if doc and "metadata" in doc:
                found[(doc["kind"], doc["metadata"]["name"])] = doc
    return found


DOCS = documents()
DEPLOYMENTS = {name: doc for (kind, name), doc in DOCS.items() if kind == "Deployment"}


def pod_spec(doc: dict[str, Any]) -> dict[str, Any]:
    return doc["spec"]["template"]["spec"]


def test_there_are_deployments_for_api_worker_and_beat() -> None:
    assert set(DEPLOYMENTS) == {"scriptcron-api", "scriptcron-worker", "scriptcron-beat"}


@pytest.mark.parametrize("name", sorted(DEPLOYMENTS))
def test_every_container_has_liveness_and_readiness_probes(name: str) -> None:
    for container in pod_spec(DEPLOYMENTS[name])["containers"]:
        assert "livenessProbe" in container, name
        assert "readinessProbe" in container, name


def test_the_api_probes_are_healthz_and_readyz() -> None:
    (container,) = pod_spec(DEPLOYMENTS["scriptcron-api"])["containers"]
    assert container["livenessProbe"]["httpGet"]["path"] == "/healthz"
    assert container["readinessProbe"]["httpGet"]["path"] == "/readyz"


@pytest.mark.parametrize("key", sorted(k for k in DOCS if k[0] in {"Deployment", "Job"}))
def test_every_container_has_requests_and_limits(key: tuple[str, str]) -> None:
    for container in pod_spec(DOCS[key])["containers"]:
        resources = container["resources"]
        assert {"cpu", "memory"} <= set(resources["requests"]), key
        assert {"cpu", "memory"} <= set(resources["limits"]), key


@pytest.mark.parametrize("key", sorted(k for k in DOCS if k[0] in {"Deployment", "Job"}))
def test_every_pod_runs_as_a_non_root_user(key: tuple[str, str]) -> None:
    spec = pod_spec(DOCS[key])
    assert spec["securityContext"]["runAsNonRoot"] is True
    assert spec["securityContext"]["runAsUser"] != 0
    for container in spec["containers"]:
        assert container["securityContext"]["allowPrivilegeEscalation"] is False


def test_the_migration_job_runs_db_upgrade() -> None:
    job = DOCS[("Job", "scriptcron-migrate")]
    (container,) = pod_spec(job)["containers"]
    assert container["args"] == ["db", "upgrade"]


def test_the_worker_autoscaler_targets_the_worker_deployment() -> None:
    hpa = DOCS[("HorizontalPodAutoscaler", "scriptcron-worker")]
    assert hpa["spec"]["scaleTargetRef"] == {
        "apiVersion": "apps/v1", "kind": "Deployment", "name": "scriptcron-worker",
    }  # fmt: skip
    assert hpa["spec"]["minReplicas"] >= 1


def test_the_kustomization_lists_existing_files_and_leaves_the_example_secret_out() -> None:
    kustomization = yaml.safe_load((K8S / "kustomization.yaml").read_text())
    for resource in kustomization["resources"]:
        assert (K8S / resource).is_file(), resource
    assert "secret.example.yaml" not in kustomization["resources"]


def test_pods_read_their_secrets_from_the_secret_example_name() -> None:
    secret = DOCS[("Secret", "scriptcron-secrets")]
    for name, doc in DEPLOYMENTS.items():
        (container,) = pod_spec(doc)["containers"]
        refs = [source.get("secretRef", {}).get("name") for source in container["envFrom"]]
        assert secret["metadata"]["name"] in refs, name


def test_the_prometheus_config_scrapes_the_annotated_pods() -> None:
    config = yaml.safe_load((ROOT / "deploy" / "prometheus" / "prometheus.yml").read_text())
    jobs = {job["job_name"]: job for job in config["scrape_configs"]}
    assert "kubernetes_sd_configs" in jobs["scriptcron-pods"]
    for doc in DEPLOYMENTS.values():
        annotations = doc["spec"]["template"]["metadata"]["annotations"]
        assert annotations["prometheus.io/scrape"] == "true"


DOCKERFILE = (ROOT / "deploy" / "Dockerfile").read_text()


def test_the_dockerfile_is_multi_stage_on_python_311_slim() -> None:
    stages = [line for line in DOCKERFILE.splitlines() if line.startswith("FROM ")]
    assert len(stages) >= 2
    assert all(line.split()[1] == "python:3.11-slim" for line in stages)


def test_the_dockerfile_installs_the_lock_file_then_the_project_without_dependencies() -> None:
    lock = DOCKERFILE.index("pip install -r requirements.lock")
    project = DOCKERFILE.index("pip install --no-deps .")
    assert lock < project


def test_the_image_runs_as_a_non_root_user() -> None:
    args = dict(
        line.split()[1].split("=", 1)
        for line in DOCKERFILE.splitlines()
        if line.startswith("ARG ") and "=" in line
    )
    users = [line.split()[1] for line in DOCKERFILE.splitlines() if line.startswith("USER ")]
    assert users
    user = users[-1].split(":")[0]
    for name, default in args.items():
        user = user.replace("${" + name + "}", default)
    assert user.isdigit() or user.isidentifier()
    assert user not in {"root", "0"}


@pytest.mark.parametrize("key", sorted(k for k in DOCS if k[0] in {"Deployment", "Job"}))
def test_read_only_pods_can_write_the_spool_and_the_metrics_directory(key: tuple[str, str]) -> None:
    for container in pod_spec(DOCS[key])["containers"]:
        if container["securityContext"].get("readOnlyRootFilesystem"):
            mounts = {mount["mountPath"] for mount in container["volumeMounts"]}
            assert {"/tmp", "/data"} <= mounts, key
