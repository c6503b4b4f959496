import js from '@eslint/js';
import tseslint from 'typescript-eslint';

const redisOnly = ['ioredis', 'bullmq'].map((name) => ({ name, message: 'Only repositories (*.repository.ts) and src/redis talk to Redis.' }));
const undiciOnly = [{ name: 'undici', message: 'Only src/upstream (the node client) talks HTTP to nodes.' }];

export default tseslint.config(
  { ignores: ['dist/**', 'node_modules/**', 'coverage/**', 'k6/**', '**/*.js', '**/*.mjs', 'src/dashboard/public/**'] },
  js.configs.recommended,
  ...tseslint.configs.recommendedTypeChecked,
  {
    languageOptions: { parserOptions: { projectService: true, tsconfigRootDir: import.meta.dirname } },
    rules: {
      '@typescript-eslint/no-floating-promises': 'error',
      '@typescript-eslint/no-misused-promises': ['error', { checksVoidReturn: { attributes: false, arguments: false } }],
      '@typescript-eslint/switch-exhaustiveness-check': 'error',
      '@typescript-eslint/no-unused-vars': ['error', { argsIgnorePattern: '^_', varsIgnorePattern: '^_' }],
      '@typescript-eslint/no-explicit-any': 'error',
      '@typescript-eslint/require-await': 'off',
      '@typescript-eslint/no-unsafe-enum-comparison': 'off',
    },
  },
  // One owner per technology: Redis (ioredis, bullmq) only in repositories and src/redis (the connections),
  // HTTP to the nodes (undici) only in src/upstream; the scheduler stays pure. A later block wins for its files.
  {
    files: ['src/**/*.ts'],
    rules: { 'no-restricted-imports': ['error', { paths: [...redisOnly, ...undiciOnly] }] },
  },
  {
    files: ['src/**/*.repository.ts', 'src/redis/**/*.ts'],
    rules: { 'no-restricted-imports': ['error', { paths: undiciOnly }] },
  },
  {
    files: ['src/upstream/**/*.ts'],
    rules: { 'no-restricted-imports': ['error', { paths: redisOnly }] },
  },
  {
    files: ['src/scheduler/**/*.ts'],
    rules: {
      'no-restricted-imports': [
        'error',
        {
          paths: [...redisOnly, ...undiciOnly],
          patterns: [
            { group: ['@nestjs/*', 'express'], message: 'src/scheduler is pure: no framework, no I/O.' },
            { group: ['../*'], message: 'src/scheduler is pure: it imports nothing from the rest of Herd.' },
          ],
        },
      ],
    },
  },
  {
    files: ['**/*.spec.ts', '**/*.e2e-spec.ts', 'test/**/*.ts', 'bench/**/*.ts'],
    rules: {
      '@typescript-eslint/no-unsafe-assignment': 'off',
      '@typescript-eslint/no-unsafe-member-access': 'off',
      '@typescript-eslint/no-unsafe-argument': 'off',
      '@typescript-eslint/no-unsafe-call': 'off',
      '@typescript-eslint/no-unsafe-return': 'off',
      '@typescript-eslint/no-non-null-assertion': 'off',
      '@typescript-eslint/unbound-method': 'off',
    },
  },
);
