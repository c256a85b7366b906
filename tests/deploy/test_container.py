"""The Dockerfile, built and run for real with podman, and deploy/kubernetes/deployment.yaml run against it.

The image is built once per run on a Debian base made with debootstrap (no registry is
reachable), with the model package from the release test's private pypiserver, passed as a
build secret. Then: it serves on a read-only root as its non-root user, finishes a request
in flight on SIGTERM and exits 0, holds no trace of the index's URL or password, and the
Deployment runs it with its own probes, security context and emptyDir.

The private index (fixtures ``private_index`` and ``password``) is the release test's, through
tests/deploy/conftest.py. The tests marked ``container`` need root, podman, runc, debootstrap
(`.ci/run` installs them) and PyPI. Run with -s to see the image's size and start-up times.
"""

from __future__ import annotations

import itertools
import json
import os
import re
import secrets
import shutil
import socket
import subprocess
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
import yaml

from app import __version__ as api_version
from devtools import REPO_ROOT
from devtools.podman import Podman, archive_blobs, build_image, import_debian_base, kube_played
from devtools.processes import free_port, running_process
from devtools.programs import require_program, unavailable
from release.environment import isolated_pip_env
from release.index import Index
from tests.conftest import API, ARTICLE_ROW
from tests.release.conftest import USER, seed
from tests.test_metrics import predictions_counted_by_each_scrape
from tests.test_server import BODY, post_head, read_answer

DOCKERFILE = REPO_ROOT / "Dockerfile"
DEPLOYMENT = REPO_ROOT / "deploy" / "kubernetes" / "deployment.yaml"
SOURCE = "https://git.example.com/car-evaluation"  # what a build passes as --build-arg SOURCE
IMAGE_PORT = 8000  # the image's default $PORT
SHUTDOWN_LIMIT_S = 20  # the service's graceful-shutdown bound (GRACEFUL_SHUTDOWN_SECONDS)


def dockerfile_argument(name: str) -> str:
    """The default value of the Dockerfile's ``ARG name=value``."""
    [value] = re.findall(rf"^ARG {name}=(\S*)$", DOCKERFILE.read_text(encoding="utf-8"), re.MULTILINE)
    return str(value)


def test_the_dockerfile_defaults_are_the_repositorys() -> None:
    """Checked by the build too (the label versions); here without building anything."""
    python_version = (REPO_ROOT / "runtime.txt").read_text(encoding="utf-8").strip().removeprefix("python-")
    assert dockerfile_argument("BASE") == f"python:{python_version}-slim-bookworm"
    assert dockerfile_argument("API_VERSION") == api_version
    pinned = re.search(r"^car-evaluation-model==(\S+)", (REPO_ROOT / "requirements.txt").read_text(), re.MULTILINE)
    assert pinned is not None
    assert dockerfile_argument("MODEL_PACKAGE_VERSION") == pinned.group(1)


@pytest.fixture(scope="module")
def podman(tmp_path_factory: pytest.TempPathFactory) -> Podman:
    for program, package in (("podman", "podman"), ("runc", "runc"), ("debootstrap", "debootstrap")):
        require_program(program, package)
    if os.geteuid() != 0:
        unavailable("the container tests need root (debootstrap, and podman with its storage in /var/lib)")
    return Podman.configured_in(tmp_path_factory.mktemp("podman"))


@pytest.fixture(scope="module")
def run_id() -> str:
    """Names this run's images and containers apart from anyone else's."""
    return secrets.token_hex(4)


@pytest.fixture(scope="module")
def base_image(podman: Podman, run_id: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    rootfs = tmp_path_factory.mktemp("debian") / "rootfs"
    reference = import_debian_base(podman, rootfs, f"localhost/car-evaluation-test-base:{run_id}")
    yield reference
    podman.remove_image(reference)


@pytest.fixture(scope="module")
def index_url_secret(private_index: Index, password: str, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The install URL with its credentials, in a file only its owner reads: the build secret's source."""
    secret = tmp_path_factory.mktemp("secret") / "pip_extra_index_url"
    secret.touch(mode=0o600)
    secret.write_text(private_index.simple_url_with(USER, password), encoding="utf-8")
    return secret


def git_revision() -> str:
    return subprocess.run(
        ["git", "rev-parse", "HEAD"], cwd=REPO_ROOT, capture_output=True, text=True, check=True
    ).stdout.strip()


def proxy_ca_secret() -> dict[str, Path]:
    """A TLS-intercepting proxy's CA, which pip in the build must trust, as the secret ca_bundle."""
    return {"ca_bundle": Path(os.environ["PIP_CERT"])} if os.environ.get("PIP_CERT") else {}


@pytest.fixture(scope="module")
def image(
    podman: Podman, base_image: str, index_url_secret: Path, run_id: str, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[str]:
    build_secrets = {"pip_extra_index_url": index_url_secret, **proxy_ca_secret()}
    log_path = tmp_path_factory.mktemp("build") / "build.log"
    started = time.monotonic()
    reference = build_image(
        podman,
        f"localhost/car-evaluation-test:{run_id}",
        secrets=build_secrets,
        build_args={"BASE": base_image, "REVISION": git_revision(), "SOURCE": SOURCE},
        log_path=log_path,
    )
    size = int(podman.run("image", "inspect", "--format", "{{.Size}}", reference).stdout)
    base_size = int(podman.run("image", "inspect", "--format", "{{.Size}}", base_image).stdout)
    print(
        f"\nimage {reference}: {size / 1e6:.0f} MB ({base_size / 1e6:.0f} MB of it the Debian base), "
        f"built in {time.monotonic() - started:.0f} s"
    )
    yield reference
    podman.remove_image(reference)


def build_context(directory: Path) -> Path:
    """What the image is built from, as a fresh clone has it: the Dockerfile, .dockerignore and what they let in."""
    directory.mkdir()
    for name in ("Dockerfile", ".dockerignore", "requirements.txt", "Procfile"):
        shutil.copy2(REPO_ROOT / name, directory / name)
    shutil.copytree(REPO_ROOT / "app", directory / "app", ignore=shutil.ignore_patterns("__pycache__"))
    return directory


@pytest.mark.container
def test_the_image_builds_from_the_pinned_wheel_without_an_index(
    podman: Podman, base_image: str, run_id: str, tmp_path: Path
) -> None:
    """No index secret: the wheel that ``tox -e seed -- --out wheels`` builds here is the model package's source."""
    build_args = {"BASE": base_image, "REVISION": git_revision(), "SOURCE": SOURCE}
    bare, build_secrets = build_context(tmp_path / "bare"), proxy_ca_secret()
    with pytest.raises(RuntimeError, match="no source for the model package: pass the secret pip_extra_index_url"):
        build_image(podman, f"localhost/car-evaluation-test-bare:{run_id}", secrets=build_secrets,
                    build_args=build_args, log_path=tmp_path / "bare.log", context=bare)  # fmt: skip
    context = build_context(tmp_path / "context")
    seeded = seed("--out", str(context / "wheels"), env=isolated_pip_env())
    assert seeded.returncode == 0, seeded.stdout + seeded.stderr
    reference = build_image(
        podman, f"localhost/car-evaluation-test-wheel:{run_id}", secrets=build_secrets, build_args=build_args,
        log_path=tmp_path / "build.log", context=context,
    )  # fmt: skip
    try:
        card = podman.run(
            "run", "--rm", reference, "python", "-c",
            "import car_evaluation_model.processing.data_manager as m; print(m.load_model_card()['version'])",
        ).stdout.strip()  # fmt: skip
    finally:
        podman.remove_image(reference)
    assert card == dockerfile_argument("MODEL_PACKAGE_VERSION")


def get_json(url: str) -> Any:
    with urllib.request.urlopen(url, timeout=10) as response:
        return json.load(response)


def post_json(url: str, body: Any) -> Any:
    request = urllib.request.Request(url, data=json.dumps(body).encode(), headers={"Content-Type": "application/json"})
    with urllib.request.urlopen(request, timeout=30) as response:
        return json.load(response)


def v2_body(row: dict[str, Any]) -> dict[str, Any]:
    inputs = [{"name": name, "shape": [1], "datatype": "BYTES", "data": [str(row[name])]} for name in row]
    return {"inputs": inputs}


def process_status(podman: Podman, container: str) -> dict[str, str]:
    """/proc/1/status of the container: its main process's ids, capabilities, no_new_privs, seccomp."""
    status = podman.run("exec", container, "cat", "/proc/1/status").stdout
    return dict(line.split(":\t", 1) for line in status.splitlines() if ":\t" in line)


def writes(podman: Podman, container: str, path: str) -> bool:
    return podman.run("exec", container, "touch", path, check=False).returncode == 0


@dataclass
class RunningContainer:
    name: str
    base_url: str
    port: int
    process: subprocess.Popen[bytes]  # the attached `podman run`: it exits with the container's status
    log_path: Path

    def logs(self) -> str:
        return self.log_path.read_text(encoding="utf-8")


@contextmanager
def running_container(podman: Podman, image: str, log_path: Path) -> Iterator[RunningContainer]:
    """The image as a production runtime runs it: read-only root, a tmpfs /tmp, its own user."""
    name, port = f"car-evaluation-test-{secrets.token_hex(4)}", free_port()
    command = podman.command(
        "run",
        "--rm",
        "--name",
        name,
        "--read-only",
        "--tmpfs",
        "/tmp:rw,size=64m,mode=1777",
        "--publish",
        f"127.0.0.1:{port}:{IMAGE_PORT}",
        image,
    )
    base_url = f"http://127.0.0.1:{port}"
    started = time.monotonic()
    try:
        with running_process(
            command, log_path=log_path, ready_url=f"{base_url}{API}/health", env=podman.env
        ) as process:
            print(f"\n{name}: answering {time.monotonic() - started:.1f} s after `podman run`")
            yield RunningContainer(name, base_url, port, process, log_path)
    finally:
        # Stopping `podman run` stops the container; should podman itself be killed, this does.
        podman.run("rm", "--force", "--ignore", name, check=False)


@pytest.mark.container
def test_the_image_serves_on_a_read_only_root_as_its_non_root_user(podman: Podman, image: str, tmp_path: Path) -> None:
    with running_container(podman, image, tmp_path / "container.log") as container:
        health = get_json(f"{container.base_url}{API}/health")
        prediction = post_json(f"{container.base_url}{API}/predict", {"inputs": [ARTICLE_ROW]})
        explanation = post_json(f"{container.base_url}{API}/explain", {"inputs": [ARTICLE_ROW]})
        inferred = post_json(f"{container.base_url}/v2/models/car-evaluation/infer", v2_body(ARTICLE_ROW))
        with urllib.request.urlopen(f"{container.base_url}/metrics", timeout=10) as response:
            metrics = response.read().decode()
        status = process_status(podman, container.name)
        root_writable, tmp_writable = writes(podman, container.name, "/srv/x"), writes(podman, container.name, "/tmp/x")
        served_files = podman.run("exec", container.name, "ls", "-A", "/srv").stdout.split()
    assert health["api_version"] == api_version
    assert prediction["predictions"] == ["vgood"]
    assert explanation["explanations"][0]["prediction"] == "vgood"
    assert inferred["outputs"][0]["data"] == ["vgood"]
    assert f'car_evaluation_predictions_total{{class="vgood",model_version="{health["model_version"]}"}} 3.0' in metrics
    assert status["Uid"].split() == ["1000"] * 4, status["Uid"]
    assert (root_writable, tmp_writable) == (False, True)
    assert sorted(served_files) == ["Procfile", "app"]  # .dockerignore kept the rest out
    labels = json.loads(podman.run("image", "inspect", "--format", "{{json .Labels}}", image).stdout)
    assert labels["org.opencontainers.image.source"] == SOURCE
    assert labels["org.opencontainers.image.revision"] == git_revision()
    assert labels["org.opencontainers.image.version"] == health["api_version"]
    assert labels["car-evaluation.api-version"] == health["api_version"]
    assert labels["car-evaluation.model-package-version"] == health["model_version"]


def wait_for_log(container: RunningContainer, text: str, timeout: float = 10.0) -> None:
    deadline = time.monotonic() + timeout
    while text not in container.logs():
        if time.monotonic() > deadline:
            raise AssertionError(f"no {text!r} in the container's log within {timeout} s:\n{container.logs()}")
        time.sleep(0.05)


@pytest.mark.container
def test_sigterm_finishes_the_request_in_flight_and_exits_0(podman: Podman, image: str, tmp_path: Path) -> None:
    with (
        running_container(podman, image, tmp_path / "container.log") as container,
        socket.create_connection(("127.0.0.1", container.port), timeout=30) as connection,
    ):
        connection.sendall(post_head(len(BODY)) + BODY[:10])
        time.sleep(0.2)  # the head is read: the request is in flight
        # --time 30: podman's SIGKILL comes after the service's own 20 s bound, never before.
        stop = subprocess.Popen(
            podman.command("stop", "--time", "30", container.name), env=podman.env, stdout=subprocess.DEVNULL
        )
        stopped_at = time.monotonic()
        wait_for_log(container, "Shutting down")
        connection.sendall(BODY[10:])
        answer = read_answer(connection)
        status = container.process.wait(timeout=SHUTDOWN_LIMIT_S + 10)
        exited_after = time.monotonic() - stopped_at
        assert stop.wait(timeout=30) == 0
    print(f"\nSIGTERM to exit: {exited_after:.1f} s")
    assert answer.startswith(b"HTTP/1.1 200 "), answer[:300]
    assert b'"predictions":["vgood"]' in answer
    assert status == 0, container.logs()
    assert exited_after < SHUTDOWN_LIMIT_S


@pytest.mark.container
def test_the_index_url_and_password_are_nowhere_in_the_image(
    podman: Podman, image: str, private_index: Index, password: str, tmp_path: Path
) -> None:
    archive = tmp_path / "image.tar"
    podman.run("save", "--format", "oci-archive", "--output", str(archive), image, timeout=600)
    secret_values = {
        "password": password.encode(),
        "index address": private_index.url.removeprefix("http://").rstrip("/").encode(),
    }
    described = {
        "podman history": podman.run("history", "--no-trunc", "--format", "json", image).stdout.encode(),
        "podman image inspect": podman.run("image", "inspect", image).stdout.encode(),
    }
    found, blobs_with_the_model_package = [], 0
    for where, content in itertools.chain(archive_blobs(archive), described.items()):  # one blob at a time
        found += [(name, where) for name, value in secret_values.items() if value in content]
        blobs_with_the_model_package += b"car_evaluation_model/__init__.py" in content
    assert found == []
    # The search does read the layers: the installed model package is found in one of them.
    assert blobs_with_the_model_package == 1


def deployment_for_this_host(image: str, host_port: int) -> dict[str, Any]:
    """The shipped Deployment with the image built here, one replica, its port on 127.0.0.1 only.

    No Secret here: the ledger keeps its SQLite default in LEDGER_DATA_DIR (on its emptyDir)
    instead of the Secret's PostgreSQL, and the feedback token is the test's own.
    """
    [deployment] = yaml.safe_load_all(DEPLOYMENT.read_text(encoding="utf-8"))
    deployment["spec"]["replicas"] = 1
    [container] = deployment["spec"]["template"]["spec"]["containers"]
    container["image"] = image
    [port] = container["ports"]
    port.update(hostIP="127.0.0.1", hostPort=host_port)
    container["env"] = [variable for variable in container["env"] if variable["name"] != "LEDGER_URL"]
    for variable in container["env"]:
        if variable["name"] == "FEEDBACK_TOKEN":
            variable.pop("valueFrom")
            variable["value"] = secrets.token_hex(16)
    return dict(deployment)


def probe_url(container: dict[str, Any], probe: str, base_url: str) -> str:
    """The URL a kubelet's ``httpGet`` probe asks, its named port resolved to the container's."""
    get = container[probe]["httpGet"]
    [port] = [port for port in container["ports"] if get["port"] in (port.get("name"), port["containerPort"])]
    assert port["containerPort"] == IMAGE_PORT, "the probe must ask the port the image listens on"
    return f"{base_url}{get['path']}"


def answers_200(url: str, timeout: float) -> bool:
    try:
        with urllib.request.urlopen(url, timeout=timeout) as response:
            return bool(response.status == 200)
    except (urllib.error.URLError, ConnectionError, TimeoutError):
        return False


def probe_until_success(container: dict[str, Any], probe: str, base_url: str) -> None:
    """Run the manifest's probe as a kubelet does: every periodSeconds, at most failureThreshold times."""
    settings = container[probe]
    url = probe_url(container, probe, base_url)
    for _ in range(settings.get("failureThreshold", 3)):
        if answers_200(url, timeout=settings.get("timeoutSeconds", 1)):
            return
        time.sleep(settings.get("periodSeconds", 10))
    raise AssertionError(f"{probe} {url} failed {settings.get('failureThreshold', 3)} times in a row")


def metric_file_pids(podman: Podman, container_id: str, directory: str) -> set[str]:
    listed = podman.run("exec", container_id, "ls", directory).stdout
    return set(re.findall(r"_(\d+)\.db$", listed, re.MULTILINE))


@pytest.mark.container
def test_the_kubernetes_deployment_runs_the_image(podman: Podman, image: str, tmp_path: Path) -> None:
    """podman runs the pod with the manifest's security context and emptyDir. It does not run
    readiness probes (it turns a liveness probe into a healthcheck that calls curl, which the image
    has not, and schedules it with systemd), so the test runs the manifest's probes as a kubelet would."""
    host_port = free_port()
    deployment = deployment_for_this_host(image, host_port)
    manifest = tmp_path / "deployment.yaml"
    manifest.write_text(yaml.safe_dump(deployment), encoding="utf-8")
    pod = deployment["spec"]["template"]["spec"]
    [container] = pod["containers"]
    env = {variable["name"]: variable["value"] for variable in container["env"]}
    base_url = f"http://127.0.0.1:{host_port}"
    started = time.monotonic()
    with kube_played(podman, manifest) as container_id:
        probe_until_success(container, "startupProbe", base_url)
        probe_until_success(container, "readinessProbe", base_url)
        print(f"\nDeployment ready {time.monotonic() - started:.1f} s after `podman kube play`")
        prediction = post_json(f"{base_url}{API}/predict", {"inputs": [ARTICLE_ROW]})
        counted = predictions_counted_by_each_scrape(base_url)
        metric_pids = metric_file_pids(podman, container_id, env["PROMETHEUS_MULTIPROC_DIR"])
        status = process_status(podman, container_id)
        root_writable = writes(podman, container_id, "/srv/x")
        inspected_container = json.loads(podman.run("container", "inspect", container_id).stdout)[0]
    assert prediction["predictions"] == ["vgood"]
    # Exact in every scrape: the workers' metric files are shared through the emptyDir.
    assert counted == [200] * 20
    assert len(metric_pids) == int(env["WEB_CONCURRENCY"]), metric_pids
    for volume_mount in container["volumeMounts"]:  # /tmp, and the ledger's spool
        [volume] = [volume for volume in pod["volumes"] if volume["name"] == volume_mount["name"]]
        assert "emptyDir" in volume
        mounts = inspected_container["Mounts"]
        [mounted] = [mount for mount in mounts if mount["Destination"] == volume_mount["mountPath"]]
        assert (mounted["Type"], mounted["Name"], mounted["RW"]) == ("volume", volume["name"], True)
    assert env["PROMETHEUS_MULTIPROC_DIR"].startswith("/tmp/")
    # The manifest's security context, as the service's process really runs.
    pod_security, container_security = pod["securityContext"], container["securityContext"]
    assert status["Uid"].split() == [str(pod_security["runAsUser"])] * 4
    assert status["Gid"].split() == [str(pod_security["runAsGroup"])] * 4
    assert container_security["readOnlyRootFilesystem"] is True
    assert not root_writable
    assert container_security["allowPrivilegeEscalation"] is False
    assert status["NoNewPrivs"] == "1"
    assert container_security["capabilities"]["drop"] == ["ALL"]
    assert int(status["CapEff"], 16) == int(status["CapBnd"], 16) == 0
    assert pod_security["seccompProfile"]["type"] == "RuntimeDefault"
    assert status["Seccomp"] == "2"  # filtered
