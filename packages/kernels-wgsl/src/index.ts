export * from './conv-plan.ts';
export * from './conv3x3.ts';
export * from './copy.ts';
export * from './elementwise.ts';
export * from './layout.ts';
export * from './reduce.ts';
export * from './runtime.ts';
