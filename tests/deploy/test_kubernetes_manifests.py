"""deploy/kubernetes/: every manifest is valid, unknown fields included, for the Kubernetes versions it targets."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
import yaml
from fastapi.testclient import TestClient

from app.ledger.spool import ROTATE_BYTES
from devtools import REPO_ROOT

KUBERNETES_DIR = REPO_ROOT / "deploy" / "kubernetes"
MANIFESTS = sorted([*KUBERNETES_DIR.glob("*.yaml"), *KUBERNETES_DIR.glob("canary/*.yaml")])
# The oldest version the manifests support (the preStop sleep action) and kubernetes-validate's newest.
KUBERNETES_VERSIONS = ("1.30.0", None)
VALIDATOR = Path(sys.executable).parent / "kubernetes-validate"


def validate(manifest: Path, version: str | None) -> subprocess.CompletedProcess[str]:
    """``kubernetes-validate --strict``: unknown fields are errors; a kind without a schema only warns."""
    command = [str(VALIDATOR), "--strict", *(["--kubernetes-version", version] if version else []), str(manifest)]
    return subprocess.run(command, capture_output=True, text=True, timeout=60, check=False)


def test_the_manifests_are_there() -> None:
    assert {path.name for path in MANIFESTS} >= {"deployment.yaml", "service.yaml", "hpa.yaml", "pdb.yaml"}


@pytest.mark.parametrize("version", KUBERNETES_VERSIONS, ids=lambda version: version or "latest")
@pytest.mark.parametrize("manifest", MANIFESTS, ids=lambda path: str(path.relative_to(KUBERNETES_DIR)))
def test_manifest_validates_strictly(manifest: Path, version: str | None) -> None:
    result = validate(manifest, version)
    output = result.stdout + result.stderr
    assert result.returncode == 0, output
    # Every resource is checked against a schema (a warning means it was not) and passes.
    assert "WARN" not in output, output
    assert output.count("passed for resource") == len(list(yaml.safe_load_all(manifest.read_text()))), output


def test_the_validator_rejects_an_unknown_field(tmp_path: Path) -> None:
    deployment = (REPO_ROOT / "deploy" / "kubernetes" / "deployment.yaml").read_text()
    misspelt = tmp_path / "deployment.yaml"
    misspelt.write_text(deployment.replace("readinessProbe:", "readinessProbes:"))
    result = validate(misspelt, None)
    assert result.returncode != 0
    assert "'readinessProbes' was unexpected" in result.stdout + result.stderr


def test_the_probes_ask_routes_the_service_answers(client: TestClient) -> None:
    [deployment] = yaml.safe_load_all((REPO_ROOT / "deploy" / "kubernetes" / "deployment.yaml").read_text())
    [container] = deployment["spec"]["template"]["spec"]["containers"]
    probed = {container[probe]["httpGet"]["path"] for probe in ("startupProbe", "readinessProbe", "livenessProbe")}
    assert {"/v2/health/ready", "/v2/health/live"} <= probed
    for path in probed:
        assert client.get(path).status_code == 200, path


def pod_spec(name: str) -> tuple[dict[str, Any], dict[str, Any]]:
    [deployment] = yaml.safe_load_all((KUBERNETES_DIR / name).read_text())
    template = deployment["spec"]["template"]
    return template["metadata"], template["spec"]


def test_the_canary_is_the_stable_pod_with_another_image_under_the_same_service() -> None:
    stable_metadata, stable = pod_spec("deployment.yaml")
    canary_metadata, canary = pod_spec("canary/deployment.yaml")
    [stable_container], [canary_container] = stable["containers"], canary["containers"]
    assert canary_container["image"] != stable_container["image"]
    # Everything else is the stable pod's: the canary differs by its model only.
    assert {**canary, "containers": [{**canary_container, "image": None}]} == {
        **stable,
        "containers": [{**stable_container, "image": None}],
    }
    assert canary_metadata["annotations"] == stable_metadata["annotations"]
    [service] = yaml.safe_load_all((REPO_ROOT / "deploy" / "kubernetes" / "service.yaml").read_text())
    selector = service["spec"]["selector"].items()
    assert selector <= canary_metadata["labels"].items()
    assert canary_metadata["labels"]["track"] == "canary"


# <API version>-model<model package version>, the image's two version labels (docs/releasing.md).
IMAGE_TAG = re.compile(r"^registry\.example\.com/car-evaluation:(?P<api>\d+\.\d+\.\d+)-model(?P<model>\d+\.\d+\.\d+)$")


def test_the_images_are_tagged_by_api_and_model_version_and_the_canary_differs_by_its_model() -> None:
    [stable], [canary] = (pod_spec(name)[1]["containers"] for name in ("deployment.yaml", "canary/deployment.yaml"))
    stable_tag, canary_tag = IMAGE_TAG.match(stable["image"]), IMAGE_TAG.match(canary["image"])
    assert stable_tag, stable["image"]
    assert canary_tag, canary["image"]
    assert canary_tag["api"] == stable_tag["api"]  # the example is a model-only release
    assert canary_tag["model"] != stable_tag["model"]


# The Secret the pods read their credentials from (docs/deploying.md, "Deploying with PostgreSQL").
SECRET = "car-evaluation"
SECRET_KEYS = {"LEDGER_URL", "FEEDBACK_TOKEN"}
DEPLOYMENTS = ("deployment.yaml", "canary/deployment.yaml")
CREDENTIAL_NAME = re.compile(r"URL|TOKEN|PASSWORD|SECRET|KEY")
QUANTITY = re.compile(r"^(?P<number>\d+)(?P<unit>Ki|Mi|Gi)?$")


def container_env(name: str) -> dict[str, dict[str, Any]]:
    [container] = pod_spec(name)[1]["containers"]
    return {variable["name"]: variable for variable in container["env"]}


@pytest.mark.parametrize("name", DEPLOYMENTS)
def test_the_ledger_database_and_the_feedback_token_come_from_the_secret(name: str) -> None:
    env = container_env(name)
    for key in SECRET_KEYS:
        # Not optional: a pod without them does not start.
        assert env[key] == {"name": key, "valueFrom": {"secretKeyRef": {"name": SECRET, "key": key}}}, env.get(key)
    given = [variable for variable in env if CREDENTIAL_NAME.search(variable) and "value" in env[variable]]
    assert given == [], f"credentials given by value in {name}"


def test_no_secret_value_is_in_the_manifests() -> None:
    for manifest in MANIFESTS:
        text = manifest.read_text(encoding="utf-8")
        kinds = {document["kind"] for document in yaml.safe_load_all(text)}
        assert "Secret" not in kinds, f"{manifest} holds a Secret: it is created by a command (docs/deploying.md)"
        assert not re.search(r"://[^/\s:@]+:[^@\s/]+@", text), f"{manifest} holds a URL with a password"


def test_the_documented_secret_has_the_keys_the_pods_read_from_the_environment() -> None:
    deploying = (REPO_ROOT / "docs" / "deploying.md").read_text(encoding="utf-8")
    [command] = re.findall(rf"kubectl create secret generic {SECRET}\b(?:[^\n]*\\\n)*[^\n]*", deploying)
    literals = dict(re.findall(r"--from-literal=(\w+)=(\S+)", command))
    assert literals.keys() == SECRET_KEYS, command
    # Each value from the shell's environment, never written in the docs.
    assert all(re.fullmatch(r'"\$\w+"', value) for value in literals.values()), command


def quantity_bytes(quantity: str) -> int:
    match = QUANTITY.match(quantity)
    assert match, quantity
    return int(match["number"]) * {None: 1, "Ki": 2**10, "Mi": 2**20, "Gi": 2**30}[match["unit"]]


@pytest.mark.parametrize("name", DEPLOYMENTS)
def test_the_ledger_spool_is_on_an_emptydir_room_for_every_worker(name: str) -> None:
    pod = pod_spec(name)[1]
    [container] = pod["containers"]
    env = {variable: str(value["value"]) for variable, value in container_env(name).items() if "value" in value}
    data_dir = Path(env["LEDGER_DATA_DIR"])
    # The deepest mount holding the data directory.
    mount = max(
        (mount for mount in container["volumeMounts"] if data_dir.is_relative_to(mount["mountPath"])),
        key=lambda mount: len(mount["mountPath"]),
    )
    [volume] = [volume for volume in pod["volumes"] if volume["name"] == mount["name"]]
    workers, bound = int(env["WEB_CONCURRENCY"]), int(env["LEDGER_SPOOL_MAX_BYTES"])
    assert quantity_bytes(volume["emptyDir"]["sizeLimit"]) >= workers * (bound + ROTATE_BYTES)
    assert not mount.get("readOnly", False)
