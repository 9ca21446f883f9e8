# One image for both roles: `node dist/apps/api/src/main.js` or `node dist/apps/worker/src/main.js`.
FROM node:20-bookworm-slim
WORKDIR /app
COPY package.json package-lock.json ./
RUN npm ci --no-audit --no-fund
COPY . .
RUN npm run prisma:generate && npm run build
ENV NODE_ENV=production API_HOST=0.0.0.0
EXPOSE 3000
CMD ["node", "dist/apps/api/src/main.js"]
