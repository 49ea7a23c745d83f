#if canImport(Glibc)
import Glibc
#endif

extension Kernels {
    /// Backward of `l2Distance` (d = ‖f − p‖² per location): g (B, P, H, W) → (B, D, H, W),
    /// dx[c, l] = Σ_p g[p, l] · 2 (f[c, l] − p_c). Signal row r uses forward example
    /// r / (B / N). Every distance mode gets the derivative of the exact distance (the
    /// modes differ in rounding only; the clamp at 0 of cdist is inactive for d > 0).
    public static func l2DistanceInputGradient(_ g: Tensor, features x: Tensor, prototypes: Tensor) -> Tensor {
        let (n, d, h, w) = (x.shape[0], x.shape[1], x.shape[2], x.shape[3])
        let hw = h * w, p = prototypes.shape[0]
        let rows = g.shape[0], perExample = rows / n
        let out = Tensor(zeros: [rows, d, h, w])
        let xp = x.data, pp = prototypes.data, gp = g.data, op = out.data
        Parallel.forEach(rows) { r in
            let feat = xp + (r / perExample) * d * hw, dst = op + r * d * hw
            for j in 0..<p {
                let gRow = gp + (r * p + j) * hw, proto = pp + j * d
                for c in 0..<d {
                    let pc = proto[c], fRow = feat + c * hw, dRow = dst + c * hw
                    for l in 0..<hw where gRow[l] != 0 { dRow[l] += 2 * gRow[l] * (fRow[l] - pc) }
                }
            }
        }
        return out
    }

    /// Backward of `logSimilarity` (s = log((max(d, 0) + 1) / (max(d, 0) + ε))):
    /// ds/dd = 1/(d + 1) − 1/(d + ε) for d > 0, 0 for d ≤ 0 (the clamp, as torch's relu).
    public static func logSimilarityInputGradient(_ g: Tensor, distances x: Tensor, epsilon: Float) -> Tensor {
        let slope = map(x) { d in d > 0 ? 1 / (d + 1) - 1 / (d + epsilon) : 0 }
        return rowBroadcast(g, slope)
    }

    /// Backward of `expSimilarity` (t = √(|d| + ε), s = exp(−t) or −t):
    /// ds/dd = −sign(d) / (2t) · exp(−t) (or without the exp for log-probabilities).
    public static func expSimilarityInputGradient(_ g: Tensor, distances x: Tensor, epsilon: Float,
                                                  logProbabilities: Bool) -> Tensor {
        let slope = map(x) { d in
            let t = (abs(d) + epsilon).squareRoot()
            let sign: Float = d > 0 ? 1 : (d < 0 ? -1 : 0)
            return -sign / (2 * t) * (logProbabilities ? 1 : expf(-t))
        }
        return rowBroadcast(g, slope)
    }
}
