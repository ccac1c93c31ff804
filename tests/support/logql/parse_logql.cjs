// Parses LogQL expressions with Grafana's own LogQL grammar (@grafana/lezer-logql, the one
// Grafana's Loki query editor uses). Reads a JSON array of strings on stdin and prints one JSON
// object per expression: {"expr", "ok", "errors"} (error node offsets). Exits 1 when any fails.
'use strict';
const { parser } = require('@grafana/lezer-logql');

const expressions = JSON.parse(require('fs').readFileSync(0, 'utf8'));
let failed = 0;
for (const expr of expressions) {
  const errors = [];
  parser.parse(expr).iterate({
    enter: (node) => {
      if (node.type.isError) errors.push(node.from);
    },
  });
  if (errors.length > 0) failed += 1;
  process.stdout.write(JSON.stringify({ expr, ok: errors.length === 0, errors }) + '\n');
}
process.exit(failed > 0 ? 1 : 0);
