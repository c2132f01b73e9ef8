# Core (API and workers) image. The edge is not in it: it runs on Cloudflare (or `wrangler dev`).
FROM node:20-bookworm-slim
WORKDIR /app
ENV NODE_ENV=production
COPY package.json package-lock.json ./
RUN npm ci --omit=dev --no-audit --no-fund
COPY contracts ./contracts
COPY core ./core
USER node
EXPOSE 3000
CMD ["node", "--import", "tsx", "core/main.ts"]
