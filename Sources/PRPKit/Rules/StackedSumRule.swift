extension Rule {
    /// CaBRNet's StackedSum on a residual `add` o = a + b: R_a = a ⊙ R / d, R_b = b ⊙ R / d.
    /// CaBRNet 1.2 writes `eps * (o.sign() + o == 0)`, which Python parses as
    /// eps·[(sign(o) + o) == 0], true only where o = 0: so d = o + ε·[o = 0]. prpkit
    /// reproduces that quirk here; see the corrected composite for an ε·sign0(o) variant.
    public static func stackedSum(stabilityFactor: Float = 1e-6) -> Rule {
        Rule(kind: .stackedSum, epsilon: stabilityFactor)
    }
}

extension RelevancePropagator {
    func stackedSumPrepare(rule: Rule, output o: Tensor) -> Tensor {
        let eps = rule.epsilon
        return Kernels.map(o) { $0 == 0 ? eps : $0 }
    }

    func stackedSumBackward(g: Tensor, inputs x: [Tensor], denominator: Tensor) -> [Tensor] {
        let q = Kernels.rowBroadcast(g, denominator, divide: true)
        return [Kernels.rowBroadcast(q, x[0]), Kernels.rowBroadcast(q, x[1])]
    }
}
