import XCTest
@testable import PRPKit
@testable import PRPKitGraph
@testable import PRPKitKernels

final class ElementwiseTests: XCTestCase {
    /// torch.relu keeps NaN and maps −0, negatives to 0; in place and out of place agree.
    func testReluKeepsNaN() throws {
        let x = try Tensor(shape: [1, 5], values: [-1, 0, 2.5, .nan, -0.0])
        let y = Kernels.relu(x)
        XCTAssertEqual(Array(y.values[0..<3]), [0, 0, 2.5])
        XCTAssertTrue(y.values[3].isNaN)
        XCTAssertEqual(y.values[4], 0)
        let z = Kernels.relu(x, into: x)
        XCTAssertEqual(Array(z.values[0..<3]), [0, 0, 2.5])
        XCTAssertTrue(z.values[3].isNaN)
    }
}
