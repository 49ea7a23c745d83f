extension Rule {
    /// CaBRNet's SimilarityLRPWrapper backward, put on an `l2_distance` node (the
    /// `log_similarity` after it passes the signal through). Per location and channel:
    /// γ_pc = 1 / ((f_c − p_c)² + ε), w_pc = γ_pc / (Σ_c γ_pc + ε), R_f[c] = Σ_p w_pc·R[p].
    /// No multiplication by f. CaBRNet's ε is 1e-12.
    public static func prototypeSimilarity(stabilityFactor: Float = 1e-12) -> Rule {
        Rule(kind: .prototypeSimilarity, epsilon: stabilityFactor)
    }
}

extension Rule {
    /// The corrected composite's similarity rule (docs/faithfulness.md): the relevance of
    /// s(d), d = Σ_c (f_c − p_c)², is shared among channels by their gradient × input
    /// contribution, w_pc = f_c·(f_c − p_c) / (Σ_c f_c·(f_c − p_c) + ε·sign0). The factor
    /// 2·ds/dd is common to every channel of one (prototype, location) and cancels, so
    /// the rule holds for any similarity of the distance (ProtoPNet's log, ProtoTree's exp).
    /// Conservative: Σ_c R_f[c] = R up to ε.
    public static func prototypeSimilarityByContribution(stabilityFactor: Float = 1e-6) -> Rule {
        var r = Rule(kind: .prototypeSimilarity, epsilon: stabilityFactor)
        r.byContribution = true
        return r
    }
}

extension RelevancePropagator {
    /// The per-channel weight's numerator: CaBRNet's γ_pc or the contribution f_c·(f_c − p_c).
    @inline(__always)
    private static func similarityWeight(_ f: Float, _ pc: Float, _ eps: Float, byContribution: Bool) -> Float {
        let t = f - pc
        return byContribution ? f * t : 1 / (t * t + eps)
    }

    /// The weights' denominator for every (example, prototype, location): (N, P, H·W);
    /// Σ_c γ_pc + ε (CaBRNet), or Σ_c f_c·(f_c − p_c) + ε·sign0 (by contribution).
    func prototypeSimilarityPrepare(_ node: Node, rule: Rule, input x: Tensor) -> Tensor {
        let protos = graph.parameter(node, "prototypes")!
        let (n, d, hw) = (x.shape[0], x.shape[1], x.shape[2] * x.shape[3])
        let p = protos.shape[0]
        let sums = Tensor(zeros: [n, p, hw])
        let xp = x.data, pp = protos.data, sp = sums.data, eps = rule.epsilon, byContribution = rule.byContribution
        Parallel.forEach(n * p) { job in
            let b = job / p, j = job % p
            let feat = xp + b * d * hw, proto = pp + j * d, dst = sp + job * hw
            for c in 0..<d {
                let pc = proto[c], row = feat + c * hw
                for l in 0..<hw { dst[l] += Self.similarityWeight(row[l], pc, eps, byContribution: byContribution) }
            }
            for l in 0..<hw { dst[l] += byContribution ? (dst[l] >= 0 ? eps : -eps) : eps }
        }
        return sums
    }

    func prototypeSimilarityBackward(_ node: Node, rule: Rule, g: Tensor, input x: Tensor,
                                     sums: Tensor, forwardBatch: Int) -> Tensor {
        let protos = graph.parameter(node, "prototypes")!
        let (d, hw) = (x.shape[1], x.shape[2] * x.shape[3])
        let p = protos.shape[0]
        let rows = g.shape[0], k = rows / forwardBatch
        let out = Tensor(zeros: [rows, d, x.shape[2], x.shape[3]])
        let xp = x.data, pp = protos.data, gp = g.data, sp = sums.data, op = out.data, eps = rule.epsilon
        let byContribution = rule.byContribution
        Parallel.forEach(rows) { r in
            let b = r / k
            let feat = xp + b * d * hw, dst = op + r * d * hw
            for j in 0..<p {
                let gRow = gp + (r * p + j) * hw, sRow = sp + (b * p + j) * hw
                let proto = pp + j * d
                for l in 0..<hw where gRow[l] != 0 {
                    let coef = gRow[l] / sRow[l]
                    for c in 0..<d {
                        dst[c * hw + l] += coef * Self.similarityWeight(feat[c * hw + l], proto[c], eps,
                                                                        byContribution: byContribution)
                    }
                }
            }
        }
        return out
    }
}
