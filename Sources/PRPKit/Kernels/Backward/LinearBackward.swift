extension Kernels {
    /// Vector–Jacobian product of linear with respect to its input:
    /// g (B, out), weight (out, in) → g·W (B, in).
    public static func linearInputGradient(_ g: Tensor, weight: Tensor) -> Tensor {
        let (b, m) = (g.shape[0], g.shape[1])
        let k = weight.shape[1]
        let out = Tensor(zeros: [b, k])
        let gp = g.data, wp = weight.data, op = out.data
        Parallel.forEach(b) { n in
            let dst = op + n * k
            for o in 0..<m {
                let s = gp[n * m + o]
                if s == 0 { continue }
                let row = wp + o * k
                for i in 0..<k { dst[i] += s * row[i] }
            }
        }
        return out
    }
}
