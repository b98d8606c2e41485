# Trợ lý số: the same steps as `make run`, in an image without CUDA.
#   docker build -t trolyso .
#   docker run --env-file .env -v trolyso-var:/app/var -p 127.0.0.1:8080:8080 trolyso
FROM python:3.11-slim

ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    PIP_NO_CACHE_DIR=1 \
    TROLYSO_LISTEN=0.0.0.0:8080 \
    TROLYSO_MODEL_DIR=/app/var/models

WORKDIR /app

# CPU-only torch first, from PyTorch's CPU wheel index, so the project's pin resolves to it.
RUN pip install torch==2.13.0 --index-url https://download.pytorch.org/whl/cpu

COPY . .
RUN pip install . \
    && useradd --system --home-dir /app trolyso \
    && mkdir -p /app/var \
    && chown -R trolyso /app/var

USER trolyso
VOLUME ["/app/var"]
EXPOSE 8080

CMD ["sh", "-c", "trolyso model prepare && trolyso index && trolyso serve"]
