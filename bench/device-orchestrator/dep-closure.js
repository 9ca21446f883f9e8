// Prints the top-level node_modules packages reachable from the names in argv[3] (a file, one a
// line) through dependencies + optionalDependencies (not peers), under the folder argv[2].
const fs = require('fs');
const path = require('path');
const root = path.resolve(process.argv[2]);
const seen = new Set();
const queue = fs.readFileSync(process.argv[3], 'utf8').split('\n').filter(Boolean);
while (queue.length) {
  const name = queue.pop();
  if (seen.has(name)) continue;
  const pj = path.join(root, 'node_modules', name, 'package.json');
  if (!fs.existsSync(pj)) continue; // nested or not installed (optional)
  seen.add(name);
  const p = JSON.parse(fs.readFileSync(pj, 'utf8'));
  for (const d of Object.keys({ ...p.dependencies, ...p.optionalDependencies })) queue.push(d);
}
console.log([...seen].sort().join('\n'));
