import js from '@eslint/js';
import tseslint from 'typescript-eslint';

export default tseslint.config(
  { ignores: ['dist/', 'node_modules/', 'data/', 'coverage/'] },
  js.configs.recommended,
  ...tseslint.configs.recommended,
  {
    languageOptions: { parserOptions: { ecmaVersion: 2023, sourceType: 'module' } },
    rules: {
      'no-console': 'error',
      '@typescript-eslint/no-unused-vars': ['error', { argsIgnorePattern: '^_', varsIgnorePattern: '^_' }],
      '@typescript-eslint/no-explicit-any': 'off',
    },
  },
  // Layers point one way: modules -> telegram adapter -> teleproto; the sandbox stands apart.
  {
    files: ['src/telegram/**'],
    rules: {
      'no-restricted-imports': [
        'error',
        {
          patterns: [
            {
              regex: '^(\\.\\./)+(modules|plugins)(/|$)|^(\\.\\./)+app(\\.js)?$',
              message:
                'The Telegram adapter knows no HTTP module, plugin or the app: shapes both need live in src/lib/.',
            },
          ],
        },
      ],
    },
  },
  // A file `depth` folders into src/sandbox/ leaves it with `depth` times '../'.
  ...[1, 2, 3, 4].map((depth) => ({
    files: [`src/sandbox/${'*/'.repeat(depth - 1)}*.ts`],
    rules: {
      'no-restricted-imports': [
        'error',
        {
          patterns: [
            {
              regex: `^(\\.\\./){${depth}}`,
              message:
                'The sandbox knows nothing of TeleFlow: it imports nothing from src/ outside src/sandbox/.',
            },
          ],
        },
      ],
    },
  })),
  {
    files: ['bench/**', 'src/sandbox/cli.ts', 'src/db/migrate-cli.ts', 'src/cli/**'],
    rules: { 'no-console': 'off' },
  },
);
