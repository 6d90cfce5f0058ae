# syntax=docker/dockerfile:1
# shardgate container image: build with the Rust toolchain, run on slim Debian as a non-root user.
#
#   docker build -t shardgate .
#   docker run -v "$PWD/config:/etc/shardgate:ro" -p 6033:6033 -p 9033:9033 shardgate
#
# The config is read from /etc/shardgate/shardgate.toml; mount its directory (not the single
# file) so that edits reach the proxy, which reloads the file when it changes.

# The lockfile needs a toolchain newer than the crates' rust-version (some dependencies ask
# for 1.89); the builder and the runtime share one Debian release, so glibc matches.
ARG RUST_VERSION=1.95
ARG DEBIAN_RELEASE=bookworm

FROM rust:${RUST_VERSION}-slim-${DEBIAN_RELEASE} AS builder
WORKDIR /src
COPY . .
# Cache mounts keep the registry and the target dir between builds (BuildKit); the binary is
# copied out because the target dir is not part of the image layer.
RUN --mount=type=cache,target=/usr/local/cargo/registry \
    --mount=type=cache,target=/src/target \
    cargo build --release --locked --bin shardgate \
    && install -D -m 0755 target/release/shardgate /out/shardgate

FROM debian:${DEBIAN_RELEASE}-slim
# A fixed uid so that Kubernetes' runAsNonRoot can verify it and volume permissions are stable.
RUN groupadd --system --gid 10001 shardgate \
    && useradd --system --uid 10001 --gid shardgate --home-dir /nonexistent --no-create-home \
        --shell /usr/sbin/nologin shardgate \
    && install -d -m 0755 /etc/shardgate
# No config is baked in: every deployment mounts its own (see deploy/README.md).
COPY --from=builder /out/shardgate /usr/local/bin/shardgate
USER 10001:10001
# 6033: MySQL protocol; 9033: /metrics, /healthz and /readyz.
EXPOSE 6033 9033
ENV RUST_LOG=info
ENTRYPOINT ["/usr/local/bin/shardgate"]
CMD ["serve", "--config", "/etc/shardgate/shardgate.toml"]
