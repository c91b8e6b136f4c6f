# portgate serve: the HCP Terraform / Terraform Enterprise run task service, as a container.
#
#   docker build -t portgate .
#   docker run --rm -p 8080:8080 \
#     -v "$PWD/hmac-key:/run/secrets/portgate-hmac-key:ro" portgate
#
# docs/runtask.md ("Container image") has the Kubernetes Deployment. Publishing the image
# (a registry and a tag) has not happened yet: build it from this repository.

FROM rust:1-bookworm AS build
WORKDIR /src
# Only what the build reads (.dockerignore keeps test plans, fuzz corpora and target/ out).
COPY Cargo.toml Cargo.lock ./
COPY src ./src
COPY policies ./policies
COPY benches ./benches
RUN cargo build --release --locked --features serve --bin portgate

# distroless/cc: glibc and CA certificates (the TLS client trusts the system store), no shell,
# no package manager; runs as the unprivileged user `nonroot` (65532).
FROM gcr.io/distroless/cc-debian12:nonroot
COPY --from=build /src/target/release/portgate /usr/local/bin/portgate
USER nonroot:nonroot
EXPOSE 8080
# The image has no curl: portgate checks its own /healthz (200 ok, 503 while draining).
HEALTHCHECK --interval=30s --timeout=10s --start-period=10s --retries=3 \
  CMD ["/usr/local/bin/portgate", "healthcheck", "--timeout", "5s", "http://127.0.0.1:8080/healthz"]
ENTRYPOINT ["/usr/local/bin/portgate"]
# The HMAC key comes from a mounted secret file (never an environment variable in an image);
# per-job files go to /tmp. Add --tfc-url for Terraform Enterprise and --trusted-cidr or
# --config for patches.
CMD ["serve", "--listen", "0.0.0.0:8080", "--hmac-key-file", "/run/secrets/portgate-hmac-key", "--work-dir", "/tmp", "--log-format", "json"]
