import XCTest
@testable import PRPKit
@testable import PRPKitGraph
@testable import PRPKitKernels

/// `Kernels.l2Distance` computes the dot products of 16 prototypes at a time; each must be
/// the float32 sum in channel order of the plain scalar loop, so the results equal that
/// loop's bit for bit (the torch-parity fixtures in KernelFixtureTests rely on the order).
final class SimilarityKernelTests: XCTestCase {
    func testVectorisedDotsEqualTheScalarOrder() {
        var rng = TestRandom(seed: 31)
        let x = rng.tensor([2, 37, 6, 5]), protos = rng.tensor([41, 37])
        let (d, hw, p) = (37, 30, 41)
        for mode in [DistanceMode.cdist, .protopnet, .prototree] {
            let got = Kernels.l2Distance(x, prototypes: protos, mode: mode).values
            for b in 0..<2 {
                for loc in 0..<hw {
                    var fnorm: Float = 0
                    for c in 0..<d { let f = x.data[(b * d + c) * hw + loc]; fnorm += f * f }
                    for j in 0..<p {
                        var pn: Float = 0, dot: Float = 0
                        for c in 0..<d { pn += protos.data[j * d + c] * protos.data[j * d + c] }
                        for c in 0..<d { dot += x.data[(b * d + c) * hw + loc] * protos.data[j * d + c] }
                        let want: Float
                        switch mode {
                        case .cdist: let r = max(0, -2 * dot + fnorm + pn).squareRoot(); want = r * r
                        case .protopnet: want = fnorm + (-2 * dot + pn)
                        case .prototree: want = fnorm + pn - 2 * dot
                        }
                        XCTAssertEqual(got[(b * p + j) * hw + loc], want, "\(mode) b\(b) loc\(loc) p\(j)")
                    }
                }
            }
        }
    }
}
