extension Rule {
    /// CaBRNet's StackedSum on a residual `add` o = a + b: R_a = a ⊙ R / d, R_b = b ⊙ R / d.
    /// CaBRNet 1.2 writes `eps * (o.sign() + o == 0)`, which Python parses as
    /// eps·[(sign(o) + o) == 0], true only where o = 0: so d = o + ε·[o = 0]. prpkit
    /// reproduces that quirk by default; `epsilonOnSign` gives d = o + ε·sign0(o), the
    /// corrected composite's choice.
    public static func stackedSum(stabilityFactor: Float = 1e-6, epsilonOnSign: Bool = false) -> Rule {
        var r = Rule(kind: .stackedSum, epsilon: stabilityFactor)
        r.epsilonOnSign = epsilonOnSign
        return r
    }
}

extension RelevancePropagator {
    func stackedSumPrepare(rule: Rule, output o: Tensor) -> Tensor {
        let eps = rule.epsilon
        if rule.epsilonOnSign { return Kernels.map(o) { $0 + ($0 < 0 ? -eps : eps) } }
        return Kernels.map(o) { $0 == 0 ? eps : $0 }
    }

    /// The denominator is recomputed from the inputs (o = a + b, the forward's own float
    /// sum) rather than kept from the forward: one elementwise pass instead of a stored map.
    func stackedSumBackward(rule: Rule, g: Tensor, inputs x: [Tensor]) -> [Tensor] {
        let denominator = stackedSumPrepare(rule: rule, output: Kernels.add(x[0], x[1]))
        let q = Kernels.rowBroadcast(g, denominator, divide: true)
        return [Kernels.rowBroadcast(q, x[0]), Kernels.rowBroadcast(q, x[1])]
    }
}
