/// LRP-ε (Captum's EpsilonRule): R_x = x ⊙ Jᵀ [R / (z + ε·sign0(z))].
/// Captum's default for Conv2d, Linear, pooling and BatchNorm2d, with ε = 1e-9.
///
/// `"padding_reference": "edge"` (the corrected composite's first conv,
/// docs/corrected-composite.md): on a zero-padded convolution the padding holds 0 where
/// the image would continue with its edge pixels x̃, so it contributes Σ_pad (0 − x̃)·w to
/// each unit. That contribution joins the denominator, z' = z − conv(ring(x̃)), and its
/// share of the relevance stays in the padding (it is no pixel):
/// R_x = x ⊙ Jᵀ [R / (z' + ε·sign0(z'))]. Without padding this is LRP-ε.
struct EpsilonRule: RuleDefinition {
    static let name = "epsilon"
    static let parameterKeys: Set<String> = ["epsilon", "padding_reference"]
    var epsilon: Float
    var edgePadding = false

    static func decode(_ json: ConfigReader) throws -> EpsilonRule {
        let eps = try json.float("epsilon") ?? 1e-9
        switch json["padding_reference"] {
        case nil, .string("zero")?: return EpsilonRule(epsilon: eps)
        case .string("edge")?: return EpsilonRule(epsilon: eps, edgePadding: true)
        default: throw PRPKitError.invalidArgument("\(json.context): \"padding_reference\" must be \"zero\" or \"edge\"")
        }
    }
    var parameters: [(String, JSONValue)] {
        [("epsilon", jsonNumber(epsilon))] + (edgePadding ? [("padding_reference", .string("edge"))] : [])
    }
    var description: String { "EpsilonRule(epsilon=\(epsilon)\(edgePadding ? ", padding_reference=edge" : ""))" }
    var hook: TensorHook? {
        var hook = TensorHook(epsilon: epsilon)
        if edgePadding {
            hook.denominator = { engine, node, x, z in engine.edgePaddingDenominator(node, input: x, z: z) }
        }
        return hook
    }
}

extension Rule.Kind { public static let epsilon = Rule.Kind(rawValue: EpsilonRule.name) }

extension Rule {
    /// LRP-ε with stabiliser `epsilon` (Captum's EpsilonRule; default 1e-9).
    public static func epsilon(_ epsilon: Float = 1e-9) -> Rule { Rule(EpsilonRule(epsilon: epsilon)) }

    /// LRP-ε whose zero padding is referred to the input's edge (`edgePadding`).
    public static func epsilon(_ epsilon: Float, edgePadding: Bool) -> Rule {
        Rule(EpsilonRule(epsilon: epsilon, edgePadding: edgePadding))
    }
}

extension RelevancePropagator {
    /// z' of LRP-ε with edge-referenced padding: `z` minus the edge-replicated padding
    /// ring's convolution (no bias); `z` itself for a node without padding.
    func edgePaddingDenominator(_ node: Node, input x: Tensor, z: Tensor) -> Tensor {
        guard case .conv2d(let a) = node.op, a.padding.h > 0 || a.padding.w > 0,
              let w = graph.parameter(node, "weight") else { return z }
        var valid = a
        valid.padding = Pair2(0, 0)
        let ring = Kernels.conv2d(Kernels.edgePaddingRing(x, padding: a.padding), weight: w, bias: nil, valid)
        let out = Tensor(uninitialized: z.shape)
        let zp = z.data, rp = ring.data, op = out.data
        for i in 0..<z.count { op[i] = zp[i] - rp[i] }
        return out
    }
}
