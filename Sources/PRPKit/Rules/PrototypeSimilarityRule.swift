/// The rule of a prototype layer (`l2_distance`; the similarity after it passes the
/// signal through), in one of two weightings of the channels:
/// - CaBRNet's SimilarityLRPWrapper: per location and channel γ_pc = 1 / ((f_c − p_c)² + ε),
///   w_pc = γ_pc / (Σ_c γ_pc + ε), R_f[c] = Σ_p w_pc·R[p]; no multiplication by f; ε = 1e-12.
/// - by contribution (the corrected composite, docs/faithfulness.md): the relevance of
///   s(d), d = Σ_c (f_c − p_c)², is shared among channels by their gradient × input
///   contribution, w_pc = f_c·(f_c − p_c) / (Σ_c f_c·(f_c − p_c) + ε·sign0). The factor
///   2·ds/dd is common to every channel of one (prototype, location) and cancels, so the
///   rule holds for any similarity of the distance (ProtoPNet's log, ProtoTree's exp).
///   Conservative: Σ_c R_f[c] = R up to ε.
struct PrototypeSimilarityRule: RuleDefinition {
    static let name = "prototype_similarity"
    static let parameterKeys: Set<String> = ["stability_factor", "weighting"]
    static let ops: Set<String>? = ["l2_distance"]
    var stabilityFactor: Float
    var byContribution: Bool

    static func decode(_ json: ConfigReader) throws -> PrototypeSimilarityRule {
        switch json["weighting"] {
        case nil, .string("cabrnet")?:
            return PrototypeSimilarityRule(stabilityFactor: try json.float("stability_factor") ?? 1e-12, byContribution: false)
        case .string("contribution")?:
            return PrototypeSimilarityRule(stabilityFactor: try json.float("stability_factor") ?? 1e-6, byContribution: true)
        default:
            throw PRPKitError.invalidArgument("\(json.context): \"weighting\" must be \"cabrnet\" or \"contribution\"")
        }
    }
    var parameters: [(String, JSONValue)] {
        [("stability_factor", jsonNumber(stabilityFactor))] + (byContribution ? [("weighting", .string("contribution"))] : [])
    }
    var description: String {
        byContribution ? "PrototypeSimilarityByContribution(stability_factor=\(stabilityFactor))"
                       : "SimilarityLRPWrapper(lrp_stability_factor=\(stabilityFactor))"
    }

    func forwardNeeds(_ node: Node) -> ForwardNeeds? { ForwardNeeds(reads: [node.inputs[0]], prepared: true) }

    /// The weights' denominators (N, P, H·W).
    struct Cache: RuleCache {
        var sums: Tensor
        var tensors: [Tensor] { [sums] }
    }

    func prepare(_ engine: RelevancePropagator, _ node: Node, inputs: [Tensor], output: Tensor) throws -> (any RuleCache)? {
        Cache(sums: engine.prototypeSimilaritySums(node, rule: self, input: inputs[0]))
    }

    func backward(_ engine: RelevancePropagator, _ node: Node, _ g: Tensor, state: RelevancePropagator.ForwardState,
                  cache: (any RuleCache)?) throws -> [Tensor?]? {
        [engine.prototypeSimilarityBackward(node, rule: self, g: g, input: state.activation(node.inputs[0]),
                                            sums: (cache as! Cache).sums, forwardBatch: state.batch)]
    }
}

extension Rule.Kind { public static let prototypeSimilarity = Rule.Kind(rawValue: PrototypeSimilarityRule.name) }

extension Rule {
    /// CaBRNet's SimilarityLRPWrapper weighting (default ε = 1e-12).
    public static func prototypeSimilarity(stabilityFactor: Float = 1e-12) -> Rule {
        Rule(PrototypeSimilarityRule(stabilityFactor: stabilityFactor, byContribution: false))
    }

    /// The weighting by gradient × input contribution (default ε = 1e-6).
    public static func prototypeSimilarityByContribution(stabilityFactor: Float = 1e-6) -> Rule {
        Rule(PrototypeSimilarityRule(stabilityFactor: stabilityFactor, byContribution: true))
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
    func prototypeSimilaritySums(_ node: Node, rule: PrototypeSimilarityRule, input x: Tensor) -> Tensor {
        let protos = graph.parameter(node, "prototypes")!
        let (n, d, hw) = (x.shape[0], x.shape[1], x.shape[2] * x.shape[3])
        let p = protos.shape[0]
        let sums = Tensor(zeros: [n, p, hw])
        let xp = x.data, pp = protos.data, sp = sums.data, eps = rule.stabilityFactor, byContribution = rule.byContribution
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

    func prototypeSimilarityBackward(_ node: Node, rule: PrototypeSimilarityRule, g: Tensor, input x: Tensor,
                                     sums: Tensor, forwardBatch: Int) -> Tensor {
        let protos = graph.parameter(node, "prototypes")!
        let (d, hw) = (x.shape[1], x.shape[2] * x.shape[3])
        let p = protos.shape[0]
        let rows = g.shape[0], k = rows / forwardBatch
        let out = Tensor(zeros: [rows, d, x.shape[2], x.shape[3]])
        let xp = x.data, pp = protos.data, gp = g.data, sp = sums.data, op = out.data, eps = rule.stabilityFactor
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
