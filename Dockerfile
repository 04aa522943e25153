# sre-streams worker image.
#   docker build -t sre-streams .
#   docker run --rm -e SRE_BROKER=kafka://host:9092 -e SRE_SLOS=/config/slos.yaml \
#     -v "$PWD/examples:/config:ro" sre-streams            # = sre-streams worker
#   docker run --rm sre-streams slo validate /config/slos.yaml
FROM python:3.11-slim

ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1 \
    PIP_ROOT_USER_ACTION=ignore

WORKDIR /src
COPY . .
# A C compiler for the columnar decoder (streams/offline/_columns.c), removed once it is built.
RUN apt-get update && apt-get install -y --no-install-recommends gcc libc6-dev \
    && pip install --no-cache-dir . \
    && apt-get purge -y gcc libc6-dev && apt-get autoremove -y && rm -rf /var/lib/apt/lists/* \
    && python -c "import streams.offline._columns"

# Unprivileged user; its home is the working directory, where Faust keeps its
# data directory ("<app id>-data"), so it has to be writable.
RUN useradd --system --uid 10001 --user-group --create-home \
        --home-dir /var/lib/sre-streams --shell /usr/sbin/nologin sre
WORKDIR /var/lib/sre-streams
USER 10001:10001

ENTRYPOINT ["sre-streams"]
EXPOSE 6066
CMD ["worker"]
