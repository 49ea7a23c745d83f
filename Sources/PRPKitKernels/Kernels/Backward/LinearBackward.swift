extension Kernels {
    /// Vector–Jacobian product of linear with respect to its input:
    /// g (B, out), weight (out, in) → g·W (B, in).
    /// A few rows: one streaming pass over W (memory-bound; packing W for the GEMM would
    /// copy it first), split over input columns across threads. Many rows: the packed GEMM.
    public static func linearInputGradient(_ g: Tensor, weight: Tensor) -> Tensor {
        let (b, m) = (g.shape[0], g.shape[1])
        let k = weight.shape[1]
        let out = Tensor(zeros: [b, k])
        let gp = g.data, wp = weight.data, op = out.data
        if b <= 4 {
            Parallel.forRanges(k, minChunk: 4096) { cols in
                for r in 0..<b {
                    let dst = op + r * k
                    for o in 0..<m {
                        let s = gp[r * m + o]
                        if s == 0 { continue }
                        let row = wp + o * k
                        for i in cols { dst[i] += s * row[i] }
                    }
                }
            }
            return out
        }
        gemm(m: b, n: k, k: m, a: gp, rowStrideA: m, colStrideA: 1,
             b: wp, rowStrideB: k, colStrideB: 1, c: op, rowStrideC: k, colStrideC: 1)
        return out
    }
}
