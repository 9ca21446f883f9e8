// Which modules of a base model a target-module list selects, PEFT-style: a target matches a
// module path when it equals it or is a dotted suffix of it ("c_proj" hits attn.c_proj and mlp.c_proj).
export const GPT2_PROJECTIONS = ['attn.c_attn', 'attn.c_proj', 'mlp.c_fc', 'mlp.c_proj'] as const;

export function gpt2ModulePaths(nLayer: number): string[] {
  const out: string[] = [];
  for (let i = 0; i < nLayer; i++) for (const p of GPT2_PROJECTIONS) out.push(`transformer.h.${i}.${p}`);
  return out;
}

export function targetMatches(modulePath: string, target: string): boolean {
  return modulePath === target || modulePath.endsWith(`.${target}`);
}

export function selectModules(modulePaths: readonly string[], targets: readonly string[]): string[] {
  return modulePaths.filter((p) => targets.some((t) => targetMatches(p, t)));
}
