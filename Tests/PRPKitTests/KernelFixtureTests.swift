import XCTest
@testable import PRPKit
@testable import PRPKitGraph
@testable import PRPKitKernels

/// Every single-node fixture in `Fixtures/kernels/` (generated from PyTorch / CaBRNet by
/// `tools/make_fixtures.py`) run through `Graph.forward`.
///
/// Tolerances, per op:
/// - exact: ops that only select or move floats (max_pool2d, spatial_min/max, relu,
///   dropout, flatten, reshape, concat) and `add` (one correctly rounded IEEE addition
///   of the same operands, whatever the order of elements);
/// - 1e-5 · max(1, max|expected|): ops whose result depends on summation order
///   (conv2d, linear, avg_pool2d, adaptive_avg_pool2d, l2_distance — PyTorch uses
///   blocked/vectorized reductions, prpkit its own), batch_norm2d (PyTorch may fuse
///   x·α + β into one FMA), and transcendental functions (sigmoid, tanh, log_similarity,
///   exp_similarity: glibc vs. PyTorch's vectorized SLEEF, both within a few ulp).
///   The floor of 1 keeps the bound meaningful for outputs near zero (e.g. sigmoid tails).
final class KernelFixtureTests: XCTestCase {
    static let tolerances: [String: Tolerance] = [
        "max_pool2d": .exact, "spatial_min": .exact, "spatial_max": .exact, "relu": .exact,
        "dropout": .exact, "flatten": .exact, "reshape": .exact, "concat": .exact, "add": .exact,
        "conv2d": .relative(1e-5), "linear": .relative(1e-5), "avg_pool2d": .relative(1e-5),
        "adaptive_avg_pool2d": .relative(1e-5), "batch_norm2d": .relative(1e-5),
        "sigmoid": .relative(1e-5), "tanh": .relative(1e-5), "l2_distance": .relative(1e-5),
        "log_similarity": .relative(1e-5), "exp_similarity": .relative(1e-5),
        // one product per element, the same operands: exact; layer norm's statistics are
        // summed in another order (prpkit in double)
        "mul": .exact, "channel_scale": .exact, "layer_norm": .relative(1e-5), "softmax": .relative(1e-5),
    ]

    /// All kernel fixtures, loaded once.
    static let fixtures: Result<[Fixtures.Case], Error> = Result { try Fixtures.all(in: "kernels") }

    /// Checks every fixture whose single node has op `kind`; requires at least one.
    func check(_ kind: String, file: StaticString = #filePath, line: UInt = #line) throws {
        let all = try Self.fixtures.get()
        let cases = all.filter { $0.graph.nodes.first?.op.kind == kind }
        XCTAssertFalse(cases.isEmpty, "no kernel fixture for op \(kind)", file: file, line: line)
        let tolerance = try XCTUnwrap(Self.tolerances[kind], "no tolerance for op \(kind)")
        for c in cases {
            XCTAssertEqual(c.graph.nodes.count, 1, "fixture \(c.id) should be a single-node graph")
            for l in checkFixture(c, tolerance: tolerance, file: file, line: line) { print(l) }
        }
    }

    func testEveryFixtureHasAToleranceAndATest() throws {
        let all = try Self.fixtures.get()
        XCTAssertGreaterThan(all.count, 50, "kernel fixtures missing; run python3 tools/make_fixtures.py")
        for c in all {
            let kind = c.graph.nodes.first?.op.kind ?? "?"
            XCTAssertNotNil(Self.tolerances[kind], "fixture \(c.id): op \(kind) has no tolerance / test")
        }
    }

    func testConv2d() throws { try check("conv2d") }
    func testLinear() throws { try check("linear") }
    func testMaxPool2d() throws { try check("max_pool2d") }
    func testAvgPool2d() throws { try check("avg_pool2d") }
    func testAdaptiveAvgPool2d() throws { try check("adaptive_avg_pool2d") }
    func testBatchNorm2d() throws { try check("batch_norm2d") }
    func testReLU() throws { try check("relu") }
    func testSigmoid() throws { try check("sigmoid") }
    func testLayerNorm() throws { try check("layer_norm") }
    func testChannelScale() throws { try check("channel_scale") }
    func testMul() throws { try check("mul") }
    func testSoftmax() throws { try check("softmax") }
    func testTanh() throws { try check("tanh") }
    func testDropout() throws { try check("dropout") }
    func testAdd() throws { try check("add") }
    func testFlatten() throws { try check("flatten") }
    func testReshape() throws { try check("reshape") }
    func testConcat() throws { try check("concat") }
    func testL2Distance() throws { try check("l2_distance") }
    func testLogSimilarity() throws { try check("log_similarity") }
    func testExpSimilarity() throws { try check("exp_similarity") }
    func testSpatialMin() throws { try check("spatial_min") }
    func testSpatialMax() throws { try check("spatial_max") }
}
