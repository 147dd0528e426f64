// vitest runs only the peers' published suites that are written for it (@keyv/test-suite); Jest runs the rest.
export default {
  test: {
    include: ['__test__/vitest/**/*.vitest.ts'],
    testTimeout: 20_000,
    hookTimeout: 30_000,
  },
};
