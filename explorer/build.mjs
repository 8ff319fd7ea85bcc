// Builds the explorer page into one self-contained HTML file: GraphiQL, React, graphql-ws and
// their CSS (fonts included, as data: URLs) inlined, so the page needs nothing but the server.
//
//   node build.mjs [OUT]   (default: ../crates/api/assets/explorer.html)

import { build } from 'esbuild';
import { readFileSync, writeFileSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import vm from 'node:vm';

const here = dirname(fileURLToPath(import.meta.url));
const out = resolve(process.argv[2] ?? join(here, '..', 'crates', 'api', 'assets', 'explorer.html'));

// GraphiQL's style sheet inlines Roboto and Fira Code in every subset Google Fonts has (Latin,
// Latin Extended, Cyrillic, Greek, Vietnamese; 350 KiB). Only the Latin ones are kept: other
// characters are drawn in the browser's own sans-serif and monospace fonts, as the style sheet's
// font stacks already say.
const KEPT_SUBSETS = [
  /^U\+\?\?,/, // Latin: U+0000-00FF and the usual punctuation
  /^U\+100-24F,/, // Latin Extended
];
const latinFontsOnly = {
  name: 'latin-fonts-only',
  setup(build) {
    build.onLoad({ filter: /[\\/]graphiql[\\/]dist[\\/]style\.css$/ }, ({ path }) => {
      let kept = 0;
      let dropped = 0;
      const contents = readFileSync(path, 'utf8').replace(/@font-face\{[^}]*\}/g, (rule) => {
        const range = rule.match(/unicode-range:\s*([^;}]*)/)?.[1] ?? '';
        if (KEPT_SUBSETS.some((subset) => subset.test(range))) {
          kept += 1;
          return rule;
        }
        dropped += 1;
        return '';
      });
      if (kept === 0 || dropped === 0) {
        throw new Error(`graphiql's fonts are not as expected (${kept} kept, ${dropped} dropped)`);
      }
      return { contents, loader: 'css' };
    });
  },
};

const result = await build({
  plugins: [latinFontsOnly],
  absWorkingDir: here,
  entryPoints: ['src/main.jsx'],
  bundle: true,
  minify: true,
  format: 'iife',
  platform: 'browser',
  target: ['es2020', 'chrome100', 'firefox100', 'safari15'],
  jsx: 'automatic',
  define: { 'process.env.NODE_ENV': '"production"' },
  // The licences' notices, gathered at the end of the script and of the style sheet.
  legalComments: 'eof',
  charset: 'utf8',
  outdir: 'out',
  write: false,
  logLevel: 'warning',
});

const output = (ext) => {
  const files = result.outputFiles.filter((file) => file.path.endsWith(ext));
  if (files.length !== 1) throw new Error(`expected one ${ext} output, got ${files.length}`);
  return files[0].text;
};
const style = output('.css');
// Inlined in <script>, the bundle must not contain "</script" (it would end the element; esbuild
// already writes "<\/script"), nor "<!--" and "<script" (which change how the HTML parser looks
// for the end). They occur only inside strings and regular expressions (react-dom, markdown-it),
// where "\x3C" is the same "<"; the result is checked to still parse.
const script = output('.js').replace(/<(!--|script)/gi, '\\x3C$1');
try {
  new vm.Script(script);
} catch (error) {
  throw new Error(`the escaped bundle does not parse: ${error.message}`);
}

const problems = [];
if (/<\/script|<!--|<script/i.test(script)) problems.push('the script contains "</script", "<!--" or "<script"');
if (/<\/style/i.test(style)) problems.push('the style sheet contains "</style"');
// Offline: nothing the style sheet loads may come from elsewhere (fonts are data: URLs).
for (const match of style.matchAll(/url\(\s*['"]?([^'")]*)/g)) {
  if (!match[1].startsWith('data:') && !match[1].startsWith('#')) {
    problems.push(`the style sheet loads ${match[1].slice(0, 80)}`);
  }
}
if (/@import/i.test(style)) problems.push('the style sheet has an @import');
if (problems.length) throw new Error(`cannot inline: ${problems.join('; ')}`);

const template = readFileSync(join(here, 'src', 'index.html'), 'utf8');
// Functions as replacements, so that "$" in the bundle is taken literally.
const html = template
  .replace('/*STYLE*/', () => style.trim())
  .replace('/*SCRIPT*/', () => script.trim());
writeFileSync(out, html);

const kib = (n) => `${(n / 1024).toFixed(0)} KiB`;
console.log(
  `${out}: ${kib(Buffer.byteLength(html))} (script ${kib(Buffer.byteLength(script))}, style ${kib(Buffer.byteLength(style))})`,
);
