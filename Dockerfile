# The API image: the installed package (with its migrations) and the policy catalog.
FROM python:3.11-slim

ENV PYTHONDONTWRITEBYTECODE=1 PYTHONUNBUFFERED=1 PIP_NO_CACHE_DIR=1
WORKDIR /srv

# Built from a copy that is then removed: the service runs the installed package, never
# a source tree. tests/deploy/test_installed_package.py follows these steps.
COPY pyproject.toml README.md /tmp/build/
COPY app /tmp/build/app
RUN pip install /tmp/build && rm -rf /tmp/build

COPY policy_catalog ./policy_catalog

RUN useradd --system --home /srv incentives
USER incentives

ENV CATALOG_DIR=/srv/policy_catalog HOST=0.0.0.0 PORT=8000
EXPOSE 8000
CMD ["incentives", "serve"]
