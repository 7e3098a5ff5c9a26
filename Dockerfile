# The API image: the locked dependencies, the installed package (with its migrations) and
# the policy catalog.
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

RUN useradd --system --home /srv incentives
USER incentives

ENV CATALOG_DIR=/srv/policy_catalog HOST=0.0.0.0 PORT=8000 LOG_FORMAT=json
EXPOSE 8000
# Liveness: the server process answers (no database). The image also runs one-shot
# commands (compose's `migrate`); there the check is moot. Compose's api waits on readiness.
HEALTHCHECK --interval=10s --timeout=5s --start-period=60s --retries=3 \
  CMD ["incentives", "probe", "live"]
CMD ["incentives", "serve"]
