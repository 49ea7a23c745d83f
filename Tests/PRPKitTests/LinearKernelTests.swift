import XCTest
@testable import PRPKit
@testable import PRPKitGraph
@testable import PRPKitKernels

final class LinearKernelTests: XCTestCase {
    override func tearDown() {
        GEMMKernelSet.forcedLevel = nil
        super.tearDown()
    }

    /// Naive y = x·Wᵀ + b (the former Kernels.linear), in float64, with Σ|x·w| (+|b|) per output.
    private func reference(_ x: Tensor, _ w: Tensor, _ b: Tensor?) -> ([Double], [Double]) {
        let (n, k, m) = (x.shape[0], x.shape[1], w.shape[0])
        let xv = x.values, wv = w.values, bv = b?.values
        var out = [Double](repeating: 0, count: n * m), absSum = out
        for i in 0..<n {
            for o in 0..<m {
                var s = Double(bv?[o] ?? 0), sa = abs(s)
                for p in 0..<k {
                    let prod = Double(xv[i * k + p]) * Double(wv[o * k + p])
                    s += prod; sa += abs(prod)
                }
                out[i * m + o] = s; absSum[i * m + o] = sa
            }
        }
        return (out, absSum)
    }

    func check(n: Int, k: Int, m: Int, bias: Bool, file: StaticString = #filePath, line: UInt = #line) {
        var rng = TestRandom(seed: UInt64(n * 7919 + k * 31 + m))
        let x = rng.tensor([n, k]), w = rng.tensor([m, k]), b = bias ? rng.tensor([m]) : nil
        let y = Kernels.linear(x, weight: w, bias: b)
        XCTAssertEqual(y.shape, [n, m], file: file, line: line)
        let (ref, absSum) = reference(x, w, b)
        assertClose(y.values, ref, absSum, terms: k + 1,
                    "linear n\(n) in\(k) out\(m) bias \(bias) isa \(Kernels.gemmISALevel)", file: file, line: line)
    }

    func testShapes() {
        // Batch ≤ 4 takes the dot-product path, larger batches the GEMM; K around 16/32 lanes.
        for n in [1, 2, 4, 5, 7, 13, 40] {
            for (k, m) in [(1, 1), (3, 10), (15, 7), (16, 64), (33, 65), (100, 3), (257, 130), (1000, 20)] {
                for bias in [false, true] { check(n: n, k: k, m: m, bias: bias) }
            }
        }
    }

    func testLargeAndThreads() {
        let saved = Parallel.threadCount
        defer { Parallel.threadCount = saved }
        for t in [1, 2] {
            Parallel.threadCount = t
            check(n: 1, k: 2048, m: 300, bias: true)
            check(n: 3, k: 512, m: 1000, bias: false)
            check(n: 64, k: 512, m: 200, bias: true)
        }
    }

    func testEveryISALevel() {
        for level in 0...GEMMKernelSet.detectedLevel {
            GEMMKernelSet.forcedLevel = level
            check(n: 1, k: 300, m: 50, bias: true)
            check(n: 9, k: 300, m: 70, bias: true)
        }
    }
}
