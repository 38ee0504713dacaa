/// <reference types="vitest/config" />
import { defineConfig } from 'vite'

// The build goes where go:embed reaches it (service/web/dist) and is
// committed; `make web-check` rebuilds it and fails when it differs, so
// file names carry content hashes only and nothing else varies per build.
export default defineConfig({
  esbuild: { jsx: 'automatic', jsxImportSource: 'preact' },
  build: {
    outDir: '../service/web/dist',
    emptyOutDir: true,
    target: 'es2022',
    modulePreload: { polyfill: false },
    reportCompressedSize: false,
    chunkSizeWarningLimit: 400,
  },
  test: {
    include: ['src/**/*.test.ts'],
    environment: 'node',
  },
})
