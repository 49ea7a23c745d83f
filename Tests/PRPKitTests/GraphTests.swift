import XCTest
@testable import PRPKit
@testable import PRPKitGraph
@testable import PRPKitKernels

final class GraphTests: XCTestCase {
    func testCycleIsRejected() throws {
        let nodes = [Node(name: "a", op: .relu, inputs: ["b"]), Node(name: "b", op: .relu, inputs: ["a"])]
        XCTAssertThrowsError(try Graph(inputs: [ValueInfo(name: "x", shape: [1, 2])], nodes: nodes,
                                       outputs: ["a"], parameters: [:])) { error in
            XCTAssertTrue("\(error)".contains("cycle"), "\(error)")
        }
    }
}
