# digit-recognizer's web app and HTTP API in a container: recognition only
# (numpy, Pillow, cc3d, onnxruntime + FastAPI/uvicorn), no torch, non-root.
#
#   docker build -t digit-recognizer .
#   docker run --rm -p 8000:8000 digit-recognizer                      # one worker
#   docker run --rm -p 8000:8000 digit-recognizer --workers 4          # any `digits serve` option
#   docker run --rm -p 8000:8000 digit-recognizer --allowed-hosts digits.example.org
#
# Each container is stateless: run N of them behind any HTTP load balancer
# (docs/deploying.md). The model ships inside the package; nothing is downloaded
# at run time.
FROM python:3.11-slim

ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    PIP_NO_CACHE_DIR=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1

WORKDIR /build
COPY pyproject.toml README.md LICENSE ./
COPY src ./src
# Only the `web` extra: `train` (torch) is never installed here. The project itself is
# installed from source, its dependencies bounded by pyproject.toml (hence DL3013 off).
# hadolint ignore=DL3013
RUN pip install --no-cache-dir ".[web]" \
    && rm -rf /build \
    && groupadd --gid 10001 digits \
    && useradd --create-home --uid 10001 --gid 10001 --shell /usr/sbin/nologin digits

USER 10001:10001
WORKDIR /home/digits
EXPOSE 8000

# Healthy once /api/health answers 200: the model is loaded and has answered a warm-up call.
HEALTHCHECK --interval=30s --timeout=3s --start-period=20s --retries=3 \
    CMD ["python", "-c", "import sys, urllib.request; sys.exit(urllib.request.urlopen('http://127.0.0.1:8000/api/health', timeout=2).status != 200)"]

ENTRYPOINT ["digits", "serve", "--host", "0.0.0.0", "--port", "8000"]
CMD []
