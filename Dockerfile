# Build stage: full install, compile TypeScript.
FROM node:20-bookworm-slim AS build
WORKDIR /app
COPY package.json package-lock.json ./
RUN npm ci --no-audit --no-fund
COPY tsconfig.json tsconfig.build.json nest-cli.json ./
COPY src ./src
COPY migrations ./migrations
RUN npm run build && npm prune --omit=dev

# Runtime stage: production dependencies and the compiled app only. Expects DB_HOST (see docker-compose.yml).
FROM node:20-bookworm-slim
ENV NODE_ENV=production
# The Node.js flags of `npm run start:prod` (README.md, Configuration); override NODE_OPTIONS to change them.
ENV NODE_OPTIONS=--max-semi-space-size=64
WORKDIR /app
COPY --from=build /app/package.json ./
COPY --from=build /app/node_modules ./node_modules
COPY --from=build /app/dist ./dist
# Generated secrets (platform token, JWT key) live here when not given in the environment; mount a volume on it.
RUN mkdir -p /app/.data && chown node:node /app/.data
USER node
EXPOSE 3000
CMD ["node", "dist/src/main.js"]
