/** Stand-in weight files for the loaders' tests: names and shapes only, constant values that say which entry. */

/** A dict of constant-valued tensors with the given names and shapes (value = index of the entry + 0.5). */
export function fakeDict(entries: readonly (readonly [string, readonly number[]])[]) {
  return new Map(
    entries.map(([name, shape], i) => {
      const n = shape.reduce((p, d) => p * d, 1);
      return [name, { shape, toFloat32: () => new Float32Array(n).fill(i + 0.5) }] as const;
    }),
  );
}

/** torchvision's names and shapes of a VGG's convolutions: `features.N.weight` [Cout, Cin, 3, 3], `.bias` [Cout]. */
export function vggFeatures(convs: readonly { index: number; cin: number; cout: number }[]): [string, number[]][] {
  return convs.flatMap(({ index, cin, cout }): [string, number[]][] => [
    [`features.${index}.weight`, [cout, cin, 3, 3]],
    [`features.${index}.bias`, [cout]],
  ]);
}
