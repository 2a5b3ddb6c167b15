/// <reference types="vitest/config" />
import { fileURLToPath } from 'node:url';
import { defineConfig } from 'vite';

// The gateway serves index.html at / and every other built file under /web/ (Chat.Gateway/Apis/WebChatPage.cs),
// from the assembly: the build writes into ../wwwroot, which the gateway project embeds (Chat.Gateway.csproj).
// `npm run dev`: Vite's dev server with the API paths proxied to a running gateway (GATEWAY_URL, default the
// gateway's port from `dotnet run --project Chat.AppHost`).
const gateway = process.env.GATEWAY_URL ?? 'http://localhost:8000';
const proxied = ['/rest', '/streaming', '/sse', '/grpc'];

export default defineConfig({
  base: '/web/',
  server: {
    proxy: {
      ...Object.fromEntries(proxied.map((path) => [path, { target: gateway }])),
      '/websocket': { target: gateway, ws: true },
    },
  },
  build: {
    outDir: fileURLToPath(new URL('../wwwroot', import.meta.url)),
    emptyOutDir: true,
    target: 'es2022',
    // Hashed names under /web/assets/ are cached for good by the gateway; index.html is revalidated on each load.
    assetsDir: 'assets',
    sourcemap: false,
    reportCompressedSize: false,
  },
  test: {
    environment: 'jsdom',
    include: ['src/**/*.test.ts'],
  },
});
