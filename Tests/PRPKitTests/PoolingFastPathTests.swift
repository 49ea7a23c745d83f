import XCTest
@testable import PRPKit
@testable import PRPKitGraph
@testable import PRPKitKernels

/// The vectorised 3×3 stride-2 max pool (ResNet's stem) gives the scalar scan's floats and
/// argmax indices bit for bit: ties (including ±0), NaN and −∞ decided the same way.
final class PoolingFastPathTests: XCTestCase {
    func testStemPoolEqualsTheScalarScan() {
        var rng = TestRandom(seed: 41)
        for (h, w, pad, ceil) in [(112, 112, 1, false), (57, 70, 1, false), (40, 53, 0, true), (9, 40, 1, true)] {
            let x = rng.tensor([2, 3, h, w])
            // Few distinct levels (many ties), signed zeros, NaN and −∞.
            for i in 0..<x.count {
                let v = (x.data[i] * 3).rounded()
                x.data[i] = v == 0 ? (i % 2 == 0 ? 0 : -0.0) : v
                if i % 97 == 0 { x.data[i] = .nan }
                if i % 89 == 0 { x.data[i] = -.infinity }
            }
            let a = MaxPool2dAttributes(kernel: Pair2(3, 3), stride: Pair2(2, 2), padding: Pair2(pad, pad), ceilMode: ceil)
            var idx = [Int32](repeating: -1, count: 2 * 3 * 64 * 64)
            let got = idx.withUnsafeMutableBufferPointer { Kernels.maxPool2d(x, a, indices: $0.baseAddress) }
            let (ho, wo) = (got.shape[2], got.shape[3])
            for plane in 0..<6 {
                for oy in 0..<ho {
                    for ox in 0..<wo {
                        var want: Float = 0
                        var wantIndex: Int32 = 0
                        withUnsafeMutablePointer(to: &want) { wp in
                            withUnsafeMutablePointer(to: &wantIndex) { ip in
                                Kernels.maxPoolOne(UnsafePointer(x.data + plane * h * w), h, w, a, oy, ox, wp, ip)
                            }
                        }
                        let o = plane * ho * wo + oy * wo + ox
                        let g = got.data[o]
                        XCTAssertTrue(g.bitPattern == want.bitPattern, "\(h)×\(w) p\(pad) plane \(plane) (\(oy), \(ox)): \(g) vs \(want)")
                        XCTAssertEqual(idx[o], wantIndex, "index \(h)×\(w) plane \(plane) (\(oy), \(ox))")
                    }
                }
            }
        }
    }
}
