# syntax=docker/dockerfile:1
#
# connect-task-loader as a container: one worker of a scheduler (a Kubernetes Job, Indexed Job or
# CronJob, an AWS Batch array job, an ECS scheduled task), configured by its environment (CTL_*).
# docs/containers.md has the task definitions, Job manifests and exit codes to retry on.
#
#   docker build -t connect-task-loader:0.1.0 .
#   docker run --rm --user "$(id -u):$(id -g)" -v "$PWD:/data" -e CTL_INPUT=tickets.csv \
#     -e CTL_INSTANCE_ID=… -e CTL_CONTACT_FLOW_ID=… -e AWS_REGION=eu-west-2 connect-task-loader:0.1.0

# Build: TypeScript to dist/, with the dev dependencies. Debian 12, as the runtime below.
FROM node:22-bookworm-slim AS build
WORKDIR /app
COPY package.json package-lock.json ./
RUN npm ci --no-audit --no-fund
COPY tsconfig.json tsconfig.build.json ./
COPY src ./src
RUN npm run build

# The runtime dependencies alone, installed afresh from the lock file (none has an install script).
FROM node:22-bookworm-slim AS deps
WORKDIR /app
COPY package.json package-lock.json ./
RUN npm ci --omit=dev --ignore-scripts --no-audit --no-fund

# Run: Node.js 22 and the program; no shell, no npm, no compiler. The nonroot tag runs as uid 65532.
FROM gcr.io/distroless/nodejs22-debian12:nonroot
ARG VERSION=0.1.0
LABEL org.opencontainers.image.title="connect-task-loader" \
      org.opencontainers.image.description="Bulk-create Amazon Connect tasks from CSV files: rate-limited, idempotent, resumable." \
      org.opencontainers.image.version="${VERSION}" \
      org.opencontainers.image.licenses="MIT" \
      org.opencontainers.image.source="https://github.com/connect-task-loader/connect-task-loader" \
      org.opencontainers.image.documentation="https://github.com/connect-task-loader/connect-task-loader/blob/main/docs/containers.md"
COPY --from=deps /app/node_modules /app/node_modules
COPY --from=build /app/dist /app/dist
COPY package.json /app/
COPY schema /app/schema
USER nonroot
# Relative paths (CTL_INPUT, CTL_RESULTS) are taken in /data: mount the input's folder there.
WORKDIR /data
# Node is the container's PID 1 and receives the scheduler's SIGTERM itself: the run drains the
# requests in flight, records them and exits 3. The command is a subcommand: run by default.
ENTRYPOINT ["/nodejs/bin/node", "/app/dist/cli.js"]
CMD ["run"]
