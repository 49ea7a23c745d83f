/// A relevance propagation rule, described as data (what it does to a layer's
/// parameters, how it stabilises the denominator, what happens on the layer's input
/// tensor) so that it can cross the C ABI by name and parameters. One file per rule
/// defines its constructor and documents its formula; the engine in Explain/ applies it.
public struct Rule: Equatable, Hashable, Sendable, CustomStringConvertible {
    public enum Kind: String, Sendable, CaseIterable {
        case epsilon
        case gamma
        case alpha1Beta0 = "alpha1_beta0"
        case identity
        /// No hooks: the layer's ordinary backward (CaBRNet's GradientRule).
        case gradient
        /// Signal passes through unchanged (Captum's ReLU / Dropout / Tanh handling).
        case passThrough = "pass_through"
        /// CaBRNet's ZBetaConv2d / ZBetaLinear backward (first layer, bounded input).
        case zBeta = "zbeta"
        /// CaBRNet's Alpha1Beta0Conv2d / Alpha1Beta0Linear backward (x split into x⁺, x⁻).
        case prpAlpha1Beta0 = "prp_alpha1_beta0"
        /// CaBRNet's StackedSum backward on `add`.
        case stackedSum = "stacked_sum"
        /// CaBRNet's SimilarityLRPWrapper backward on `l2_distance` (the log similarity
        /// after it passes the signal through).
        case prototypeSimilarity = "prototype_similarity"
    }

    public var kind: Kind
    /// Added to the recomputed output as ε·sign0(z') before dividing (sign0(0) = 1).
    public var epsilon: Float
    /// GammaRule's γ in W' = W + γ·W⁺ (unused by the other rules).
    public var gamma: Float
    /// Drop the bias from the recomputed output z' (Gamma and Alpha1_Beta0).
    public var setBiasToZero: Bool
    /// z^B's admissible input range [lowerBound, upperBound] (in normalized units).
    public var lowerBound: Float
    public var upperBound: Float
    /// Per-input-channel z^B bounds (the corrected composite); empty = the scalars above.
    public var channelLowerBounds: [Float] = []
    public var channelUpperBounds: [Float] = []
    /// StackedSum: stabilise with ε·sign0(o) instead of CaBRNet's ε·[o = 0].
    public var epsilonOnSign = false
    /// Prototype similarity: share the relevance among feature channels by their
    /// gradient × input contribution f_c·∂d/∂f_c instead of CaBRNet's 1/((f_c − p_c)² + ε).
    public var byContribution = false

    init(kind: Kind, epsilon: Float = 1e-9, gamma: Float = 0, setBiasToZero: Bool = false,
         lowerBound: Float = 0, upperBound: Float = 0) {
        self.kind = kind; self.epsilon = epsilon; self.gamma = gamma; self.setBiasToZero = setBiasToZero
        self.lowerBound = lowerBound; self.upperBound = upperBound
    }

    /// Whether the rule installs Captum's tensor hooks (divide at the output,
    /// multiply-by-input or replace at the input).
    public var hooksTensors: Bool {
        switch kind {
        case .epsilon, .gamma, .alpha1Beta0, .identity: return true
        case .gradient, .passThrough, .zBeta, .prpAlpha1Beta0, .stackedSum, .prototypeSimilarity: return false
        }
    }

    /// The weight the rule propagates through (W itself unless the rule changes it).
    func modifiedWeight(_ w: Tensor) -> Tensor {
        switch kind {
        case .gamma: return GammaRuleMath.weight(w, gamma: gamma)
        case .alpha1Beta0: return Alpha1Beta0RuleMath.weight(w)
        default: return w
        }
    }

    /// Whether z' differs from the forward output z (then it is recomputed).
    var changesForward: Bool {
        switch kind {
        case .gamma, .alpha1Beta0: return true
        default: return false
        }
    }

    public var description: String {
        switch kind {
        case .epsilon: return "EpsilonRule(epsilon=\(epsilon))"
        case .gamma: return "GammaRule(gamma=\(gamma), set_bias_to_zero=\(setBiasToZero))"
        case .alpha1Beta0: return "Alpha1_Beta0_Rule(set_bias_to_zero=\(setBiasToZero))"
        case .identity: return "IdentityRule()"
        case .gradient: return "GradientRule()"
        case .passThrough: return "PassThrough()"
        case .zBeta:
            let lower = channelLowerBounds.isEmpty ? "\(lowerBound)" : "\(channelLowerBounds)"
            let upper = channelUpperBounds.isEmpty ? "\(upperBound)" : "\(channelUpperBounds)"
            return "ZBeta(lower_bound=\(lower), upper_bound=\(upper), stability_factor=\(epsilon), set_bias_to_zero=\(setBiasToZero))"
        case .prpAlpha1Beta0: return "Alpha1Beta0(stability_factor=\(epsilon), set_bias_to_zero=\(setBiasToZero))"
        case .stackedSum: return "StackedSum(stability_factor=\(epsilon)\(epsilonOnSign ? ", epsilon_on_sign=true" : ""))"
        case .prototypeSimilarity:
            return byContribution ? "PrototypeSimilarityByContribution(stability_factor=\(epsilon))"
                                  : "SimilarityLRPWrapper(lrp_stability_factor=\(epsilon))"
        }
    }
}
