#if canImport(Glibc)
import Glibc
#endif

extension Kernels {
    /// Squared L2 distances between every feature vector and every prototype.
    /// x: (N, D, H, W), prototypes: (P, D) or (P, D, 1, 1) → (N, P, H, W).
    ///
    /// Each `mode` evaluates the distance in the reference's own float32 order
    /// (see `DistanceMode`); `.cdist` follows torch.cdist, which takes the
    /// matrix-product form when H·W > 25 or P > 25 and the direct sum otherwise, and
    /// returns sqrt(max(0, ·)) which CaBRNet squares again.
    public static func l2Distance(_ x: Tensor, prototypes: Tensor, mode: DistanceMode) -> Tensor {
        let (n, d, hw) = (x.shape[0], x.shape[1], x.shape[2] * x.shape[3])
        let p = prototypes.shape[0]
        let out = Tensor(zeros: [n, p, x.shape[2], x.shape[3]])
        let xp = x.data, pp = prototypes.data, op = out.data
        var protoNorms = [Float](repeating: 0, count: p)
        for j in 0..<p {
            var s: Float = 0
            for c in 0..<d { s += pp[j * d + c] * pp[j * d + c] }
            protoNorms[j] = s
        }
        let direct = mode == .cdist && hw <= 25 && p <= 25
        protoNorms.withUnsafeBufferPointer { pn in
            Parallel.forEach(n * hw) { job in
                let b = job / hw, loc = job % hw
                let feat = xp + b * d * hw + loc
                var fnorm: Float = 0
                for c in 0..<d { fnorm += feat[c * hw] * feat[c * hw] }
                for j in 0..<p {
                    let proto = pp + j * d
                    var value: Float
                    if direct {
                        var s: Float = 0
                        for c in 0..<d { let t = feat[c * hw] - proto[c]; s += t * t }
                        let r = s.squareRoot()
                        value = r * r
                    } else {
                        var dot: Float = 0
                        for c in 0..<d { dot += feat[c * hw] * proto[c] }
                        switch mode {
                        case .cdist:
                            let r = max(0, -2 * dot + fnorm + pn[j]).squareRoot()
                            value = r * r
                        case .protopnet: value = fnorm + (-2 * dot + pn[j])
                        case .prototree: value = fnorm + pn[j] - 2 * dot
                        }
                    }
                    op[(b * p + j) * hw + loc] = value
                }
            }
        }
        return out
    }

    /// ProtoPNet similarity of distances: d ← max(0, d); log((d + 1) / (d + ε)).
    public static func logSimilarity(_ x: Tensor, epsilon: Float) -> Tensor {
        map(x) { v in
            let d = v > 0 ? v : (v.isNaN ? v : 0)
            return logf((d + 1) / (d + epsilon))
        }
    }

    /// ProtoTree similarity: s = sqrt(|d| + ε); exp(−s), or −s for log-probabilities.
    public static func expSimilarity(_ x: Tensor, epsilon: Float, logProbabilities: Bool) -> Tensor {
        map(x) { v in
            let s = (abs(v) + epsilon).squareRoot()
            return logProbabilities ? -s : expf(-s)
        }
    }
}
