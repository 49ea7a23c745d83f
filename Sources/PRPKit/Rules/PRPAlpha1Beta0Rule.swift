extension Rule {
    /// CaBRNet's Alpha1Beta0Conv2d / Alpha1Beta0Linear backward (the PRP composite's rule
    /// for every layer but the first): z = f(x⁺; W⁺, b⁺) + f(x⁻; W⁻) (b⁺ dropped under
    /// setBiasToZero), n = R / (z + ε·sign(z) + 1e-12·[z = 0]),
    /// R_x = x⁺ ⊙ W⁺ᵀn + x⁻ ⊙ W⁻ᵀn. The x⁻ path is skipped when x ≥ 0 (after a ReLU).
    public static func prpAlpha1Beta0(stabilityFactor: Float = 1e-6, setBiasToZero: Bool = true) -> Rule {
        Rule(kind: .prpAlpha1Beta0, epsilon: stabilityFactor, setBiasToZero: setBiasToZero)
    }
}

extension RelevancePropagator {
    struct Alpha1Beta0Cache {
        var denominator: Tensor
        var xPlus: Tensor
        /// nil when the input has no negative entry.
        var xMinus: Tensor?
    }

    func prpAlpha1Beta0Prepare(_ node: Node, rule: Rule, input x: Tensor) -> Alpha1Beta0Cache {
        let bPlus = rule.setBiasToZero ? nil : graph.parameter(node, "bias").map { t in Kernels.map(t) { max($0, 0) } }
        let hasNegative = x.buffer.contains { $0 < 0 }
        let xPlus = hasNegative ? Kernels.map(x) { max($0, 0) } : x
        var z = signedLayerForward(node, xPlus, positive: true, bias: bPlus)
        var xMinus: Tensor? = nil
        if hasNegative {
            let xm = Kernels.map(x) { min($0, 0) }
            z = Kernels.add(z, signedLayerForward(node, xm, positive: false, bias: nil))
            xMinus = xm
        }
        let eps = rule.epsilon
        let den = Kernels.map(z) { v in v + (v > 0 ? eps : (v < 0 ? -eps : 1e-12)) }
        return Alpha1Beta0Cache(denominator: den, xPlus: xPlus, xMinus: xMinus)
    }

    func prpAlpha1Beta0Backward(_ node: Node, g: Tensor, inputShape: [Int], cache: Alpha1Beta0Cache) -> Tensor {
        let n = Kernels.rowBroadcast(g, cache.denominator, divide: true)
        let out = Kernels.rowBroadcast(layerInputGradient(node, n, weight: { self.positiveWeight(node) }, inputShape: inputShape,
                                                          keepsFlipped: true, signDefinite: true), cache.xPlus)
        if let xm = cache.xMinus {
            Kernels.accumulate(out, Kernels.rowBroadcast(layerInputGradient(node, n, weight: { self.negativeWeight(node) },
                                                                            inputShape: inputShape), xm))
        }
        return out
    }
}
