#if canImport(Glibc)
import Glibc
#endif

/// Per-pixel operations across or per channel of (N, C, spatial…) tensors (rank ≥ 2, the
/// channels on axis 1): ConvNeXt's layer norm over channels and layer scale, and the
/// channel gates of squeeze-excitation blocks. Backward forms take K signal rows per
/// forward row (row r of a signal belongs to forward row r / K), like `rowBroadcast`.
extension Kernels {
    /// (N, C, P) view of a tensor whose channels are on axis 1 (P = 1 for rank 2).
    static func channelView(_ shape: [Int]) -> (n: Int, c: Int, p: Int) {
        (shape[0], shape[1], shape.dropFirst(2).reduce(1, *))
    }

    /// Layer norm over the channels at every pixel, as torch.nn.functional.layer_norm
    /// over the last dimension of the channels-last tensor: μ and the biased variance σ²
    /// over C, y = (x − μ)·(σ² + ε)^−½·γ + β. γ, β: (C). Statistics accumulate in double
    /// (two passes), so the result does not depend on the order of the channels.
    public static func layerNormChannels(_ x: Tensor, weight: Tensor, bias: Tensor, epsilon: Float) -> Tensor {
        let (n, c, p) = channelView(x.shape)
        let out = Tensor(uninitialized: x.shape)
        let xp = x.data, op = out.data, w = weight.data, b = bias.data
        Parallel.forRanges(n * p, minChunk: 64) { pixels in
            for pixel in pixels {
                let base = (pixel / p) * c * p + pixel % p
                let (mean, rstd) = channelStatistics(xp + base, channels: c, stride: p, epsilon: epsilon)
                for ch in 0..<c {
                    let i = base + ch * p
                    op[i] = (xp[i] - mean) * rstd * w[ch] + b[ch]
                }
            }
        }
        return out
    }

    /// μ and (σ² + ε)^−½ over `channels` floats `stride` apart.
    static func channelStatistics(_ x: UnsafeMutablePointer<Float>, channels c: Int, stride: Int,
                                         epsilon: Float) -> (mean: Float, rstd: Float) {
        var sum = 0.0
        for ch in 0..<c { sum += Double(x[ch * stride]) }
        let mean = sum / Double(c)
        var squares = 0.0
        for ch in 0..<c { let d = Double(x[ch * stride]) - mean; squares += d * d }
        let variance = squares / Double(c)
        return (Float(mean), Float(1 / (variance + Double(epsilon)).squareRoot()))
    }

    /// The input gradient of `layerNormChannels` (σ depending on x, as autograd has it):
    /// dx = r·(ĝ − mean_C(ĝ) − x̂·mean_C(ĝ·x̂)), ĝ = g·γ, x̂ = (x − μ)·r, r = (σ² + ε)^−½.
    /// g: (N·K, C, …), x: (N, C, …).
    public static func layerNormChannelsInputGradient(_ g: Tensor, input x: Tensor, weight: Tensor,
                                                      epsilon: Float) -> Tensor {
        let (n, c, p) = channelView(x.shape)
        let k = g.shape[0] / max(n, 1)
        let out = Tensor(uninitialized: g.shape)
        let gp = g.data, xp = x.data, op = out.data, w = weight.data
        Parallel.forRanges(g.shape[0] * p, minChunk: 64) { pixels in
            for pixel in pixels {
                let row = pixel / p, q = pixel % p
                let xBase = (row / k) * c * p + q, gBase = row * c * p + q
                let (mean, rstd) = channelStatistics(xp + xBase, channels: c, stride: p, epsilon: epsilon)
                var meanG = 0.0, meanGX = 0.0
                for ch in 0..<c {
                    let gh = Double(gp[gBase + ch * p] * w[ch]), xh = Double((xp[xBase + ch * p] - mean) * rstd)
                    meanG += gh; meanGX += gh * xh
                }
                let mg = Float(meanG / Double(c)), mgx = Float(meanGX / Double(c))
                for ch in 0..<c {
                    let gh = gp[gBase + ch * p] * w[ch], xh = (xp[xBase + ch * p] - mean) * rstd
                    op[gBase + ch * p] = rstd * (gh - mg - xh * mgx)
                }
            }
        }
        return out
    }

    /// Layer norm read as a linear map with its scale r = (σ² + ε_LN)^−½ held constant:
    /// z_i = γ_i·r·(x_i − μ) (+ β_i), i.e. z = A·x (+ β) with A_ij = γ_i·r·(δ_ij − 1/C). Returns
    /// x_j·(Aᵀs)_j = x_j·r·(γ_j·s_j − (1/C)·Σ_i γ_i·s_i) with s_i = g_i / (z_i ± ε) (ε with
    /// the sign of z_i, + at 0): the input-times-transpose of the stabilised map at every
    /// pixel. g: (N·K, C, …), x: (N, C, …).
    public static func layerNormChannelsLinearTranspose(_ g: Tensor, input x: Tensor, weight: Tensor, bias: Tensor?,
                                                        normEpsilon: Float, stabilizer eps: Float) -> Tensor {
        let (n, c, p) = channelView(x.shape)
        let k = g.shape[0] / max(n, 1)
        let out = Tensor(uninitialized: g.shape)
        let gp = g.data, xp = x.data, op = out.data, w = weight.data, b = bias?.data
        Parallel.forRanges(g.shape[0] * p, minChunk: 64) { pixels in
            var s = [Float](repeating: 0, count: c)
            for pixel in pixels {
                let row = pixel / p, q = pixel % p
                let xBase = (row / k) * c * p + q, gBase = row * c * p + q
                let (mean, rstd) = channelStatistics(xp + xBase, channels: c, stride: p, epsilon: normEpsilon)
                var sum = 0.0
                for ch in 0..<c {
                    let z = w[ch] * (xp[xBase + ch * p] - mean) * rstd + (b?[ch] ?? 0)
                    s[ch] = w[ch] * (gp[gBase + ch * p] / (z + (z < 0 ? -eps : eps)))
                    sum += Double(s[ch])
                }
                let centre = Float(sum / Double(c))
                for ch in 0..<c { op[gBase + ch * p] = xp[xBase + ch * p] * rstd * (s[ch] - centre) }
            }
        }
        return out
    }

    /// Softmax over the channels at every pixel (torch.softmax(x, dim=1)): PIPNet's
    /// prototype presence. Shifted by the channel maximum; the sum accumulates in double.
    public static func softmaxChannels(_ x: Tensor) -> Tensor {
        let (n, c, p) = channelView(x.shape)
        let out = Tensor(uninitialized: x.shape)
        let xp = x.data, op = out.data
        Parallel.forRanges(n * p, minChunk: 64) { pixels in
            for pixel in pixels {
                let base = (pixel / p) * c * p + pixel % p
                var top = -Float.infinity
                for ch in 0..<c { top = Swift.max(top, xp[base + ch * p]) }
                var sum = 0.0
                for ch in 0..<c {
                    let e = expf(xp[base + ch * p] - top)
                    op[base + ch * p] = e
                    sum += Double(e)
                }
                let inv = Float(1 / sum)
                for ch in 0..<c { op[base + ch * p] *= inv }
            }
        }
        return out
    }

    /// The input gradient of `softmaxChannels` from its output y: y ⊙ (g − Σ_C g·y).
    /// g: (N·K, C, …), y: (N, C, …).
    public static func softmaxChannelsInputGradient(_ g: Tensor, output y: Tensor) -> Tensor {
        let (n, c, p) = channelView(y.shape)
        let k = g.shape[0] / max(n, 1)
        let out = Tensor(uninitialized: g.shape)
        let gp = g.data, yp = y.data, op = out.data
        Parallel.forRanges(g.shape[0] * p, minChunk: 64) { pixels in
            for pixel in pixels {
                let row = pixel / p, q = pixel % p
                let yBase = (row / k) * c * p + q, gBase = row * c * p + q
                var dot = 0.0
                for ch in 0..<c { dot += Double(gp[gBase + ch * p] * yp[yBase + ch * p]) }
                let d = Float(dot)
                for ch in 0..<c { op[gBase + ch * p] = yp[yBase + ch * p] * (gp[gBase + ch * p] - d) }
            }
        }
        return out
    }

    /// y = x·s per channel (ConvNeXt's layer scale); s: (C). Also its input gradient
    /// (the same product with the signal).
    public static func channelScale(_ x: Tensor, _ s: Tensor) -> Tensor {
        let (n, c, p) = channelView(x.shape)
        let out = Tensor(uninitialized: x.shape)
        let xp = x.data, op = out.data, sp = s.data
        Parallel.forRanges(n * c) { planes in
            for plane in planes {
                let f = sp[plane % c], src = xp + plane * p, dst = op + plane * p
                for i in 0..<p { dst[i] = src[i] * f }
            }
        }
        return out
    }

    /// Whether `a` and `b` may be multiplied by `multiply`: equal shapes, or one of rank ≥ 3
    /// and the other of the same rank with its dimensions after the channels all 1 (a
    /// per-channel gate (N, C, 1, 1) on (N, C, H, W)).
    public static func multiplyShape(_ a: [Int], _ b: [Int]) -> [Int]? {
        if a == b { return a }
        func gates(_ full: [Int], _ gate: [Int]) -> Bool {
            full.count >= 3 && gate.count == full.count && Array(gate.prefix(2)) == Array(full.prefix(2))
                && gate.dropFirst(2).allSatisfy { $0 == 1 }
        }
        if gates(a, b) { return a }
        if gates(b, a) { return b }
        return nil
    }

    /// a ⊙ b for shapes `multiplyShape` accepts (a per-channel operand is broadcast over
    /// the pixels).
    public static func multiply(_ a: Tensor, _ b: Tensor) -> Tensor {
        if a.shape == b.shape {
            let out = Tensor(uninitialized: a.shape)
            let ap = a.data, bp = b.data, op = out.data
            Parallel.forRanges(a.count, minChunk: 1 << 15) { r in
                for i in r { op[i] = ap[i] * bp[i] }
            }
            return out
        }
        let (full, gate) = a.count >= b.count ? (a, b) : (b, a)
        return planeScale(full, gate, rowsPerGate: 1)
    }

    /// out[r, c, :] = s[r, c, :] · gate[r / k, c] (k = s rows per gate row): a per-channel
    /// operand (N, C, 1, …) broadcast over the pixels of `s`.
    public static func planeScale(_ s: Tensor, _ gate: Tensor, rowsPerGate k: Int) -> Tensor {
        let (rows, c, p) = channelView(s.shape)
        let out = Tensor(uninitialized: s.shape)
        let sp = s.data, gp = gate.data, op = out.data
        Parallel.forRanges(rows * c) { planes in
            for plane in planes {
                let f = gp[(plane / c / k) * c + plane % c], src = sp + plane * p, dst = op + plane * p
                for i in 0..<p { dst[i] = src[i] * f }
            }
        }
        return out
    }

    /// Σ over the pixels of s[r, c, :] · x[r / k, c, :]: the gradient of a per-channel
    /// gate (rows of `s`, C, 1, …) from the signal `s` on the gated output and the gated
    /// input `x` (N, C, …).
    public static func planeDot(_ s: Tensor, _ x: Tensor, gateShape: [Int]) -> Tensor {
        let (rows, c, p) = channelView(s.shape)
        let k = rows / max(x.shape[0], 1)
        let out = Tensor(uninitialized: [rows] + Array(gateShape.dropFirst()))
        let sp = s.data, xp = x.data, op = out.data
        Parallel.forRanges(rows * c) { planes in
            for plane in planes {
                let src = sp + plane * p, arg = xp + ((plane / c / k) * c + plane % c) * p
                var sum: Float = 0
                for i in 0..<p { sum += src[i] * arg[i] }
                op[plane] = sum
            }
        }
        return out
    }
}
