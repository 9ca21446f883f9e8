// Trains every adapter variant for a few steps on a backend and on `cpu` from the same weights and
// data, prints the largest loss and weight differences, and exits 1 when one is out of tolerance.
//   node dist/scripts/backend-parity.js --backend webgpu      (on the accelerator machine)
//   node dist/scripts/backend-parity.js --backend wasm
import { Command } from 'commander';
import { compareBackends, PARITY_VARIANTS, parityOk } from '@lora/adapters/testing';
import { BackendPreference, initBackend } from '@lora/engine';
import { adamResumeAcrossBackends } from '../libs/engine/src/testing/adam-resume';

async function main(): Promise<void> {
  const o = new Command()
    .option('--backend <name>', 'backend to check against cpu', 'wasm')
    .option('--only <variants>', 'comma list')
    .parse()
    .opts();
  await initBackend('cpu');
  const info = await initBackend(o.backend as BackendPreference);
  console.log(`${info.backend} (${info.device}) vs cpu`);
  const only = o.only ? new Set((o.only as string).split(',')) : null;
  let failed = 0;
  console.log('| variant | max loss rel diff | max weight diff | max weight | verdict |');
  console.log('| --- | --- | --- | --- | --- |');
  for (const [name, variant, config, lrRatio = 1] of PARITY_VARIANTS) {
    if (only && !only.has(name)) continue;
    const r = await compareBackends(name, variant, config, 'cpu', info.backend);
    const ok = parityOk(r, lrRatio);
    if (!ok) failed++;
    console.log(
      `| ${name} | ${r.maxLossRelDiff.toExponential(2)} | ${r.maxWeightDiff.toExponential(2)} | ${r.maxWeight.toFixed(3)} | ${ok ? 'PASS' : 'FAIL'} |`,
    );
  }
  // Adam's saved moments: 3 steps here, resumed on cpu (the fused webgpu layout splits on save).
  const resume = await adamResumeAcrossBackends(o.backend as BackendPreference);
  const resumeOk = resume.maxDiff < 1e-5;
  if (!resumeOk) failed++;
  console.log(
    `\nAdam state saved on ${info.backend}, resumed on cpu: max weight diff ${resume.maxDiff.toExponential(2)} against cpu throughout: ${resumeOk ? 'PASS' : 'FAIL'}`,
  );
  process.exit(failed ? 1 : 0);
}

main().catch((e) => {
  console.error(e);
  process.exit(1);
});
