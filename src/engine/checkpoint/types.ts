/**
 * A float32 tensor in PyTorch layout (row-major, e.g. conv weight [out, in, kh, kw]).
 * Tensors loaded from one file may share a single ArrayBuffer: copy `data` before transferring it.
 */
export interface NamedTensor {
  shape: number[];
  data: Float32Array;
}

/** Tensors keyed by their PyTorch state_dict names. */
export type StateDict = Map<string, NamedTensor>;
