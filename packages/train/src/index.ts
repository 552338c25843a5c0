export { generateAerialScene, generateCarScene } from './data/synthetic.ts';
export { writeFileAtomic, writeJsonAtomic } from './files.ts';
export { readRgb, writeMaskPng } from './image-io.ts';
export { globalIoU, type IoUCounts, iou, iouCounts, meanIoU } from './metrics.ts';
export { createProgress, type Progress } from './progress.ts';
export { jaccardPlotSvg, overlayPng, PAPER_IOU, resultsTable, type SchemeResult, writeReport } from './report.ts';
export { type ReproduceOptions, reproduce } from './reproduce.ts';
export { type Scene, SceneData, type SceneDataOptions, syntheticScenes } from './scenes.ts';
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
