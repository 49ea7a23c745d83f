import XCTest
@testable import PRPKit
@testable import PRPKitGraph
@testable import PRPKitKernels

/// The edge-replicated padding ring behind LRP-ε's `padding_reference: "edge"` (its
/// relevance is checked against torch in python/tests/test_edge_padding_rule.py).
final class EdgePaddingTests: XCTestCase {
    func testRingHoldsTheNearestPixelOutsideAndZerosInside() throws {
        // one 2 × 3 plane, padding 1 row, 2 columns: numpy.pad(x, ((1, 1), (2, 2)), "edge") with the image zeroed
        let x = try Tensor(shape: [1, 1, 2, 3], values: [1, 2, 3, 4, 5, 6])
        let ring = Kernels.edgePaddingRing(x, padding: Pair2(1, 2))
        XCTAssertEqual(ring.shape, [1, 1, 4, 7])
        XCTAssertEqual(ring.values, [1, 1, 1, 2, 3, 3, 3,
                                     1, 1, 0, 0, 0, 3, 3,
                                     4, 4, 0, 0, 0, 6, 6,
                                     4, 4, 4, 5, 6, 6, 6])
    }

    func testPlanesAreIndependent() throws {
        let x = try Tensor(shape: [2, 1, 1, 1], values: [7, -2])
        XCTAssertEqual(Kernels.edgePaddingRing(x, padding: Pair2(1, 0)).values, [7, 0, 7, -2, 0, -2])
    }

    func testRuleJSONRoundTrip() throws {
        let edge = try Rule(json: try JSONParser.parse(#"{"rule": "epsilon", "epsilon": 1e-6, "padding_reference": "edge"}"#),
                            context: "test")
        XCTAssertEqual(edge, .epsilon(1e-6, edgePadding: true))
        XCTAssertEqual(try Rule(json: edge.json, context: "test"), edge)
        let zero = try Rule(json: try JSONParser.parse(#"{"rule": "epsilon", "padding_reference": "zero"}"#), context: "test")
        XCTAssertEqual(zero, .epsilon())
        XCTAssertThrowsError(try Rule(json: try JSONParser.parse(#"{"rule": "epsilon", "padding_reference": 1}"#), context: "test"))
    }
}
