# One image for the API and the workers: `nas serve ...` or `nas worker ...` (see docker-compose.yml).
FROM python:3.11-slim

ENV PYTHONDONTWRITEBYTECODE=1 PYTHONUNBUFFERED=1 PIP_NO_CACHE_DIR=1 LITERT_TORCH_SHOW_PROGRESS=n
RUN apt-get update && apt-get install -y --no-install-recommends libsndfile1 \
    && rm -rf /var/lib/apt/lists/* && useradd --create-home nas && mkdir -p /data && chown nas /data
WORKDIR /app
# The search spaces and hardware profiles are found beside the package (/app/search_spaces,
# /app/hw_profiles), hence the editable install. PyTorch comes as the CPU wheel.
COPY pyproject.toml README.md ./
COPY nas ./nas
COPY search_spaces ./search_spaces
COPY hw_profiles ./hw_profiles
RUN pip install --extra-index-url https://download.pytorch.org/whl/cpu -e .
USER nas
# Artifacts (runs/) and the feature cache (.nas_cache/) go to the working directory.
WORKDIR /data
EXPOSE 8000
CMD ["nas", "--help"]
