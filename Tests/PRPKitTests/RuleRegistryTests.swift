import XCTest
@testable import PRPKit
@testable import PRPKitGraph
@testable import PRPKitKernels

/// Every registered rule is data: its JSON form round-trips, its defaults are the
/// reference's, unknown keys and ops are refused — so a new rule file added to the
/// registry is covered by these checks without touching them.
final class RuleRegistryTests: XCTestCase {
    /// One non-default instance per rule, built through its public constructor.
    let samples: [Rule] = [
        .epsilon(0.25), .epsilon(1e-6, edgePadding: true), .gamma(0.5, setBiasToZero: true), .alpha1Beta0(setBiasToZero: true), .identity(), .gradient(),
        .passThrough(), .zBeta(lowerBound: -1, upperBound: 2, stabilityFactor: 1e-3, setBiasToZero: false),
        .zBeta(channelLowerBounds: [-1, -2], channelUpperBounds: [1, 3]), .prpAlpha1Beta0(stabilityFactor: 1e-4, setBiasToZero: false),
        .stackedSum(stabilityFactor: 1e-5, epsilonOnSign: true), .prototypeSimilarity(stabilityFactor: 1e-8),
        .prototypeSimilarityByContribution(stabilityFactor: 1e-3), .alphaBeta(alpha: 1, beta: 0, stabilizer: 1e-5),
        .generalizedGamma(0.5, stabilizer: 1e-4), .norm(stabilizer: 1e-3),
        .gate(signal: 1), .layerNormEpsilon(stabilityFactor: 1e-4, setBiasToZero: false),
    ]

    func testEveryRuleHasASampleAndAUniqueName() {
        XCTAssertEqual(Set(samples.map(\.kind)), Set(Rule.Kind.allCases))
        XCTAssertEqual(Set(RuleRegistry.definitions.map { $0.name }).count, RuleRegistry.definitions.count)
    }

    func testJSONRoundTrips() throws {
        for rule in samples {
            let again = try Rule(json: try JSONParser.parse(JSONWriter.write(rule.json)), context: "t")
            XCTAssertEqual(again, rule, "\(rule)")
            XCTAssertEqual(again.description, rule.description)
        }
        XCTAssertNotEqual(Rule.epsilon(0.25), .epsilon(0.5))
        XCTAssertNotEqual(Rule.prototypeSimilarity(), .prototypeSimilarityByContribution())
    }

    func testDefaultsAreTheReferences() throws {
        func parsed(_ name: String) throws -> Rule { try Rule(json: .object([("rule", .string(name))]), context: "t") }
        XCTAssertEqual(try parsed("epsilon"), .epsilon(1e-9))  // Captum's EpsilonRule()
        XCTAssertEqual(try parsed("gamma"), .gamma(0.25))  // Captum's GammaRule()
        XCTAssertEqual(try parsed("zbeta"), .zBeta(lowerBound: ZBetaDefaults.lowerBound, upperBound: ZBetaDefaults.upperBound,
                                                  stabilityFactor: 1e-6, setBiasToZero: true))  // CaBRNet's
        XCTAssertEqual(try parsed("prp_alpha1_beta0"), .prpAlpha1Beta0(stabilityFactor: 1e-6, setBiasToZero: true))
        XCTAssertEqual(try parsed("stacked_sum"), .stackedSum(stabilityFactor: 1e-6))
        XCTAssertEqual(try parsed("prototype_similarity"), .prototypeSimilarity(stabilityFactor: 1e-12))
        XCTAssertEqual(try parsed("alpha_beta"), .alphaBeta(alpha: 2, beta: 1, stabilizer: 1e-6))  // zennit's AlphaBeta()
        XCTAssertEqual(try parsed("generalized_gamma"), .generalizedGamma(0.25, stabilizer: 1e-6))  // zennit's Gamma()
        XCTAssertEqual(try parsed("norm"), .norm(stabilizer: 1e-6))  // zennit's Norm()
        XCTAssertEqual(Rule.epsilon().description, "EpsilonRule(epsilon=1e-09)")
    }

    func testUnknownNamesKeysAndOpsAreRefused() throws {
        XCTAssertThrowsError(try Rule(json: .object([("rule", .string("nope"))]), context: "r")) { e in
            XCTAssertTrue("\(e)".contains("must be one of epsilon, gamma"), "\(e)")
        }
        XCTAssertThrowsError(try Rule(json: .object([("rule", .string("epsilon")), ("gamma", .number(1))]), context: "r")) { e in
            XCTAssertTrue("\(e)".contains("unknown key 'gamma'"), "\(e)")
        }
        // zennit's constraints: α, β ≥ 0 with α − β = 1; γ ≥ 0.
        for bad in [#"{"rule": "alpha_beta", "alpha": 2, "beta": 0}"#, #"{"rule": "alpha_beta", "alpha": 0, "beta": -1}"#,
                    #"{"rule": "generalized_gamma", "gamma": -0.5}"#] {
            XCTAssertThrowsError(try Rule(json: try JSONParser.parse(bad), context: "r"), bad)
        }
        let graph = try Graph(inputs: [ValueInfo(name: "x", shape: [1, 2])],
                              nodes: [Node(name: "r", op: .relu, inputs: ["x"])], outputs: ["r"], parameters: [:])
        XCTAssertThrowsError(try RuleSet(byNode: ["r": .stackedSum()]).resolve(graph)) { e in
            XCTAssertTrue("\(e)".contains("it takes add"), "\(e)")
        }
    }

    /// The corrected composite's per-channel z^B needs at least one channel: an empty
    /// normalisation is refused in the config (z^B's constructor requires it).
    func testEmptyNormalisationIsRefused() {
        XCTAssertThrowsError(try ExplainerConfig(json: #"{"composite": "prpkit_prp", "composite_options": {"input_mean": [], "input_std": []}}"#)) { e in
            XCTAssertTrue("\(e)".contains("one value per channel"), "\(e)")
        }
    }

    /// Per-channel z^B bounds that do not match the layer's input channels fail with an
    /// error when the layer runs, never a crash.
    func testMismatchedChannelBoundsThrow() throws {
        let w = try Tensor(shape: [1, 2, 1, 1], values: [1, -1])
        let graph = try Graph(inputs: [ValueInfo(name: "x", shape: [1, 2, 2, 2])],
                              nodes: [Node(name: "c", op: .conv2d(Conv2dAttributes()), inputs: ["x"], parameters: ["weight": "w"])],
                              outputs: ["c"], parameters: ["w": w])
        for (lower, upper) in [([Float](), [Float]()), ([-1, -1, -1], [1, 1, 1]), ([-1, -1], [1])] {
            let lrp = try LRP(graph: graph, rules: RuleSet(byNode: ["c": .zBeta(channelLowerBounds: lower, channelUpperBounds: upper)]))
            XCTAssertThrowsError(try lrp.attribute([Tensor(zeros: [1, 2, 2, 2])], targets: [[0, 0, 0]])) { e in
                XCTAssertTrue("\(e)".contains("channel bounds for an input with 2 channels"), "\(e)")
            }
        }
    }
}
