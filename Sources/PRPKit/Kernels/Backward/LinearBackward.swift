extension Kernels {
    /// Vector–Jacobian product of linear with respect to its input:
    /// g (B, out), weight (out, in) → g·W (B, in), on the packed GEMM.
    public static func linearInputGradient(_ g: Tensor, weight: Tensor) -> Tensor {
        let (b, m) = (g.shape[0], g.shape[1])
        let k = weight.shape[1]
        let out = Tensor(zeros: [b, k])
        gemm(m: b, n: k, k: m, a: g.data, rowStrideA: m, colStrideA: 1,
             b: weight.data, rowStrideB: k, colStrideB: 1, c: out.data, rowStrideC: k, colStrideC: 1)
        return out
    }
}
