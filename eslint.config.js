// ESLint flat config (issue 12, item 8): JavaScript's and typescript-eslint's recommended rules,
// then eslint-config-prettier to turn off every stylistic rule Prettier owns (formatting is
// `prettier --check`'s job, see .prettierrc.json).
import js from '@eslint/js'
import prettier from 'eslint-config-prettier'
import {defineConfig} from 'eslint/config'
import tseslint from 'typescript-eslint'

export default defineConfig(
  {
    // Build output, installed packages and generated files are not our source.
    ignores: ['dist/', 'node_modules/', 'coverage/', '.bench/', 'schemas/', 'oclif.manifest.json'],
  },
  js.configs.recommended,
  tseslint.configs.recommended,
  {
    rules: {
      // Two bindings the language makes us declare without reading them: the variable of a
      // for-of that only counts or drains (named with a leading underscore), and a property left
      // out of a copy by destructuring it beside `...rest` (`{Sid: _sid, ...statement}`).
      '@typescript-eslint/no-unused-vars': ['error', {varsIgnorePattern: '^_', ignoreRestSiblings: true}],
    },
  },
  {
    // Tests match control characters on purpose: they assert that no escape sequence (ESC, BEL,
    // C0 controls) reaches the terminal or an evidence line, or strip ANSI colour to read the text.
    files: ['test/**'],
    rules: {'no-control-regex': 'off'},
  },
  {
    // The few plain JavaScript files (bin/, test/fixtures/*.mjs) run on Node; typescript-eslint
    // turns no-undef off for TypeScript, where the compiler checks names against @types/node.
    files: ['**/*.js', '**/*.mjs'],
    languageOptions: {
      globals: {
        Buffer: 'readonly',
        URL: 'readonly',
        clearTimeout: 'readonly',
        console: 'readonly',
        process: 'readonly',
        setTimeout: 'readonly',
      },
    },
  },
  prettier,
)
