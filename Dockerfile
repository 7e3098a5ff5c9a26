# The API image: the package, its migrations and the policy catalog.
FROM python:3.11-slim

ENV PYTHONDONTWRITEBYTECODE=1 PYTHONUNBUFFERED=1 PIP_NO_CACHE_DIR=1
WORKDIR /srv

COPY pyproject.toml README.md ./
COPY app ./app
RUN pip install .

COPY migrations ./migrations
COPY policy_catalog ./policy_catalog

RUN useradd --system --home /srv incentives
USER incentives

ENV CATALOG_DIR=/srv/policy_catalog HOST=0.0.0.0 PORT=8000
EXPOSE 8000
CMD ["incentives", "serve"]
