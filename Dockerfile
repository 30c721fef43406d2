# Build stage: compile the release binary.
FROM rust:1-bookworm AS build
WORKDIR /src
COPY Cargo.toml Cargo.lock rustfmt.toml ./
COPY src src
COPY web web
COPY ivr-scripts ivr-scripts
RUN cargo build --release --locked

# Run stage: the binary, the scripts, nothing else.
FROM debian:bookworm-slim
RUN apt-get update && apt-get install -y --no-install-recommends ca-certificates && rm -rf /var/lib/apt/lists/* \
 && useradd --system --uid 10001 tandem
COPY --from=build /src/target/release/tandem /usr/local/bin/tandem
COPY ivr-scripts /srv/ivr-scripts
WORKDIR /srv
USER tandem
ENV TANDEM_LISTEN=0.0.0.0:8080 TANDEM_SCRIPTS_DIR=/srv/ivr-scripts TANDEM_LOG_FORMAT=json
EXPOSE 8080
ENTRYPOINT ["tandem"]
CMD ["serve"]
