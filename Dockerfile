# The fan-out worker (default) and HTTP API images, serving the example services. For your own services, build
# FROM this image with your registry and workflows modules, and set FANOUT_REGISTRY / FANOUT_WORKFLOWS.
# Build: docker build -t temporal-fanout .
FROM node:20-bookworm-slim AS build
WORKDIR /app
COPY package.json package-lock.json ./
RUN npm ci --no-audit --no-fund
# The library alone (tsconfig.lib.json): no benchmarks, scripts or tests in the image.
COPY tsconfig.json tsconfig.build.json tsconfig.lib.json ./
COPY src ./src
RUN npx tsc -p tsconfig.lib.json && node dist/src/cli/main.js bundle --examples --out dist/workflow-bundle.js

FROM node:20-bookworm-slim
ENV NODE_ENV=production
WORKDIR /app
COPY package.json package-lock.json ./
# The library's peer dependencies are the image's dependencies: the SDK, zod, and the optional ones it serves with.
RUN npm install --omit=dev --no-audit --no-fund --no-save @temporalio/activity@1.24.0 @temporalio/client@1.24.0 \
      @temporalio/common@1.24.0 @temporalio/envconfig@1.24.0 @temporalio/proto@1.24.0 @temporalio/worker@1.24.0 \
      @temporalio/workflow@1.24.0 @temporalio/testing@1.24.0 zod@4 @aws-sdk/client-s3@3 amqplib@2 fastify@5 \
      standardwebhooks@1 prom-client@15 \
    && npm cache clean --force
COPY --from=build /app/dist ./dist
# Workflows bundled at build time: the worker starts without webpack.
ENV WORKFLOW_BUNDLE=/app/dist/workflow-bundle.js
USER node
# The worker; the API runs from the same image with: node dist/src/cli/main.js api --examples
CMD ["node", "dist/src/cli/main.js", "worker", "--examples"]
