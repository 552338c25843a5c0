/** The errors a Device throws: WebGPU's asynchronous error reports turned into exceptions. */

/** A WebGPU error (validation, out-of-memory, internal) raised by work this device encoded. */
export class GPUOperationError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'GPUOperationError';
  }
}

/** The GPU device was lost (driver reset, destroy(), out of memory at the driver level). */
export class DeviceLostError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'DeviceLostError';
  }
}
