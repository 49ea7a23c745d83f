extension Kernels {
    /// y = x·Wᵀ + b. x: (N, in), weight: (out, in), bias: (out) or nil → (N, out).
    public static func linear(_ x: Tensor, weight: Tensor, bias: Tensor?) -> Tensor {
        let (n, k) = (x.shape[0], x.shape[1])
        let m = weight.shape[0]
        let out = Tensor(zeros: [n, m])
        let xp = x.data, wp = weight.data, op = out.data, bp = bias?.data
        Parallel.forEach(n) { b in
            for o in 0..<m {
                var acc: Float = 0
                for i in 0..<k { acc += xp[b * k + i] * wp[o * k + i] }
                op[b * m + o] = acc + (bp?[o] ?? 0)
            }
        }
        return out
    }
}
