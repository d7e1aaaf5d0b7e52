# syntax=docker/dockerfile:1.7
# aepred's Python half: PySpark batch jobs, PyTorch training, MLflow client and server, DVC, the
# Kubeflow components. One image for the KFP components, the MLflow server and batch jobs.
#   docker build -f deploy/docker/training.Dockerfile -t aepred-training:0.1.0 .
# CPU PyTorch from uv.lock; a GPU node pool uses the CUDA wheel variant (docs/deployment.md).
ARG PYTHON_IMAGE=python:3.11.14-slim-bookworm
# The commit the image is built from (the lineage record of every pipeline run names it).
ARG GIT_COMMIT=unknown

FROM ${PYTHON_IMAGE} AS build
ENV UV_COMPILE_BYTECODE=1 UV_LINK_MODE=copy UV_PROJECT_ENVIRONMENT=/opt/venv
RUN pip install --no-cache-dir uv==0.13.9
WORKDIR /app
COPY pyproject.toml uv.lock ./
RUN uv sync --frozen --no-dev --no-install-project
COPY ml ./ml
COPY pipelines ./pipelines
RUN uv sync --frozen --no-dev

FROM ${PYTHON_IMAGE} AS runtime
ARG GIT_COMMIT
# Spark needs a JRE; git lets DVC and the lineage record read the commit.
RUN apt-get update \
 && apt-get install -y --no-install-recommends openjdk-17-jre-headless=17.* git=1:2.39.* \
 && rm -rf /var/lib/apt/lists/* \
 && groupadd --gid 1000 aepred && useradd --uid 1000 --gid 1000 --create-home aepred
ENV PATH=/opt/venv/bin:$PATH \
    AEPRED_ROOT=/app \
    AEPRED_LOCAL_DIR=/var/lib/aepred \
    JAVA_HOME=/usr/lib/jvm/java-17-openjdk-amd64 \
    PYTHONUNBUFFERED=1 \
    AEPRED_GIT_COMMIT=${GIT_COMMIT}
WORKDIR /app
COPY --from=build /opt/venv /opt/venv
COPY --from=build /app/ml ./ml
COPY --from=build /app/pipelines ./pipelines
COPY params.yaml dvc.yaml ./
COPY contracts ./contracts
RUN mkdir -p /var/lib/aepred && chown aepred:aepred /var/lib/aepred
USER 1000:1000
# Batch images have no server to probe: the check proves the toolchain imports.
HEALTHCHECK --interval=60s --timeout=20s --retries=3 \
  CMD ["python", "-c", "import ml, pipelines, mlflow, pyspark"]
ENTRYPOINT ["python", "-m"]
CMD ["ml", "--help"]
