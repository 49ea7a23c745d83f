extension Rule {
    /// LRP-γ (Captum's GammaRule): W' = W + γ·W⁺, optional zero bias, z' = f(x; W', b'),
    /// R_x = x ⊙ J'ᵀ [R / (z' + 1e-9·sign0(z'))]; x is the original activation.
    public static func gamma(_ gamma: Float = 0.25, setBiasToZero: Bool = false) -> Rule {
        Rule(kind: .gamma, epsilon: 1e-9, gamma: gamma, setBiasToZero: setBiasToZero)
    }
}

enum GammaRuleMath {
    static func weight(_ w: Tensor, gamma: Float) -> Tensor {
        Kernels.map(w) { $0 + gamma * max($0, 0) }
    }
}
