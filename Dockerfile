# One image for the API and the workers: `nas serve ...` or `nas worker ...` (see docker-compose.yml).
FROM python:3.11-slim

ENV PYTHONDONTWRITEBYTECODE=1 PYTHONUNBUFFERED=1 PIP_NO_CACHE_DIR=1 PIP_DISABLE_PIP_VERSION_CHECK=1
RUN apt-get update && apt-get install -y --no-install-recommends libsndfile1 \
    && rm -rf /var/lib/apt/lists/* && useradd --create-home nas && mkdir -p /data && chown nas /data
WORKDIR /app
# The same hashed lock as `make demo` (exact versions, every file checked). Its torch is the registry's
# CUDA build: a worker container on a GPU node trains on the GPU; on a CPU host it runs on the CPU.
COPY requirements/runtime.lock requirements/
RUN pip install --require-hashes --no-deps -r requirements/runtime.lock
# The package itself, as a wheel: search spaces, hardware profiles, templates and static files are package data.
COPY pyproject.toml README.md ./
COPY nas ./nas
RUN pip install --no-deps --no-build-isolation . && pip check && rm -rf /app/nas /app/build
USER nas
# Artifacts (runs/) and the feature cache (.nas_cache/) go to the working directory.
WORKDIR /data
EXPOSE 8000
CMD ["nas", "--help"]
