export * from './unet11.ts';
