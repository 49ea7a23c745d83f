extension Rule {
    /// LRP-ε (Captum's EpsilonRule): R_x = x ⊙ Jᵀ [R / (z + ε·sign0(z))].
    /// Captum's default for Conv2d, Linear, pooling and BatchNorm2d, with ε = 1e-9.
    public static func epsilon(_ epsilon: Float = 1e-9) -> Rule { Rule(kind: .epsilon, epsilon: epsilon) }
}
