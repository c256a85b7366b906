# The service's image: the Procfile's web command on $PORT, as a non-root user, on a read-only
# root filesystem (only /tmp needs to be writable). Build (docs/deploying.md, "Container image"):
#
#   docker build --secret id=pip_extra_index_url,env=PIP_EXTRA_INDEX_URL \
#       --build-arg REVISION="$(git rev-parse HEAD)" -t car-evaluation:<API_VERSION>-model<MODEL_PACKAGE_VERSION> .
#
# or, with no index at all, from the pinned wheel built here (`tox -e seed -- --out wheels`):
#
#   docker build --build-arg REVISION="$(git rev-parse HEAD)" -t car-evaluation:<...> .
#
# A new model version: set MODEL_PACKAGE_VERSION's default below with the pin (docs/releasing.md).
#
# The private index URL (with its credentials) comes in as a build secret, never as an ARG or
# ENV, so it is in no layer, no history entry and no config of the image.

# The official image for runtime.txt's Python; any Debian-like base with python3 and
# python3-venv works too (the tests build on a plain Debian one).
ARG BASE=python:3.11.7-slim-bookworm

FROM ${BASE} AS builder
RUN python3 -m venv /opt/venv
COPY requirements.txt /tmp/requirements.txt
# The model package comes from one of: pip_extra_index_url, the model package's private index
# as PIP_EXTRA_INDEX_URL holds it at deploy; or wheels/ in the build context (bound, never
# copied into a layer), which holds its pinned wheel. ca_bundle (optional): a CA bundle for pip,
# where a proxy intercepts TLS. Wheels only and every hash pinned: what is installed is exactly
# what was locked, whichever the source. Then what the service never runs goes: pip, setuptools
# and the packages' own test suites (about 140 MB of the 480 MB).
RUN --mount=type=secret,id=pip_extra_index_url \
    --mount=type=secret,id=ca_bundle \
    --mount=type=bind,source=.,target=/context \
    if [ -s /run/secrets/pip_extra_index_url ]; then \
        export PIP_EXTRA_INDEX_URL="$(cat /run/secrets/pip_extra_index_url)"; \
    elif [ -d /context/wheels ]; then \
        export PIP_FIND_LINKS=/context/wheels; \
    else \
        echo "no source for the model package: pass the secret pip_extra_index_url (the private index's install URL)," \
             "or put its pinned wheel in wheels/ with 'tox -e seed -- --out wheels' (docs/deploying.md)" >&2; \
        exit 1; \
    fi \
    && if [ -s /run/secrets/ca_bundle ]; then export PIP_CERT=/run/secrets/ca_bundle; fi \
    && /opt/venv/bin/pip install --no-cache-dir --disable-pip-version-check --require-hashes \
        --only-binary=:all: -r /tmp/requirements.txt \
    && /opt/venv/bin/pip uninstall --yes --quiet pip setuptools \
    && find /opt/venv -depth -type d -name tests -exec rm -rf {} +

FROM ${BASE}
# The OCI labels, and two of our own (no reverse-DNS prefix: the project has no domain).
# REVISION and SOURCE come from the build command; the two versions are checked below against
# what is really installed, so a stale default fails the build.
ARG SOURCE=""
ARG REVISION=""
ARG API_VERSION=0.1.0
ARG MODEL_PACKAGE_VERSION=0.6.0
LABEL org.opencontainers.image.title="car-evaluation" \
      org.opencontainers.image.source="${SOURCE}" \
      org.opencontainers.image.revision="${REVISION}" \
      org.opencontainers.image.version="${API_VERSION}" \
      car-evaluation.api-version="${API_VERSION}" \
      car-evaluation.model-package-version="${MODEL_PACKAGE_VERSION}"

# A named user and group for 1000 (the Kubernetes manifests run as 1000 too); no home, no shell.
RUN groupadd --gid 1000 car-evaluation \
    && useradd --uid 1000 --gid 1000 --no-create-home --home-dir /nonexistent \
        --shell /usr/sbin/nologin car-evaluation
COPY --from=builder /opt/venv /opt/venv
WORKDIR /srv
COPY Procfile ./
COPY app/ app/
# PYTHONDONTWRITEBYTECODE: the root filesystem is read-only, so the bytecode is compiled here.
# LEDGER_DATA_DIR: the prediction ledger's default SQLite file and spool go to the writable /tmp,
# which lasts as long as the container; set LEDGER_URL to a PostgreSQL to keep them.
ENV PATH=/opt/venv/bin:$PATH \
    PORT=8000 \
    PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    LEDGER_DATA_DIR=/tmp/car-evaluation-ledger
RUN python -m compileall -q app \
    && python -c 'import importlib.metadata as metadata, sys, app; \
found = {"API_VERSION": app.__version__, "MODEL_PACKAGE_VERSION": metadata.version("car-evaluation-model")}; \
given = {"API_VERSION": sys.argv[1], "MODEL_PACKAGE_VERSION": sys.argv[2]}; \
sys.exit(None if found == given else f"labels {given} but installed {found}: fix the ARG defaults")' \
        "${API_VERSION}" "${MODEL_PACKAGE_VERSION}"

USER 1000:1000
EXPOSE 8000
# The Procfile's web command, expanded as a Procfile runner does; exec makes python PID 1, so
# SIGTERM reaches uvicorn, which finishes in-flight requests within GRACEFUL_SHUTDOWN_SECONDS
# (20 s) and exits 0 (the kernel ignores the SIGTERM it re-raises at itself as PID 1).
CMD ["sh", "-c", "eval \"exec $(sed -n 's/^web: //p' Procfile)\""]
