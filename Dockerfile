# syntax=docker/dockerfile:1
# Multi-arch images of the manager and the trainer, for users with buildx:
#
#   docker buildx build --platform linux/amd64,linux/arm64 --build-arg BINARY=manager \
#     -t REGISTRY/lcft-operator:TAG --push .
#   docker buildx build --platform linux/amd64,linux/arm64 --build-arg BINARY=lcft-trainer \
#     -t REGISTRY/lcft-trainer:TAG --push .
#   docker buildx build --platform linux/amd64,linux/arm64 --build-arg BINARY=kubectl-lcft \
#     -t REGISTRY/kubectl-lcft:TAG --push .
#
# The Go toolchain runs on the build platform and cross-compiles a static
# binary (CGO off) for each target platform: no emulation. The result is
# distroless static, nonroot (65532:65532), the binary at /<BINARY> and the
# entrypoint. Without Docker, hack/imagebuild makes the same images
# (`make images`).

# manager | lcft-trainer | kubectl-lcft
ARG BINARY=manager
ARG GO_VERSION=1.26

FROM --platform=$BUILDPLATFORM golang:${GO_VERSION} AS build
ARG TARGETOS
ARG TARGETARCH
ARG BINARY
ARG VERSION=dev
WORKDIR /src
COPY go.mod go.sum ./
RUN --mount=type=cache,target=/go/pkg/mod go mod download
COPY main.go ./
COPY api/ api/
COPY controllers/ controllers/
COPY trainer/ trainer/
COPY cmd/ cmd/
RUN --mount=type=cache,target=/go/pkg/mod --mount=type=cache,target=/root/.cache/go-build \
    case "${BINARY}" in \
      manager) pkg=. ;; \
      lcft-trainer) pkg=./trainer/cmd/lcft-trainer ;; \
      kubectl-lcft) pkg=./cmd/kubectl-lcft ;; \
      *) echo "BINARY must be manager, lcft-trainer or kubectl-lcft, got '${BINARY}'" >&2; exit 1 ;; \
    esac && \
    CGO_ENABLED=0 GOOS=${TARGETOS} GOARCH=${TARGETARCH} \
      go build -trimpath -ldflags="-s -w" -o "/out/${BINARY}" "${pkg}"

FROM gcr.io/distroless/static:nonroot AS manager
COPY --from=build /out/manager /manager
USER 65532:65532
ENTRYPOINT ["/manager"]

FROM gcr.io/distroless/static:nonroot AS lcft-trainer
COPY --from=build /out/lcft-trainer /lcft-trainer
USER 65532:65532
ENTRYPOINT ["/lcft-trainer"]

FROM gcr.io/distroless/static:nonroot AS kubectl-lcft
COPY --from=build /out/kubectl-lcft /kubectl-lcft
USER 65532:65532
ENTRYPOINT ["/kubectl-lcft"]

# The final image is the stage named by BINARY (or pick one with --target).
FROM ${BINARY}
ARG VERSION=dev
LABEL org.opencontainers.image.source="https://github.com/lcft-dev/lcft-operator" \
      org.opencontainers.image.version="${VERSION}"
