extension Kernels {
    /// y = x·Wᵀ + b. x: (N, in), weight: (out, in), bias: (out) or nil → (N, out).
    /// Small batches: dot products against contiguous weight rows (memory-bound GEMV);
    /// larger batches: the packed GEMM with B = Wᵀ (same memory, swapped strides).
    public static func linear(_ x: Tensor, weight: Tensor, bias: Tensor?) -> Tensor {
        let (n, k) = (x.shape[0], x.shape[1])
        let m = weight.shape[0]
        let out = Tensor(zeros: [n, m])
        if n == 0 || m == 0 { return out }
        let xp = UnsafePointer(x.data), wp = UnsafePointer(weight.data), op = out.data
        let bp: UnsafePointer<Float>? = bias.map { UnsafePointer($0.data) }
        if n <= 4 {
            let ks = GEMMKernelSet.current
            let threads = m * k * n >= 1 << 16 ? Parallel.threadCount : 1
            Parallel.forEach(min(threads, m)) { part in
                let r = (part * m / min(threads, m))..<((part + 1) * m / min(threads, m))
                ks.dotRows(wp, k, r, xp, k, n, op, m, bp)
            }
            return out
        }
        gemm(m: n, n: m, k: k, a: xp, rowStrideA: k, colStrideA: 1,
             b: wp, rowStrideB: 1, colStrideB: k,
             c: op, rowStrideC: m, colStrideC: 1, colBias: bp)
        return out
    }
}
