import XCTest
@testable import PRPKit
@testable import PRPKitGraph
@testable import PRPKitKernels

/// Deterministic pseudo-random floats in [-1, 1) (xorshift64).
struct TestRandom {
    var state: UInt64
    init(seed: UInt64) { state = seed &* 0x9E3779B97F4A7C15 | 1 }
    mutating func next() -> Float {
        state ^= state << 13; state ^= state >> 7; state ^= state << 17
        return Float(state >> 40) / Float(1 << 23) - 1
    }
    mutating func array(_ count: Int) -> [Float] { (0..<count).map { _ in next() } }
    mutating func tensor(_ shape: [Int]) -> Tensor {
        try! Tensor(shape: shape, values: array(Tensor.elementCount(shape)))
    }
}

/// Tolerance for a float32 sum of `terms` products, compared with an exact (float64) reference.
///
/// Why: float32 results differ from the exact value, and between ISA variants, only by
/// rounding that depends on the accumulation order (blocked over kc, FMA or not). For a
/// sum of n terms computed in any order the classic bound is |fl(Σ) − Σ| ≤ γ_n · Σ|terms|,
/// γ_n = n·u / (1 − n·u), u = 2⁻²⁴ (Higham, Accuracy and Stability, §3.1); an FMA only
/// removes roundings. So each entry is checked against γ_{n+2} · (Σ_k |a_ik||b_kj| + |extra|)
/// (+2 for the bias and the accumulated C). This never fails spuriously, and a wrong or
/// missing term (of size ≈ Σ/n for random data) exceeds it by orders of magnitude for the
/// sizes here (n·u ≤ 1e-4 while 1/n ≥ 1e-3). On top, every comparison also checks the
/// usual max|diff| ≤ 1e-5·max|ref| summary, which holds for these sizes because typical
/// error grows like √n·u (≈ 2e-6 at n = 1200).
func gammaTolerance(terms: Int, absSum: Double) -> Double {
    let u = pow(2.0, -24.0), n = Double(terms + 2)
    return n * u / (1 - n * u) * absSum + 1e-30
}

/// Asserts `got` matches `ref` within the per-entry γ bound and the 1e-5·max|ref| summary.
func assertClose(_ got: [Float], _ ref: [Double], _ absSum: [Double], terms: Int,
                 _ what: @autoclosure () -> String, file: StaticString = #filePath, line: UInt = #line) {
    XCTAssertEqual(got.count, ref.count, "count " + what(), file: file, line: line)
    guard got.count == ref.count else { return }
    var maxDiff = 0.0, maxRef = 0.0, bad = -1
    for i in 0..<got.count {
        let d = abs(Double(got[i]) - ref[i])
        if !(d <= gammaTolerance(terms: terms, absSum: absSum[i])) && bad < 0 { bad = i }
        maxDiff = max(maxDiff, d.isNaN ? .infinity : d)
        maxRef = max(maxRef, abs(ref[i]))
    }
    if bad >= 0 {
        XCTFail("\(what()): entry \(bad) = \(got[bad]), expected \(ref[bad]) (bound \(gammaTolerance(terms: terms, absSum: absSum[bad])))",
                file: file, line: line)
    }
    XCTAssertLessThanOrEqual(maxDiff, 1e-5 * maxRef + 1e-30, "max|diff| " + what(), file: file, line: line)
}

final class GEMMTests: XCTestCase {
    override func tearDown() {
        GEMMKernelSet.forcedLevel = nil
        super.tearDown()
    }

    struct Layout {
        var transA = false, transB = false, transC = false
        var padC = 0            // extra columns (or rows, when transposed) in C's leading dimension
        var accumulate = false, rowBias = false, colBias = false
    }

    /// Runs Kernels.gemm on random data with the given layout and checks it entrywise.
    func check(_ m: Int, _ n: Int, _ k: Int, _ l: Layout = Layout(), seed: UInt64 = 1,
               file: StaticString = #filePath, line: UInt = #line) {
        var rng = TestRandom(seed: seed &+ UInt64(m * 1_000_003 + n * 1009 + k))
        let a = rng.array(m * k), b = rng.array(k * n)
        // Logical A(i, p), B(p, j), stored row-major or transposed.
        let (rsA, csA) = l.transA ? (1, m) : (k, 1)
        let (rsB, csB) = l.transB ? (1, k) : (n, 1)
        let ldc = (l.transC ? m : n) + l.padC
        let (rsC, csC) = l.transC ? (1, ldc) : (ldc, 1)
        let cCount = ldc * (l.transC ? n : m)
        let c0 = rng.array(cCount)
        let rb = rng.array(m), cb = rng.array(n)
        var c = c0
        a.withUnsafeBufferPointer { ap in b.withUnsafeBufferPointer { bp in
            rb.withUnsafeBufferPointer { rbp in cb.withUnsafeBufferPointer { cbp in
                c.withUnsafeMutableBufferPointer { cp in
                    Kernels.gemm(m: m, n: n, k: k, a: ap.baseAddress!, rowStrideA: rsA, colStrideA: csA,
                                 b: bp.baseAddress!, rowStrideB: rsB, colStrideB: csB,
                                 c: cp.baseAddress!, rowStrideC: rsC, colStrideC: csC,
                                 accumulate: l.accumulate,
                                 rowBias: l.rowBias ? rbp.baseAddress! : nil,
                                 colBias: l.colBias ? cbp.baseAddress! : nil)
                } } } } }
        var ref = c0.map(Double.init), absSum = c0.map { Double(abs($0)) }
        for i in 0..<m {
            for j in 0..<n {
                var s = 0.0, sa = 0.0
                for p in 0..<k {
                    let prod = Double(a[i * rsA + p * csA]) * Double(b[p * rsB + j * csB])
                    s += prod; sa += abs(prod)
                }
                let extra = (l.accumulate ? Double(c0[i * rsC + j * csC]) : 0)
                    + (l.rowBias ? Double(rb[i]) : 0) + (l.colBias ? Double(cb[j]) : 0)
                ref[i * rsC + j * csC] = s + extra
                absSum[i * rsC + j * csC] = sa + abs(extra)
            }
        }
        // Entries outside the m × n window (padding of C) must be untouched: ref = c0 there, bound 0.
        for i in 0..<cCount where ref[i] == Double(c0[i]) && absSum[i] == Double(abs(c0[i])) {
            absSum[i] = 0
        }
        assertClose(c, ref, absSum, terms: k, "gemm \(m)×\(n)×\(k) \(l) isa \(Kernels.gemmISALevel)",
                    file: file, line: line)
    }

    func testEdgeShapes() {
        for m in [1, 2, 5, 6, 7, 13] {
            for n in [1, 3, 8, 15, 17, 63, 64, 65, 129] {
                for k in [1, 2, 7, 33] { check(m, n, k) }
            }
        }
    }

    func testBlockBoundaries() {
        // Around kc = 256, mc = 144, nc = 512 and the register tile.
        for (m, n, k) in [(6, 64, 256), (6, 64, 257), (145, 65, 255), (143, 520, 300), (150, 513, 513),
                          (37, 1030, 20), (300, 70, 40), (1, 700, 300), (700, 1, 300), (289, 3, 600)] {
            check(m, n, k)
        }
    }

    func testStridesBiasAccumulate() {
        let layouts = [
            Layout(transA: true), Layout(transB: true), Layout(transA: true, transB: true),
            Layout(transC: true), Layout(padC: 3), Layout(transC: true, padC: 5),
            Layout(accumulate: true), Layout(rowBias: true), Layout(colBias: true),
            Layout(transA: true, transB: true, transC: true, padC: 2, accumulate: true, rowBias: true, colBias: true),
        ]
        for l in layouts {
            for (m, n, k) in [(1, 1, 1), (7, 65, 3), (13, 130, 257), (150, 67, 31)] { check(m, n, k, l) }
        }
    }

    func testZeroK() {
        check(5, 9, 0, Layout(accumulate: true, rowBias: true, colBias: true))
        check(5, 9, 0)
    }

    func testThreadCounts() {
        let saved = Parallel.threadCount
        defer { Parallel.threadCount = saved }
        for t in [1, 2, 3] {
            Parallel.threadCount = t
            // Large enough to be split: over N (wide), over M and N (narrow N).
            check(64, 600, 64)
            check(200, 70, 100)
            check(31, 40, 200, Layout(transC: true, rowBias: true))
        }
    }

    /// Every ISA variant (baseline, AVX2, AVX-512 as available) meets the same bound.
    func testEveryISALevelAgrees() {
        let best = Int(GEMMKernelSet.detectedLevel)
        for level in 0...best {
            GEMMKernelSet.forcedLevel = level
            XCTAssertEqual(Kernels.gemmISALevel, level)
            for (m, n, k) in [(1, 1, 1), (7, 9, 5), (13, 70, 257), (150, 67, 31), (64, 600, 64)] {
                check(m, n, k)
                check(m, n, k, Layout(transA: true, transB: true, accumulate: true, colBias: true))
            }
        }
    }

    /// The baseline variant and the best one agree with each other entrywise (not only with
    /// the reference): difference ≤ 2·γ_{k+2}·Σ|a||b| (each within γ of the exact value).
    func testBaseMatchesBest() {
        let (m, n, k) = (37, 150, 300)
        var rng = TestRandom(seed: 7)
        let a = rng.array(m * k), b = rng.array(k * n)
        func run(_ level: Int?) -> [Float] {
            GEMMKernelSet.forcedLevel = level
            var c = [Float](repeating: 0, count: m * n)
            Kernels.gemm(m: m, n: n, k: k, a: a, rowStrideA: k, colStrideA: 1, b: b, rowStrideB: n, colStrideB: 1,
                         c: &c, rowStrideC: n, colStrideC: 1)
            return c
        }
        let best = run(nil), base = run(0)
        GEMMKernelSet.forcedLevel = nil
        for i in 0..<m {
            for j in 0..<n {
                var sa = 0.0
                for p in 0..<k { sa += abs(Double(a[i * k + p]) * Double(b[p * n + j])) }
                XCTAssertLessThanOrEqual(abs(Double(best[i * n + j]) - Double(base[i * n + j])),
                                         2 * gammaTolerance(terms: k, absSum: sa))
            }
        }
    }
}
