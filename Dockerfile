# Build stage: the node alone (`tandem-server`), stripped; the dev tools are not built.
FROM rust:1-bookworm AS build
WORKDIR /src
COPY Cargo.toml Cargo.lock rustfmt.toml ./
COPY src src
COPY web web
COPY ivr-scripts ivr-scripts
# The workspace names the dev crate; its manifest and sources must be there to be skipped.
COPY dev dev
RUN cargo build --profile dist --locked -p tandem --bin tandem-server

# Run stage: the binary, the scripts, nothing else.
FROM debian:bookworm-slim
RUN apt-get update && apt-get install -y --no-install-recommends ca-certificates && rm -rf /var/lib/apt/lists/* \
 && useradd --system --uid 10001 tandem
COPY --from=build /src/target/dist/tandem-server /usr/local/bin/tandem
COPY ivr-scripts /srv/ivr-scripts
WORKDIR /srv
USER tandem
ENV TANDEM_LISTEN=0.0.0.0:8080 TANDEM_SCRIPTS_DIR=/srv/ivr-scripts TANDEM_LOG_FORMAT=json
EXPOSE 8080
ENTRYPOINT ["tandem"]
CMD ["serve"]
