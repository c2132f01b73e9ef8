import { defineConfig } from 'vitest/config'

// Two runtimes, one command: Node (core, CLI, end-to-end) and workerd (edge, waiting room).
export default defineConfig({
  test: {
    projects: ['./vitest.node.config.ts', './edge/vitest.config.ts'],
  },
})
