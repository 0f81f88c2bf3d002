# The fan-out worker (default) and HTTP API images. Build: docker build -t temporal-fanout .
FROM node:20-bookworm-slim AS build
WORKDIR /app
COPY package.json package-lock.json ./
RUN npm ci --no-audit --no-fund || npm install --no-audit --no-fund
COPY tsconfig.json tsconfig.build.json ./
COPY src ./src
COPY bench ./bench
COPY scripts ./scripts
# bench:scale reads histories with the tests' helper
COPY test/helpers ./test/helpers
RUN npm run build && node dist/scripts/bundle-workflows.js

FROM node:20-bookworm-slim
ENV NODE_ENV=production
WORKDIR /app
COPY package.json package-lock.json ./
RUN (npm ci --omit=dev --no-audit --no-fund || npm install --omit=dev --no-audit --no-fund) && npm cache clean --force
COPY --from=build /app/dist ./dist
# Workflows bundled at build time: the worker starts without webpack.
ENV WORKFLOW_BUNDLE=/app/dist/workflow-bundle.js
USER node
# The worker; the API runs from the same image with: node dist/src/api/main.js
CMD ["node", "dist/src/worker/main.js"]
