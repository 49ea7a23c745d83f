extension Rule {
    /// Captum's Alpha1_Beta0_Rule: as GammaRule with W' = W⁺. Unlike the textbook
    /// α1β0 rule, Captum does not split x into x⁺ and x⁻ (CaBRNet's Alpha1Beta0Conv2d does;
    /// see the PRP composite).
    public static func alpha1Beta0(setBiasToZero: Bool = false) -> Rule {
        Rule(kind: .alpha1Beta0, epsilon: 1e-9, setBiasToZero: setBiasToZero)
    }
}

enum Alpha1Beta0RuleMath {
    static func weight(_ w: Tensor) -> Tensor { Kernels.map(w) { max($0, 0) } }
}
