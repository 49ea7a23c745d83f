extension Rule {
    /// CaBRNet's SimilarityLRPWrapper backward, put on an `l2_distance` node (the
    /// `log_similarity` after it passes the signal through). Per location and channel:
    /// γ_pc = 1 / ((f_c − p_c)² + ε), w_pc = γ_pc / (Σ_c γ_pc + ε), R_f[c] = Σ_p w_pc·R[p].
    /// No multiplication by f. CaBRNet's ε is 1e-12.
    public static func prototypeSimilarity(stabilityFactor: Float = 1e-12) -> Rule {
        Rule(kind: .prototypeSimilarity, epsilon: stabilityFactor)
    }
}

extension RelevancePropagator {
    /// Σ_c γ_pc + ε for every (example, prototype, location): (N, P, H·W).
    func prototypeSimilarityPrepare(_ node: Node, rule: Rule, input x: Tensor) -> Tensor {
        let protos = graph.parameter(node, "prototypes")!
        let (n, d, hw) = (x.shape[0], x.shape[1], x.shape[2] * x.shape[3])
        let p = protos.shape[0]
        let sums = Tensor(zeros: [n, p, hw])
        let xp = x.data, pp = protos.data, sp = sums.data, eps = rule.epsilon
        Parallel.forEach(n * p) { job in
            let b = job / p, j = job % p
            let feat = xp + b * d * hw, proto = pp + j * d, dst = sp + job * hw
            for c in 0..<d {
                let pc = proto[c], row = feat + c * hw
                for l in 0..<hw { let t = row[l] - pc; dst[l] += 1 / (t * t + eps) }
            }
            for l in 0..<hw { dst[l] += eps }
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
        Parallel.forEach(rows) { r in
            let b = r / k
            let feat = xp + b * d * hw, dst = op + r * d * hw
            for j in 0..<p {
                let gRow = gp + (r * p + j) * hw, sRow = sp + (b * p + j) * hw
                let proto = pp + j * d
                for l in 0..<hw where gRow[l] != 0 {
                    let coef = gRow[l] / sRow[l]
                    for c in 0..<d {
                        let t = feat[c * hw + l] - proto[c]
                        dst[c * hw + l] += coef * (1 / (t * t + eps))
                    }
                }
            }
        }
        return out
    }
}
