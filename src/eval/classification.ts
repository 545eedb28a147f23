/**
 * Classifier evaluation: accuracy, a per-class report (precision, recall, F1, support) and the
 * confusion matrix over the windows of a split.
 */
import type { Split } from '../data/dataset.js'
import type { LabelledDataset } from '../data/labelled.js'
import { VideoBertError } from '../errors.js'
import type { VideoBERT } from '../model.js'

/** Written into every fine-tuned checkpoint: `{ classes: string[], labels: string | null, prompt: string | null }`. */
export { CLASSES_FILE } from '../files.js'

/** One class's figures: precision, recall and F1 of its predictions, and its support. */
export interface ClassReport {
  class: string
  precision: number
  recall: number
  f1: number
  /** Samples whose true class this is. */
  support: number
}

/** A classifier's figures over a set of samples: accuracy against the majority baseline, per-class figures and the confusion matrix. */
export interface ClassificationReport {
  samples: number
  accuracy: number
  /** Accuracy of always answering the most frequent class of this split. */
  majorityBaseline: number
  perClass: ClassReport[]
  /** `confusion[true][predicted]` counts. */
  confusion: number[][]
}

/** The report for true and predicted class indices. */
export function classificationReport(classes: string[], truth: ArrayLike<number>, predicted: ArrayLike<number>): ClassificationReport {
  const C = classes.length
  const confusion = Array.from({ length: C }, () => Array.from({ length: C }, () => 0))
  for (let i = 0; i < truth.length; i++) confusion[truth[i]!]![predicted[i]!]!++
  const n = truth.length
  const correct = classes.reduce((s, _, c) => s + confusion[c]![c]!, 0)
  const perClass = classes.map((name, c) => {
    const tp = confusion[c]![c]!
    const support = confusion[c]!.reduce((a, b) => a + b, 0)
    const predictedC = confusion.reduce((a, row) => a + row[c]!, 0)
    const precision = predictedC ? tp / predictedC : 0
    const recall = support ? tp / support : 0
    return { class: name, precision, recall, f1: precision + recall ? (2 * precision * recall) / (precision + recall) : 0, support }
  })
  const majority = Math.max(...perClass.map((p) => p.support))
  return { samples: n, accuracy: n ? correct / n : 0, majorityBaseline: n ? majority / n : 0, perClass, confusion }
}

/** Evaluate a classifier on every window of a split of a labelled dataset. */
export async function evaluateClassifier(model: VideoBERT, data: LabelledDataset, split: Split, batchSize = 64): Promise<ClassificationReport> {
  if (model.config.numLabels !== data.classes.length) {
    throw new VideoBertError('InvalidInput', `the model has ${model.config.numLabels} classes, the data ${data.classes.length}`)
  }
  const truth: number[] = []
  const predicted: number[] = []
  const C = data.classes.length
  for (const batch of data.batches(split, batchSize)) {
    const probs = await model.classify(batch)
    for (let b = 0; b < batch.batchSize; b++) {
      let best = 0
      for (let c = 1; c < C; c++) if (probs[b * C + c]! > probs[b * C + best]!) best = c
      predicted.push(best)
      truth.push(batch.labels![b]!)
    }
  }
  if (truth.length === 0) throw new VideoBertError('InvalidInput', `the ${split} split has no labelled windows`)
  return classificationReport(data.classes, truth, predicted)
}
