import { defineConfig } from "vitest/config";

// The API lives under /chat.v1.<Service>/<Method>. In development those calls go to a local parleyd
// (PARLEY_DEV_API, default http://127.0.0.1:50051); in production parleyd serves the built app itself.
const api = process.env.PARLEY_DEV_API ?? "http://127.0.0.1:50051";

export default defineConfig({
  esbuild: { jsx: "automatic" },
  server: {
    proxy: {
      "^/chat\\.v1\\.": { target: api, changeOrigin: true },
    },
  },
  build: { outDir: "dist", emptyOutDir: true },
  // Unit tests only (the browser test is e2e/, run by cargo test or by hand).
  test: { include: ["src/**/*.test.{ts,tsx}"] },
});
