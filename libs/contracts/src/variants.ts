// The adapter variants a sweep may name. The family is fixed by the product; `AVAILABLE_VARIANTS`
// lists the ones the engine trains today (the rest land with their issue).
export const ALL_VARIANTS = ['lora', 'loraplus', 'vera', 'lorafa', 'loradrop', 'adalora', 'dora', 'deltalora'] as const;
export type VariantName = (typeof ALL_VARIANTS)[number];
export const AVAILABLE_VARIANTS: readonly VariantName[] = ALL_VARIANTS;
