# The API image: the locked dependencies, the installed package (with its migrations), its
# rule engine compiled (app/native) and the policy catalog.

# A build stage compiles the rule engine with mypyc, from the same package files and the
# same Python as the image below: the build serves only sources byte-equal to its own.
FROM python:3.11-slim AS native
ENV PYTHONDONTWRITEBYTECODE=1 PIP_NO_CACHE_DIR=1
RUN apt-get update && apt-get install -y --no-install-recommends gcc libc6-dev && rm -rf /var/lib/apt/lists/*
COPY requirements/native.lock /tmp/lock/
RUN pip install --require-hashes -r /tmp/lock/native.lock && rm -rf /tmp/lock
COPY pyproject.toml README.md /tmp/build/
COPY app /tmp/build/app
RUN pip install --no-deps /tmp/build && rm -rf /tmp/build
RUN incentives native build --into /opt/native

FROM python:3.11-slim

ENV PYTHONDONTWRITEBYTECODE=1 PYTHONUNBUFFERED=1 PIP_NO_CACHE_DIR=1
WORKDIR /srv

# The runtime lock first, in a layer of its own: every file checked against its hash,
# and a change to the code does not download the dependencies again.
COPY requirements/runtime.lock /tmp/lock/
RUN pip install --require-hashes -r /tmp/lock/runtime.lock && rm -rf /tmp/lock

# Built from a copy that is then removed: the service runs the installed package, never
# a source tree. Its dependencies are the locked ones above (--no-deps: nothing else is
# resolved). tests/deploy/test_installed_package.py follows these steps.
COPY pyproject.toml README.md /tmp/build/
COPY app /tmp/build/app
RUN pip install --no-deps /tmp/build && rm -rf /tmp/build

COPY policy_catalog ./policy_catalog
# The compiled engine; NATIVE=require: the service refuses to start without it rather
# than run slower unnoticed (`incentives native status` says which runs).
COPY --from=native /opt/native /srv/native

RUN useradd --system --home /srv incentives
USER incentives

ENV CATALOG_DIR=/srv/policy_catalog HOST=0.0.0.0 PORT=8000 LOG_FORMAT=json \
    NATIVE=require NATIVE_DIR=/srv/native
EXPOSE 8000
# Liveness: the server process answers (no database). The image also runs one-shot
# commands (compose's `migrate`); there the check is moot. Compose's api waits on readiness.
HEALTHCHECK --interval=10s --timeout=5s --start-period=60s --retries=3 \
  CMD ["incentives", "probe", "live"]
CMD ["incentives", "serve"]
