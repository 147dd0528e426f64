// vitest runs the suites Jest's CommonJS runtime cannot: peers' published suites written for vitest
// (@keyv/test-suite) and frameworks that load ESM-only packages (@fastify/session via @fastify/cookie,
// cache-manager, Nest). Jest runs the rest.
export default {
  test: {
    include: ['__test__/vitest/**/*.vitest.ts'],
    testTimeout: 20_000,
    hookTimeout: 30_000,
  },
};
