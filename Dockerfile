# syntax=docker/dockerfile:1
# assist serve in a container (README "Install"):
#   docker build -t assist .
#   docker run -p 8765:8765 -v assist-data:/data -e ASSIST_TOKENS__CTI=… -e ASSIST_TOKENS__SUPERVISOR=… assist
# Every setting comes from ASSIST_… variables (docs/protocol.md, Configuration) or a mounted --config file.

# -- build: wheels for assist and the locked dependencies (durable-rules compiles from C source) -------------
FROM python:3.11-slim AS build
# hadolint ignore=DL3008
RUN apt-get update \
    && apt-get install -y --no-install-recommends gcc libc6-dev \
    && rm -rf /var/lib/apt/lists/*
WORKDIR /src
COPY requirements.lock ./
RUN pip wheel --no-cache-dir --wheel-dir /wheels -r requirements.lock
# assist/bundled/{rules,examples} are links to these two: the wheel carries the playbook and example calls
COPY pyproject.toml README.md LICENSE ./
COPY rules ./rules
COPY examples ./examples
COPY assist ./assist
RUN pip wheel --no-cache-dir --no-deps --wheel-dir /wheels .

# -- run: no compiler, no root ---------------------------------------------------------------------------------
FROM python:3.11-slim
RUN --mount=type=bind,from=build,source=/wheels,target=/wheels \
    pip install --no-cache-dir --no-index /wheels/*.whl \
    && useradd --create-home --uid 10001 assist \
    && mkdir /data && chown assist /data
USER 10001
WORKDIR /data
VOLUME /data
ENV PYTHONUNBUFFERED=1 \
    ASSIST_HOST=0.0.0.0 \
    ASSIST_PORT=8765 \
    ASSIST_LOG__PATH=/data/assist-calls.db
EXPOSE 8765
HEALTHCHECK --interval=30s --timeout=5s --start-period=30s --retries=3 \
    CMD ["python", "-c", "import os, urllib.request as u; u.urlopen('http://127.0.0.1:%s/healthz' % os.environ.get('ASSIST_PORT', '8765'), timeout=4)"]
ENTRYPOINT ["assist"]
CMD ["serve"]
