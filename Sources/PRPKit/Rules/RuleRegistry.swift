/// Every rule prpkit knows, by name. A new rule is a new file in Rules/ (its
/// `RuleDefinition`, its `Rule` constructor and `Rule.Kind` constant) plus one line here.
enum RuleRegistry {
    static let definitions: [any RuleDefinition.Type] = [
        EpsilonRule.self, GammaRule.self, Alpha1Beta0Rule.self, IdentityRule.self, GradientRule.self,
        PassThroughRule.self, ZBetaRule.self, PRPAlpha1Beta0Rule.self, StackedSumRule.self,
        PrototypeSimilarityRule.self, AlphaBetaRule.self, GeneralizedGammaRule.self, NormRule.self,
        GateRule.self, LayerNormEpsilonRule.self,
    ]

    static let byName: [String: any RuleDefinition.Type] = {
        var out: [String: any RuleDefinition.Type] = [:]
        for d in definitions {
            precondition(out[d.name] == nil, "two rules named '\(d.name)'")
            out[d.name] = d
        }
        return out
    }()
}
