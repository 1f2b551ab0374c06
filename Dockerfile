# TravelSense Realtime: one node. Configure with env vars (see README).
FROM python:3.11-slim

ENV PYTHONDONTWRITEBYTECODE=1 PYTHONUNBUFFERED=1
WORKDIR /app

COPY requirements.txt .
RUN pip install --no-cache-dir -r requirements.txt

COPY app.py config.py pyproject.toml ./
COPY domain/ domain/
COPY eventlog/ eventlog/
COPY projections/ projections/
COPY service/ service/
COPY handlers/ handlers/
COPY analysts/ analysts/
COPY static/ static/
COPY docs/ docs/

RUN useradd --system --uid 10001 --home-dir /app travelsense \
    && mkdir -p /app/data && chown travelsense /app/data
USER travelsense

# the commit the image was built from, for travelsense_build_info
ARG BUILD_REVISION=unknown
ENV BUILD_REVISION=$BUILD_REVISION

EXPOSE 8080
# liveness: the process and its event loop answer (a Redis or store blip does not make it unhealthy;
# readiness is /readyz, used by compose and by a Kubernetes readinessProbe)
HEALTHCHECK --interval=10s --timeout=3s CMD python -c "import urllib.request,sys; sys.exit(0 if urllib.request.urlopen('http://127.0.0.1:8080/livez', timeout=2).status == 200 else 1)"
CMD ["python", "app.py", "--host", "0.0.0.0", "--port", "8080"]
