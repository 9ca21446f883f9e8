// How keep-packages.txt was made: preload this (NODE_OPTIONS="--require …/trace-preload.js",
// TRACE_DIR=<folder>) into the benches and their workers, then list the node_modules packages of
// the files recorded. Records every file a process loads (require cache + fs reads) into
// $TRACE_DIR/<pid>.txt at exit.
const fs = require('fs');
const path = require('path');
const seen = new Set();
for (const name of ['readFileSync', 'openSync', 'readFile', 'open', 'existsSync', 'statSync', 'readdirSync']) {
  const orig = fs[name];
  fs[name] = function (p, ...rest) {
    if (typeof p === 'string' || p instanceof require('url').URL) seen.add(String(p));
    return orig.call(this, p, ...rest);
  };
}
process.on('exit', () => {
  for (const k of Object.keys(require.cache)) seen.add(k);
  fs.writeFileSync(path.join(process.env.TRACE_DIR, `${process.pid}.txt`), [...seen].join('\n'));
});
