/**
 * PyTorch-style methods on Tensor (`loss.backward()`, `x.add(y)`), attached here because the op modules depend
 * on the Tensor class; each method is a thin alias of the exported function.
 */
import { runBackward } from './autograd.ts';
import { full } from './creation.ts';
import { add, addInto, div, exp, log, mapTensors, mul, neg, relu, sigmoid, sub } from './ops/elementwise.ts';
import { mean, sum } from './ops/reduce.ts';
import { reshape } from './ops/shape.ts';
import { Tensor } from './tensor.ts';

declare module './tensor.ts' {
  interface Tensor {
    /**
     * Backpropagate: accumulate d(this)/d(leaf) into `.grad` of every leaf that requires grad. `gradient`
     * defaults to 1 and is required when this tensor has more than one element.
     */
    backward(gradient?: Tensor): void;
    add(other: Tensor | number): Tensor;
    sub(other: Tensor | number): Tensor;
    mul(other: Tensor | number): Tensor;
    div(other: Tensor | number): Tensor;
    neg(): Tensor;
    relu(): Tensor;
    sigmoid(): Tensor;
    log(): Tensor;
    exp(): Tensor;
    sum(axes?: readonly number[], keepDims?: boolean): Tensor;
    mean(axes?: readonly number[], keepDims?: boolean): Tensor;
    reshape(shape: readonly number[]): Tensor;
  }
}

const backwardOps = {
  ones: (like: Tensor) => full(like.shape, 1, { device: like.device }),
  copy: (t: Tensor) => mapTensors('copy', [t], t.shape),
  add: (a: Tensor, b: Tensor) => mapTensors('add', [a, b], a.shape),
  addInto,
  copyInto: (into: Tensor, g: Tensor) => into.device.copy(g.rangeFor('backward'), into.rangeFor('backward')),
};

Tensor.prototype.backward = function (this: Tensor, gradient?: Tensor) {
  runBackward(this, gradient, backwardOps);
};
Tensor.prototype.add = function (this: Tensor, o: Tensor | number) {
  return add(this, o);
};
Tensor.prototype.sub = function (this: Tensor, o: Tensor | number) {
  return sub(this, o);
};
Tensor.prototype.mul = function (this: Tensor, o: Tensor | number) {
  return mul(this, o);
};
Tensor.prototype.div = function (this: Tensor, o: Tensor | number) {
  return div(this, o);
};
Tensor.prototype.neg = function (this: Tensor) {
  return neg(this);
};
Tensor.prototype.relu = function (this: Tensor) {
  return relu(this);
};
Tensor.prototype.sigmoid = function (this: Tensor) {
  return sigmoid(this);
};
Tensor.prototype.log = function (this: Tensor) {
  return log(this);
};
Tensor.prototype.exp = function (this: Tensor) {
  return exp(this);
};
Tensor.prototype.sum = function (this: Tensor, axes?: readonly number[], keepDims = false) {
  return sum(this, axes, keepDims);
};
Tensor.prototype.mean = function (this: Tensor, axes?: readonly number[], keepDims = false) {
  return mean(this, axes, keepDims);
};
Tensor.prototype.reshape = function (this: Tensor, shape: readonly number[]) {
  return reshape(this, shape);
};
