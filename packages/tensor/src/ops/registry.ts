/**
 * One place per op: each op module defines its GPU forward (calling a kernel), its backward rule (right next
 * to it, through `record`) and its float64 reference, and registers them here once. The test suite walks this
 * registry: every registered op is checked against its reference, forward and backward, and the reference
 * backward against finite differences.
 */
import type { RefTensor } from '../reference.ts';
import type { Tensor } from '../tensor.ts';

export interface OpReference<A> {
  forward(inputs: readonly RefTensor[], attrs: A): RefTensor;
  /** Vector-Jacobian product: the gradient of each input given the output gradient (null: not differentiable). */
  backward(inputs: readonly RefTensor[], attrs: A, gradOutput: RefTensor): readonly (RefTensor | null)[];
}

export interface OpDefinition<A = Record<string, never>> {
  readonly name: string;
  /** Names of the tensor inputs, in order. */
  readonly inputs: readonly string[];
  /** The GPU op, recorded for autograd. */
  apply(inputs: readonly Tensor[], attrs: A): Tensor;
  readonly reference: OpReference<A>;
}

const registry = new Map<string, OpDefinition<never>>();

export function defineOp<A>(def: OpDefinition<A>): OpDefinition<A> {
  if (registry.has(def.name)) throw new Error(`op ${def.name} registered twice`);
  registry.set(def.name, def as unknown as OpDefinition<never>);
  return def;
}

/** Every registered op, by name. */
export function registeredOps(): ReadonlyMap<string, OpDefinition<never>> {
  return registry;
}
