# loupe in a container: OTLP/gRPC on 4317, OTLP/HTTP on 4318, UI and API on
# 8080, data in the /data volume (SQLite by default; set LOUPE_DATABASE_URL to
# a postgres:// URL to use PostgreSQL instead).
#
#   docker build -t loupe .
#   docker run -p 4317:4317 -p 4318:4318 -p 8080:8080 -v loupe-data:/data loupe

# The workspace needs Rust 1.94 or newer (rust-version in Cargo.toml).
ARG RUST_VERSION=1.95

FROM rust:${RUST_VERSION}-bookworm AS builder
WORKDIR /src

# Dependencies first, in their own layer: the manifests and the lock file
# with stub sources, so that editing loupe's code does not rebuild them.
# (The stub test files exist only because the manifests name them.)
COPY Cargo.toml Cargo.lock ./
COPY collector/Cargo.toml collector/
COPY store/Cargo.toml store/
COPY web/Cargo.toml web/
RUN mkdir -p src collector/src store/src web/src tests/it store/tests/it \
    && echo 'fn main() {}' > src/main.rs \
    && touch src/lib.rs collector/src/lib.rs store/src/lib.rs web/src/lib.rs \
             tests/it/main.rs store/tests/it/main.rs \
    && cargo build --release --locked --bin loupe \
    && rm -rf src collector/src store/src web/src

# Then loupe itself, with what it embeds at compile time: the SQL migrations
# (sqlx::migrate!), the static assets (include_bytes!) and the askama templates.
COPY src src
COPY collector/src collector/src
COPY store/src store/src
COPY web/src web/src
COPY web/templates web/templates
COPY migrations migrations
COPY static static
# COPY keeps the files' own modification times, which may be older than the
# stub build's output: touch the crate roots so cargo rebuilds all four crates.
RUN touch src/main.rs src/lib.rs collector/src/lib.rs store/src/lib.rs web/src/lib.rs \
    && cargo build --release --locked --bin loupe \
    && install -m 0755 target/release/loupe /usr/local/bin/loupe

# The binary needs only glibc: SQLite is compiled in and loupe makes no TLS
# connections, so the runtime image adds no packages.
FROM debian:bookworm-slim

RUN groupadd --system --gid 10001 loupe \
    && useradd --system --uid 10001 --gid loupe --home-dir /data --no-create-home \
               --shell /usr/sbin/nologin loupe \
    && mkdir -p /data \
    && chown loupe:loupe /data

COPY --from=builder /usr/local/bin/loupe /usr/local/bin/loupe

# Every address: loupe then starts only with LOUPE_INGEST_KEYS and
# LOUPE_READ_KEYS given at run time (or LOUPE_INSECURE_NO_AUTH=true).
ENV LOUPE_DATABASE_URL=sqlite:///data/loupe.db \
    LOUPE_OTLP_GRPC_ADDR=0.0.0.0:4317 \
    LOUPE_OTLP_HTTP_ADDR=0.0.0.0:4318 \
    LOUPE_UI_ADDR=0.0.0.0:8080

USER 10001:10001
WORKDIR /data
VOLUME ["/data"]
EXPOSE 4317 4318 8080

# Ready when GET /readyz answers 200 (migrations ran and the database answers).
# bash's /dev/tcp speaks the request, so the image needs no curl or wget.
HEALTHCHECK --interval=5s --timeout=5s --start-period=30s --retries=3 \
    CMD ["bash", "-c", "exec 3<>/dev/tcp/127.0.0.1/8080 && printf 'GET /readyz HTTP/1.0\\r\\nHost: 127.0.0.1\\r\\n\\r\\n' >&3 && IFS= read -r status <&3 && [[ $status == 'HTTP/1.'[01]' 200 '* ]]"]

ENTRYPOINT ["loupe"]
CMD ["serve"]
