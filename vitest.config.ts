import { defineConfig } from 'vitest/config'

export default defineConfig({
  test: {
    include: ['__test__/**/*.spec.ts'],
    globalSetup: ['__test__/global-setup.ts'],
    // Native code and worker threads do not mix: one process per test file.
    pool: 'forks',
    testTimeout: 120_000,
    hookTimeout: 120_000,
  },
})
