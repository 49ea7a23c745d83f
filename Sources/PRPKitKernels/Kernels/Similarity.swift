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
        // Prototypes transposed (D × P, rows padded to 16): the dot products of one feature
        // vector with 16 prototypes at a time, each lane summing over c in order as the
        // scalar loop would (same floats), instead of P strided scalar dot products.
        let pPad = (p + 15) / 16 * 16
        var protoT = [Float](repeating: 0, count: direct ? 0 : d * pPad)
        if !direct { for j in 0..<p { for c in 0..<d { protoT[c * pPad + j] = pp[j * d + c] } } }
        protoNorms.withUnsafeBufferPointer { pn in protoT.withUnsafeBufferPointer { pt in
            Parallel.forEach(n * hw) { job in
                let b = job / hw, loc = job % hw
                let feat = xp + b * d * hw + loc
                var fnorm: Float = 0
                for c in 0..<d { fnorm += feat[c * hw] * feat[c * hw] }
                if direct {
                    for j in 0..<p {
                        let proto = pp + j * d
                        var s: Float = 0
                        for c in 0..<d { let t = feat[c * hw] - proto[c]; s += t * t }
                        let r = s.squareRoot()
                        op[(b * p + j) * hw + loc] = r * r
                    }
                    return
                }
                withUnsafeTemporaryAllocation(of: Float.self, capacity: d + pPad) { buf in
                    let f = buf.baseAddress!, dots = f + d
                    for c in 0..<d { f[c] = feat[c * hw] }
                    var j0 = 0
                    while j0 < pPad {
                        var acc = SIMD16<Float>()
                        var row = pt.baseAddress! + j0
                        for c in 0..<d {
                            acc = acc + SIMD16<Float>(repeating: f[c]) * UnsafeRawPointer(row).loadUnaligned(as: SIMD16<Float>.self)
                            row += pPad
                        }
                        UnsafeMutableRawPointer(dots + j0).storeBytes(of: acc, as: SIMD16<Float>.self)
                        j0 += 16
                    }
                    for j in 0..<p {
                        let dot = dots[j], value: Float
                        switch mode {
                        case .cdist:
                            let r = max(0, -2 * dot + fnorm + pn[j]).squareRoot()
                            value = r * r
                        case .protopnet: value = fnorm + (-2 * dot + pn[j])
                        case .prototree: value = fnorm + pn[j] - 2 * dot
                        }
                        op[(b * p + j) * hw + loc] = value
                    }
                }
            }
        } }
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
