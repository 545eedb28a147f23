/** The only module that imports the generated napi loader. */
export {
  createModel,
  loadModel,
  presetConfig,
  normalizeConfig,
  NativeVideoBert,
  type NativeBatch,
  type NativeCreateOptions,
  type StepResult,
} from '../index.js'
