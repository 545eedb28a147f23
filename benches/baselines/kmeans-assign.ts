/** Hierarchical k-means assignment in plain TypeScript (the baseline for the native `Codebook.assign`). */
export class HierarchicalCodebookTS {
  constructor(
    readonly branching: number,
    readonly dim: number,
    /** levels[l]: `[branching^(l+1), dim]` row-major */
    readonly levels: Float32Array[],
  ) {}

  word(x: Float32Array, offset: number): number {
    const { branching: k, dim } = this
    let node = 0
    for (const level of this.levels) {
      let best = Infinity, arg = 0
      for (let j = 0; j < k; j++) {
        const base = (node * k + j) * dim
        let d = 0
        for (let t = 0; t < dim; t++) {
          const diff = x[offset + t]! - level[base + t]!
          d += diff * diff
        }
        if (d < best) { best = d; arg = j }
      }
      node = node * k + arg
    }
    return node
  }

  assign(data: Float32Array): Uint32Array {
    const n = data.length / this.dim
    const out = new Uint32Array(n)
    for (let i = 0; i < n; i++) out[i] = this.word(data, i * this.dim)
    return out
  }
}
