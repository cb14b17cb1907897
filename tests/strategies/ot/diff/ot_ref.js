// The reference side of ot_diff_tests: runs each case through the real ot-text-unicode.
//   node ot_ref.js <prefix with node_modules>  < cases.jsonl  > results.jsonl
// One JSON case per input line, one JSON result per output line, in the same order. A case the
// package throws on gives {"error": message}.
'use strict';
const path = require('path');
const fs = require('fs');
const { type } = require(path.join(process.argv[2], 'node_modules', 'ot-text-unicode'));

// The package's normalize can mutate the components it is given; every call gets its own copy.
const copy = (x) => JSON.parse(JSON.stringify(x));

function run(c) {
  switch (c.kind) {
    case 'transform':
      return {
        apply_a: type.apply(c.doc, copy(c.a)),
        apply_b: type.apply(c.doc, copy(c.b)),
        a_left: type.transform(copy(c.a), copy(c.b), 'left'),
        a_right: type.transform(copy(c.a), copy(c.b), 'right'),
        b_left: type.transform(copy(c.b), copy(c.a), 'left'),
        b_right: type.transform(copy(c.b), copy(c.a), 'right'),
        a_side: type.transform(copy(c.a), copy(c.b), c.side),
      };
    case 'compose': {
      const ab = type.compose(copy(c.a), copy(c.b));
      return {
        apply_ab: type.apply(type.apply(c.doc, copy(c.a)), copy(c.b)),
        compose: ab,
        apply_compose: type.apply(c.doc, copy(ab)),
      };
    }
    case 'normalize':
      return { normalize: type.normalize(copy(c.op)) };
    default:
      throw Error('unknown case kind ' + c.kind);
  }
}

const lines = fs.readFileSync(0, 'utf8').split('\n').filter((l) => l.length > 0);
const out = [];
for (const line of lines) {
  try {
    out.push(JSON.stringify(run(JSON.parse(line))));
  } catch (e) {
    out.push(JSON.stringify({ error: String(e && e.message) }));
  }
}
process.stdout.write(out.join('\n') + '\n');
