# campanile: one image, two processes, the clock and the worker.
#
# Build:
#
#   docker build -t campanile .
#
# Run both from the same image. The command you give picks the process, and
# `clock` is the default:
#
#   docker run -d --name campanile-clock  -e REDIS_URL=redis://redis.example:6379 \
#       --stop-timeout 10 campanile clock
#   docker run -d --name campanile-worker -e REDIS_URL=redis://redis.example:6379 \
#       --init --stop-timeout 35 campanile worker --concurrency 4
#
#   docker run --rm campanile clock check                 # validate /app/clock.toml (no Redis)
#   docker run --rm -e REDIS_URL=... campanile clock status
#
# - `--stop-timeout 35`: on SIGTERM the worker lets running jobs finish for up
#   to 25 s (`--shutdown-timeout`) and then stops them, which can take 3 s
#   more. Docker's default is 10 s before SIGKILL, which would cut that short.
# - `--init`: without it the worker is PID 1, and it does not reap processes
#   that a job leaves behind (`cmd &`), so they stay as zombies. `--init` puts
#   tini in as PID 1 to reap them, and tini passes SIGTERM on to the worker.
# - For `rediss://` with a self-signed certificate (Heroku Redis), also pass
#   `-e CAMPANILE_REDIS_INSECURE=1` (see README.md, "Redis connection").
#
# This image ships the example clock.toml, whose jobs only `echo`. The worker
# runs your jobs' commands inside its own container (`sh -c`, in /app), so
# build your image from this one. Add your clock.toml, the scripts it calls,
# and anything those scripts need:
#
#   FROM campanile
#   COPY clock.toml /app/clock.toml
#   COPY bin/ /app/bin/
#   # USER root
#   # RUN apt-get update && apt-get install -y --no-install-recommends curl \
#   #     && rm -rf /var/lib/apt/lists/*
#   # USER 10001:10001
#
# Then run that image with `clock` and `worker` as above. Both processes must
# read the same clock.toml.

# ---------------------------------------------------------------------------
# Build stage
# ---------------------------------------------------------------------------
FROM rust:1.95-slim-bookworm AS build
WORKDIR /src

# Compile the dependencies in their own layer. Docker reuses it until
# Cargo.toml or Cargo.lock changes. Cargo checks every target declared in
# Cargo.toml (the lib, bins src/bin/{clock,worker}.rs and benches
# benches/{schedule,clock,queue}.rs), so each path must exist. Empty stubs are
# enough for that. `cargo build` compiles all [dependencies] whether the code
# uses them or not, but never the benches or the [dev-dependencies].
COPY Cargo.toml Cargo.lock ./
RUN mkdir -p src/bin benches \
    && touch src/lib.rs \
    && for f in src/bin/clock.rs src/bin/worker.rs \
                benches/schedule.rs benches/clock.rs benches/queue.rs; do \
           echo 'fn main() {}' > "$f"; \
       done \
    && cargo build --release --locked \
    && rm -rf src

# The real sources. The bench stubs stay: the benches are never built here.
COPY src ./src
# COPY keeps the sources' mtimes from the build context, and those can be
# older than the stub build. Cargo would then treat the stub artifacts as
# fresh and ship a `fn main() {}` binary. Touching the sources forces the
# crate itself to rebuild. The dependencies stay cached.
RUN find src -type f -exec touch {} + \
    && cargo build --release --locked \
    && ./target/release/clock --version \
    && ./target/release/worker --version

# ---------------------------------------------------------------------------
# Runtime stage
# ---------------------------------------------------------------------------
FROM debian:bookworm-slim

# The binaries need only glibc: Redis TLS is rustls, and its roots are
# compiled in. ca-certificates is for the jobs (curl, HTTPS clients). The
# shell stays because the worker runs every job with `sh -c`.
RUN apt-get update \
    && apt-get install -y --no-install-recommends ca-certificates \
    && rm -rf /var/lib/apt/lists/* \
    && groupadd --system --gid 10001 campanile \
    && useradd --system --uid 10001 --gid campanile \
           --home-dir /app --no-create-home --shell /usr/sbin/nologin campanile

COPY --from=build /src/target/release/clock /src/target/release/worker /usr/local/bin/

# Both processes read ./clock.toml by default (or --config / $CAMPANILE_CONFIG),
# and the worker runs job commands in its working directory: /app.
WORKDIR /app
COPY clock.toml /app/clock.toml

# Not root. The numeric form lets Kubernetes' runAsNonRoot check it. /app
# stays owned by root and read-only for the jobs, which can write to /tmp or
# to a mounted volume.
USER 10001:10001

# Both processes stop cleanly on SIGTERM (Docker's default stop signal): the
# clock releases its leader lease, and the worker drains as described above.
STOPSIGNAL SIGTERM
CMD ["clock"]
