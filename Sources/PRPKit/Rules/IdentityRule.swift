extension Rule {
    /// Captum's IdentityRule: R_x = R. The signal arriving at the layer's output is
    /// remembered; on the input tensor whose hook this layer owns, the total signal is
    /// replaced by it.
    public static func identity() -> Rule { Rule(kind: .identity, epsilon: 1e-9) }
}
