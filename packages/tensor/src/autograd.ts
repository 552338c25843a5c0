/**
 * Reverse-mode autograd, micrograd-style: every op records a node holding its backward rule right where the
 * forward is computed (`record`), and `backward()` walks the nodes in reverse topological order.
 *
 * Memory: a node keeps the tensors its backward needs ("saved" handles sharing their storage) and references to
 * its parent nodes. A node is reference-counted: its output tensor holds one reference and every child node
 * another, so disposing an intermediate tensor does not break the graph below a loss that still needs it.
 * `backward()` frees each node's saved tensors as soon as its gradients are computed.
 */
import { type GradNode, keep, Tensor } from './tensor.ts';

let gradDisabled = 0;

/** Run `fn` without recording autograd nodes (evaluation, optimizer updates). */
export function noGrad<T>(fn: () => T): T {
  gradDisabled++;
  try {
    return fn();
  } finally {
    gradDisabled--;
  }
}

export function isGradEnabled(): boolean {
  return gradDisabled === 0;
}

/**
 * Returned by a backward rule in place of an input's gradient when it wrote that gradient into `into[i]`
 * itself (kernels with an accumulating epilogue: no temporary gradient, no separate add pass).
 */
export const WRITTEN_INTO: unique symbol = Symbol('written into the leaf gradient');

/**
 * A leaf's gradient storage that a backward rule may write input i's gradient into: adding to its contents
 * when `accumulate` (it is the leaf's `.grad`), overwriting them otherwise (its `reservedGrad`).
 */
export interface GradInto {
  tensor: Tensor;
  accumulate: boolean;
}

/**
 * A gradient for each input (null where the input needs none). Saved tensors arrive as arguments. `into[i]` is
 * set when input i is a leaf with gradient storage: a rule may write its gradient there and return
 * WRITTEN_INTO (or ignore it and return the gradient, which autograd then adds or copies in). `needsGrad[i]` is
 * false for an input outside the graph (a constant, the network's input image): a rule may skip its gradient
 * and return null (PyTorch's `ctx.needs_input_grad`).
 */
export type BackwardRule = (
  gradOutput: Tensor,
  saved: readonly Tensor[],
  into: readonly (GradInto | null)[],
  needsGrad: readonly boolean[],
) => readonly (Tensor | null | typeof WRITTEN_INTO)[];

type InputGradient = Tensor | null | typeof WRITTEN_INTO;

interface Edge {
  node: Node | null;
  /** Leaf tensors that require grad receive their gradient in `.grad`. */
  leaf: Tensor | null;
}

export class Node implements GradNode {
  private refs = 1;
  private savedTensors: Tensor[];
  private consumed = false;

  constructor(
    readonly name: string,
    readonly edges: readonly Edge[],
    saved: readonly Tensor[],
    private readonly rule: BackwardRule,
  ) {
    // Saved handles share storage with the originals, outside every scope: the user may dispose the originals.
    this.savedTensors = saved.map((t) => {
      const s = t.storageFor(`${name} (save for backward)`);
      s.retain();
      return keep(new Tensor(s, t.shape, { name: t.name }));
    });
    for (const e of edges) e.node?.retain();
  }

  retain(): void {
    this.refs++;
  }

  release(): void {
    if (this.refs <= 0) return;
    if (--this.refs === 0) {
      this.freeSaved();
      for (const e of this.edges) e.node?.release();
    }
  }

  private freeSaved(): void {
    for (const t of this.savedTensors) t.dispose();
    this.savedTensors = [];
  }

  /** Compute input gradients; frees the saved tensors (a second backward through this node is an error). */
  apply(gradOutput: Tensor): readonly InputGradient[] {
    if (this.consumed) {
      throw new Error(
        `backward through '${this.name}' a second time: its saved tensors were freed by the first backward(); ` +
          `recompute the forward pass`,
      );
    }
    const into = this.edges.map(({ leaf }): GradInto | null => {
      if (!leaf || leaf.isDisposed) return null;
      if (leaf.grad) return { tensor: leaf.grad, accumulate: true };
      return leaf.reservedGrad ? { tensor: checkReserved(leaf), accumulate: false } : null;
    });
    const needsGrad = this.edges.map(({ node, leaf }) => node !== null || leaf !== null);
    const grads = noGrad(() => this.rule(gradOutput, this.savedTensors, into, needsGrad));
    this.consumed = true;
    this.freeSaved();
    // Each gradient must be its own Tensor object (it may share storage via detach()): they are disposed one by one.
    const tensors = grads.filter((g): g is Tensor => g instanceof Tensor);
    const distinct = new Set(tensors);
    if (
      grads.length !== this.edges.length ||
      distinct.has(gradOutput) ||
      distinct.size !== tensors.length ||
      grads.some((g, i) => g === WRITTEN_INTO && !into[i])
    ) {
      throw new Error(
        `internal: backward of ${this.name} returned aliased or ${grads.length}/${this.edges.length} gradients`,
      );
    }
    // A reserved gradient that was written becomes the leaf's .grad (later contributions accumulate into it).
    grads.forEach((g, i) => {
      const leaf = this.edges[i]!.leaf;
      if (g === WRITTEN_INTO && leaf && !leaf.grad) leaf.grad = into[i]!.tensor;
    });
    return grads;
  }
}

/** Whether `record` will record an op on these inputs: gradients are enabled and one of them requires one. */
export function willRecord(inputs: readonly Tensor[]): boolean {
  return gradDisabled === 0 && inputs.some((t) => t.requiresGrad);
}

/**
 * Attach the autograd record of an op to its output. `saved` tensors are kept for the backward rule, which
 * receives them as its second argument (do not capture the op's inputs in the closure: they may be disposed).
 * Returns `output`.
 */
export function record(
  name: string,
  inputs: readonly Tensor[],
  output: Tensor,
  rule: BackwardRule,
  saved: readonly Tensor[] = [],
): Tensor {
  if (!willRecord(inputs)) return output;
  const edges: Edge[] = inputs.map((t) => ({
    node: t.gradFn instanceof Node ? t.gradFn : null,
    leaf: t.requiresGrad && !t.gradFn ? t : null,
  }));
  output.gradFn = new Node(name, edges, saved, rule);
  output.requiresGrad = true;
  return output;
}

/** The GPU ops backward needs; passed in by the ops layer (which itself depends on this module). */
export interface BackwardOps {
  ones(like: Tensor): Tensor;
  copy(t: Tensor): Tensor;
  add(a: Tensor, b: Tensor): Tensor;
  addInto(into: Tensor, g: Tensor): void;
  copyInto(into: Tensor, g: Tensor): void;
}

/** The leaf's reserved gradient storage, which must have the leaf's shape. */
function checkReserved(leaf: Tensor): Tensor {
  const r = leaf.reservedGrad!;
  if (r.shape.join(',') !== leaf.shape.join(',')) {
    throw new RangeError(
      `backward(): reservedGrad ${r.describe()} of ${leaf.describe()} has another shape; it must match the tensor's`,
    );
  }
  return r;
}

/**
 * Add `g` into a leaf's `.grad` (which survives every scope and is accumulated in place), or copy it into the
 * leaf's reserved gradient storage; consumes `g`.
 */
function accumulateLeafGrad(leaf: Tensor, g: Tensor, ops: BackwardOps): void {
  if (leaf.isDisposed) {
    g.dispose();
    return;
  }
  if (leaf.grad === null && leaf.reservedGrad) {
    const reserved = checkReserved(leaf);
    ops.copyInto(reserved, g);
    leaf.grad = reserved;
    g.dispose();
    return;
  }
  if (leaf.grad === null) {
    // .grad is updated in place later: it must not share storage with another gradient.
    if (g.storageFor('backward').shared) {
      leaf.grad = keep(ops.copy(g));
      g.dispose();
    } else leaf.grad = keep(g);
    return;
  }
  ops.addInto(leaf.grad, g);
  g.dispose();
}

/**
 * Backpropagate from `root`. `gradient` defaults to 1 for a one-element root; any other root needs it.
 * `ones` makes the default seed; `add` accumulates in place (provided by the ops layer).
 */
export function runBackward(root: Tensor, gradient: Tensor | undefined, ops: BackwardOps): void {
  root.storageFor('backward');
  if (!root.requiresGrad) {
    throw new Error(
      `backward(): tensor ${root.describe()} does not require grad (no input of the ops that made it has ` +
        `requiresGrad, or it was computed under noGrad())`,
    );
  }
  if (gradient === undefined && root.size !== 1) {
    throw new Error(
      `backward(): ${root.describe()} has ${root.size} elements; backward() without a gradient argument is only ` +
        `defined for a one-element (scalar) tensor. Reduce it first (e.g. mean()) or pass backward(gradient).`,
    );
  }
  if (gradient !== undefined && gradient.shape.join(',') !== root.shape.join(',')) {
    throw new Error(`backward(): gradient shape [${gradient.shape}] differs from tensor shape [${root.shape}]`);
  }
  const seed = noGrad(() => gradient?.detach() ?? ops.ones(root));
  const rootNode = root.gradFn;
  if (!(rootNode instanceof Node)) {
    accumulateLeafGrad(root, seed, ops);
    return;
  }
  // Reverse topological order by iterative DFS (UNet graphs are shallow, but user graphs need not be).
  const order: Node[] = [];
  const visited = new Set<Node>();
  const stack: [Node, number][] = [[rootNode, 0]];
  visited.add(rootNode);
  while (stack.length > 0) {
    const top = stack[stack.length - 1]!;
    const [node, i] = top;
    if (i < node.edges.length) {
      top[1]++;
      const child = node.edges[i]!.node;
      if (child && !visited.has(child)) {
        visited.add(child);
        stack.push([child, 0]);
      }
    } else {
      stack.pop();
      order.push(node);
    }
  }
  const pending = new Map<Node, Tensor>([[rootNode, seed]]);
  for (let k = order.length - 1; k >= 0; k--) {
    const node = order[k]!;
    const g = pending.get(node);
    if (!g) continue;
    pending.delete(node);
    const grads = node.apply(g);
    g.dispose();
    node.edges.forEach((edge, idx) => {
      const gi = grads[idx];
      if (!gi || gi === WRITTEN_INTO) return;
      if (edge.node) {
        const prev = pending.get(edge.node);
        if (prev) {
          pending.set(
            edge.node,
            noGrad(() => ops.add(prev, gi)),
          );
          prev.dispose();
          gi.dispose();
        } else pending.set(edge.node, gi);
      } else if (edge.leaf) accumulateLeafGrad(edge.leaf, gi, ops);
      else gi.dispose();
    });
  }
}
