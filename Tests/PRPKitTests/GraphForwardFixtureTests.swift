import XCTest
@testable import PRPKit
@testable import PRPKitGraph
@testable import PRPKitKernels

/// Small networks exported from PyTorch by `prpkit._export.graph_from_torch`
/// (`Fixtures/models/`, batch 2, 3×32×32 inputs) run end to end through `Graph.forward`,
/// each output within 1e-4 · max|expected| of PyTorch's (float32 rounding accumulated
/// over several conv / BN / pooling layers).
final class GraphForwardFixtureTests: XCTestCase {
    static let tolerance = Tolerance.relative(1e-4, floor: 0)

    func check(_ name: String, outputs: Int, file: StaticString = #filePath, line: UInt = #line) throws {
        let fixture = try Fixtures.load("models", name)
        XCTAssertEqual(fixture.expected.count, outputs, "fixture \(fixture.id): number of expected outputs",
                       file: file, line: line)
        for l in checkFixture(fixture, tolerance: Self.tolerance, file: file, line: line) { print(l) }
    }

    /// Conv → BatchNorm → ReLU blocks, max pooling (one with ceil_mode), adaptive
    /// average pooling, flatten, Linear → ReLU → Dropout → Linear.
    func testVGGLike() throws { try check("vgg_like", outputs: 1) }

    /// Stem + torchvision BasicBlock and Bottleneck, each with a downsample branch.
    func testResNetLike() throws { try check("resnet_like", outputs: 1) }

    /// Full CaBRNet 1.2 ProtoPNet (ResNet18 trunk to layer1 + add-on, 20 prototypes of
    /// 32 dims, cdist in its matrix-product regime): logits and min distances.
    func testProtoPNetCaBRNet() throws { try check("protopnet_resnet18_layer1", outputs: 2) }

    /// CaBRNet ProtoPNetClassifier on a small nn.Sequential trunk (4×4 map, 9
    /// prototypes: cdist in its direct-sum regime): logits and min distances.
    func testProtoPNetSmallTrunk() throws { try check("protopnet_small_trunk", outputs: 2) }

    func testEveryModelFixtureHasATest() throws {
        XCTAssertEqual(try Fixtures.names(in: "models"),
                       ["protopnet_resnet18_layer1", "protopnet_small_trunk", "resnet_like", "vgg_like"])
    }
}
