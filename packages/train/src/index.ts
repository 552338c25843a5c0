export {
  carvanaPairs,
  DatasetError,
  FileData,
  folderPairs,
  groupSplit,
  type ImageMaskPair,
  INRIA_CITIES,
  inriaPairs,
  inriaSplit,
  memorySource,
  syntheticDataset,
} from './data/datasets.ts';
export { DataLoader, type LoaderOptions } from './data/loader.ts';
export { generateAerialScene, generateCarScene } from './data/synthetic.ts';
export { readRgb, writeMaskPng } from './image-io.ts';
export { globalIoU, type IoUCounts, iou, iouCounts, meanIoU } from './metrics.ts';
export { createProgress, type Progress } from './progress.ts';
export { jaccardPlotSvg, overlayPng, PAPER_IOU, resultsTable, type SchemeResult, writeReport } from './report.ts';
export { type ReproduceOptions, reproduce } from './reproduce.ts';
export { type Scene, sceneData, syntheticScenes } from './scenes.ts';
export {
  type Batch,
  type EpochRecord,
  evaluate,
  NonFiniteLossError,
  type TrainingData,
  type TrainOptions,
  type TrainResult,
  train,
} from './trainer.ts';
