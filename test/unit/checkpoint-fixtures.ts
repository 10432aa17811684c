import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { expect } from 'vitest';
import type { StateDict } from '../../src/engine/checkpoint/types';

/** Fixtures written by scripts/make-checkpoint-fixtures.py. */
export const fixture = (name: string): string =>
  fileURLToPath(new URL(`../fixtures/checkpoints/${name}`, import.meta.url));

export const PWNED_MARKER = '/tmp/blurspace-checkpoint-pwned-marker';

interface Expected {
  tensors: Record<string, { shape: number[]; values: number[] }>;
}

/** Compares names (in order), shapes and every float32 value exactly against <name>.expected.json. */
export function expectMatchesFixture(tensors: StateDict, name: string): void {
  const expected = JSON.parse(readFileSync(fixture(`${name}.expected.json`), 'utf8')) as Expected;
  expect([...tensors.keys()]).toEqual(Object.keys(expected.tensors));
  for (const [key, { shape, values }] of Object.entries(expected.tensors)) {
    const tensor = tensors.get(key)!;
    expect(tensor.shape, key).toEqual(shape);
    expect(tensor.data).toBeInstanceOf(Float32Array);
    expect(Array.from(tensor.data), key).toEqual(values);
  }
}
