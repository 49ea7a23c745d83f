import XCTest
@testable import PRPKit
@testable import PRPKitGraph
@testable import PRPKitKernels

/// The summary both command lines print: its number formats, the path it shows, and its
/// JSON against what the graph and the PRP composite hold (the Python tests and
/// scripts/test_swift_packages.sh compare it with `prpkit info` end to end).
final class ModelSummaryTests: XCTestCase {
    func testNumberFormats() {
        XCTAssertEqual(ModelSummary.grouped(0), "0")
        XCTAssertEqual(ModelSummary.grouped(999), "999")
        XCTAssertEqual(ModelSummary.grouped(1000), "1,000")
        XCTAssertEqual(ModelSummary.grouped(-1234567), "-1,234,567")
        XCTAssertEqual(ModelSummary.fixed(1.5937, digits: 2), "1.59")
        XCTAssertEqual(ModelSummary.fixed(0.005, digits: 2), "0.01")
        XCTAssertEqual(ModelSummary.fixed(12, digits: 2), "12.00")
        XCTAssertEqual(ModelSummary.fixed(0.0401, digits: 2), "0.04")
        XCTAssertEqual(ModelSummary.fixed(-2.5, digits: 1), "-2.5")
    }

    func testAbsolutePathIsLexical() {
        XCTAssertEqual(FileIO.absolute("/a/./b//c/../d.prpkit"), "/a/b/d.prpkit")
        XCTAssertEqual(FileIO.absolute("/../x"), "/x")
        XCTAssertTrue(FileIO.absolute("m.prpkit").hasPrefix("/"))
        XCTAssertTrue(FileIO.absolute("m.prpkit").hasSuffix("/m.prpkit"))
    }

    func testJSONMatchesTheGraphAndTheComposite() throws {
        let path = Fixtures.root + "/models/protopnet_resnet18_layer1.prpkit"
        let graph = try ModelFile.load(path: path)
        let summary = try ModelSummary(model: graph, path: path, metadata: .object([("mean", .array([.number(0.5), .number(0.5), .number(0.5)])),
                                                                                  ("std", .array([.number(0.25), .number(0.25), .number(0.25)])),
                                                                                  ("ignored", .bool(true))]))
        let json = summary.json
        XCTAssertEqual(json["parameter_count"], .number(Double(graph.parameters.values.reduce(0) { $0 + $1.count })))
        guard case .array(let nodes)? = json["nodes"] else { return XCTFail("no nodes") }
        XCTAssertEqual(nodes.count, graph.nodes.count)
        for (row, node) in zip(nodes, graph.nodes) {
            XCTAssertEqual(row["output_shape"], .array(graph.shapes[node.name]!.map { .number(Double($0)) }))
        }
        // z^B's bounds from the metadata's normalisation: (0 − 0.5)/0.25 and (1 − 0.5)/0.25.
        XCTAssertEqual(nodes[0]["prp_rule"], .string("zbeta"))
        XCTAssertEqual(nodes[0]["prp_rule_options"]?["lower_bound"], .number(-2))
        XCTAssertEqual(nodes[0]["prp_rule_options"]?["upper_bound"], .number(2))
        XCTAssertEqual(json["metadata"], .object([("mean", .array([.number(0.5), .number(0.5), .number(0.5)])),
                                                  ("std", .array([.number(0.25), .number(0.25), .number(0.25)]))]))
        XCTAssertTrue(summary.text.hasSuffix("\n"))
        XCTAssertThrowsError(try ModelSummary(model: graph, metadata: .array([])))
    }
}
