#!/usr/bin/env node
// Our npm registry mirror serves only some platforms' prebuilt binaries (@swc/core-darwin-*,
// msgpackr-extract-win32-*, … answer 404), so `npm install` leaves them out of package-lock.json
// and `npm ci` then refuses the lock as "missing" them. This adds a lock entry for each such
// optional platform package, with the os/cpu its name says, so npm ci skips it as a foreign
// platform (it is never fetched). Run after any `npm install`: `node scripts/complete-lockfile.js`.
const fs = require('node:fs');
const path = require('node:path');

const lockPath = path.join(__dirname, '..', 'package-lock.json');
const lock = JSON.parse(fs.readFileSync(lockPath, 'utf8'));
const pkgs = lock.packages;

const OS = ['darwin', 'win32', 'linux', 'android', 'freebsd', 'openharmony', 'openbsd', 'netbsd', 'sunos', 'aix'];
const CPU = ['arm64', 'x64', 'ia32', 'arm', 'ppc64', 's390x', 'riscv64', 'loong64', 'mips64el'];

function platformOf(name) {
  const parts = name.split('/').pop().split('-');
  const os = parts.find((p) => OS.includes(p));
  const cpu = parts.find((p) => CPU.includes(p));
  return os && cpu ? { os, cpu } : null;
}

let added = 0;
for (const [where, entry] of Object.entries(pkgs)) {
  for (const [dep, version] of Object.entries(entry.optionalDependencies ?? {})) {
    const key = `node_modules/${dep}`;
    const nested = `${where}/node_modules/${dep}`;
    if (pkgs[key] || pkgs[nested]) continue;
    const platform = platformOf(dep);
    if (!platform) {
      console.error(
        `complete-lockfile: ${dep} (optional dependency of ${where || 'the root'}) is missing and its platform cannot be told from its name`,
      );
      process.exitCode = 1;
      continue;
    }
    pkgs[key] = { version, ...(entry.dev ? { dev: true } : {}), optional: true, os: [platform.os], cpu: [platform.cpu] };
    added++;
  }
}
lock.packages = Object.fromEntries(Object.entries(pkgs).sort(([a], [b]) => (a === '' ? -1 : b === '' ? 1 : a.localeCompare(b))));
fs.writeFileSync(lockPath, JSON.stringify(lock, null, 2) + '\n');
console.log(`complete-lockfile: added ${added} foreign-platform optional entries`);
