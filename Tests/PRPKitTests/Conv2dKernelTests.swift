import XCTest
@testable import PRPKit
@testable import PRPKitGraph
@testable import PRPKitKernels

/// Naive direct convolution (the former Kernels.conv2d), in float64, also returning
/// Σ|w·x| (+|bias|) per output for the γ tolerance (see `gammaTolerance` in GEMMTests.swift).
private func referenceConv2d(_ x: Tensor, weight: Tensor, bias: Tensor?, _ a: Conv2dAttributes)
    -> (shape: [Int], values: [Double], absSum: [Double], terms: Int) {
    let (n, c, h, w) = (x.shape[0], x.shape[1], x.shape[2], x.shape[3])
    let (co, cig, kh, kw) = (weight.shape[0], weight.shape[1], weight.shape[2], weight.shape[3])
    let ho = (h + 2 * a.padding.h - a.dilation.h * (kh - 1) - 1) / a.stride.h + 1
    let wo = (w + 2 * a.padding.w - a.dilation.w * (kw - 1) - 1) / a.stride.w + 1
    var out = [Double](repeating: 0, count: n * co * ho * wo), absSum = out
    let cog = co / a.groups
    let xv = x.values, wv = weight.values, bv = bias?.values
    for b in 0..<n {
        for o in 0..<co {
            let g = o / cog
            for oy in 0..<ho {
                for ox in 0..<wo {
                    var s = Double(bv?[o] ?? 0), sa = abs(s)
                    for ci in 0..<cig {
                        for ky in 0..<kh {
                            let iy = oy * a.stride.h - a.padding.h + ky * a.dilation.h
                            if iy < 0 || iy >= h { continue }
                            for kx in 0..<kw {
                                let ix = ox * a.stride.w - a.padding.w + kx * a.dilation.w
                                if ix < 0 || ix >= w { continue }
                                let p = Double(wv[((o * cig + ci) * kh + ky) * kw + kx])
                                    * Double(xv[((b * c + g * cig + ci) * h + iy) * w + ix])
                                s += p; sa += abs(p)
                            }
                        }
                    }
                    let idx = ((b * co + o) * ho + oy) * wo + ox
                    out[idx] = s; absSum[idx] = sa
                }
            }
        }
    }
    return ([n, co, ho, wo], out, absSum, cig * kh * kw)
}

final class Conv2dKernelTests: XCTestCase {
    override func tearDown() {
        GEMMKernelSet.forcedLevel = nil
        super.tearDown()
    }

    struct Case: CustomStringConvertible {
        var n = 1, c = 3, h = 7, w = 7, co = 4, kh = 3, kw = 3
        var stride = Pair2(1, 1), padding = Pair2(0, 0), dilation = Pair2(1, 1), groups = 1
        var bias = true
        var description: String {
            "n\(n) c\(c) \(h)×\(w) → \(co) k\(kh)×\(kw) s\(stride.h),\(stride.w) p\(padding.h),\(padding.w) d\(dilation.h),\(dilation.w) g\(groups) bias \(bias)"
        }
    }

    func check(_ t: Case, seed: UInt64 = 3, file: StaticString = #filePath, line: UInt = #line) {
        var rng = TestRandom(seed: seed &+ UInt64(t.c * 131 + t.co * 17 + t.h))
        let x = rng.tensor([t.n, t.c, t.h, t.w])
        let wt = rng.tensor([t.co, t.c / t.groups, t.kh, t.kw])
        let b = t.bias ? rng.tensor([t.co]) : nil
        let attrs = Conv2dAttributes(stride: t.stride, padding: t.padding, dilation: t.dilation, groups: t.groups)
        let got = Kernels.conv2d(x, weight: wt, bias: b, attrs)
        let ref = referenceConv2d(x, weight: wt, bias: b, attrs)
        XCTAssertEqual(got.shape, ref.shape, "\(t)", file: file, line: line)
        assertClose(got.values, ref.values, ref.absSum, terms: ref.terms + 1,
                    "conv \(t) isa \(Kernels.gemmISALevel)", file: file, line: line)
        // Pre-packed (cached) direct-GEMM weights give the same floats as per-call packing.
        // The layout the kernel wants is used; the other one is ignored (packed per call).
        // (Winograd packings compute differently: WinogradTests.)
        let transposed = Kernels.conv2dTransposed(p: got.shape[2] * got.shape[3], cog: t.co / t.groups,
                                                  kernels: GEMMKernelSet.current)
        for layout in transposed ? [ConvWeightLayout.transposed, .direct] : [.direct, .transposed] {
            let packed = PackedConvWeights(weight: wt, groups: t.groups, layout: layout)
            XCTAssertTrue(packed.matches(wt, groups: t.groups, layout: layout), "\(t)", file: file, line: line)
            let cached = Kernels.conv2d(x, weight: wt, bias: b, attrs, packedWeights: packed)
            XCTAssertEqual(cached.values, got.values, "cached packing \(t) \(layout)", file: file, line: line)
        }
    }

    func testGrid() {
        for stride in [Pair2(1, 1), Pair2(2, 2), Pair2(1, 3)] {
            for padding in [Pair2(0, 0), Pair2(1, 1), Pair2(2, 0)] {
                for dilation in [Pair2(1, 1), Pair2(2, 1)] {
                    for (groups, c, co) in [(1, 3, 5), (2, 4, 6), (3, 6, 3)] {
                        for bias in [false, true] {
                            check(Case(n: 2, c: c, h: 9, w: 8, co: co, kh: 3, kw: 2, stride: stride,
                                       padding: padding, dilation: dilation, groups: groups, bias: bias))
                        }
                    }
                }
            }
        }
    }

    func testKernelShapes() {
        for (kh, kw) in [(1, 1), (1, 3), (5, 5), (7, 7), (2, 4)] {
            check(Case(n: 1, c: 5, h: 13, w: 11, co: 7, kh: kh, kw: kw, padding: Pair2(kh / 2, kw / 2)))
            check(Case(n: 3, c: 2, h: 10, w: 17, co: 9, kh: kh, kw: kw, stride: Pair2(2, 2)))
        }
    }

    func testPointwise() {
        // 1×1 stride 1 no padding: pure GEMM path; with stride or padding: im2col path.
        check(Case(n: 2, c: 70, h: 9, w: 9, co: 13, kh: 1, kw: 1))
        check(Case(n: 1, c: 300, h: 15, w: 15, co: 150, kh: 1, kw: 1, bias: false))
        check(Case(n: 2, c: 8, h: 9, w: 9, co: 13, kh: 1, kw: 1, stride: Pair2(2, 2)))
        check(Case(n: 1, c: 8, h: 5, w: 6, co: 4, kh: 1, kw: 1, padding: Pair2(1, 2)))
        check(Case(n: 2, c: 12, h: 6, w: 6, co: 8, kh: 1, kw: 1, groups: 4))
    }

    func testDepthwise() {
        for stride in [Pair2(1, 1), Pair2(2, 2), Pair2(3, 1)] {
            for padding in [Pair2(0, 0), Pair2(1, 1), Pair2(3, 2)] {
                check(Case(n: 2, c: 6, h: 11, w: 10, co: 6, kh: 3, kw: 3, stride: stride, padding: padding, groups: 6))
                // Channel multiplier 2, dilation.
                check(Case(n: 1, c: 3, h: 12, w: 9, co: 6, kh: 3, kw: 2, stride: stride, padding: padding,
                           dilation: Pair2(2, 2), groups: 3, bias: false))
            }
        }
        // One input channel, groups = 1 (GEMM with K = kh·kw).
        check(Case(n: 2, c: 1, h: 10, w: 10, co: 8, kh: 5, kw: 5, padding: Pair2(2, 2)))
    }

    func testOddAndTinySizes() {
        check(Case(n: 1, c: 1, h: 1, w: 1, co: 1, kh: 1, kw: 1))
        check(Case(n: 1, c: 2, h: 3, w: 3, co: 1, kh: 3, kw: 3))                   // 1×1 output
        check(Case(n: 1, c: 2, h: 1, w: 1, co: 3, kh: 3, kw: 3, padding: Pair2(1, 1)))
        check(Case(n: 2, c: 3, h: 2, w: 9, co: 4, kh: 5, kw: 1, padding: Pair2(2, 0)))
        check(Case(n: 1, c: 1, h: 4, w: 4, co: 2, kh: 4, kw: 4, padding: Pair2(4, 4)))  // mostly padding
        check(Case(n: 3, c: 5, h: 67, w: 3, co: 7, kh: 3, kw: 3, stride: Pair2(1, 1), padding: Pair2(1, 1)))
    }

    func testLargerLayers() {
        // Several kc blocks (K = 64·9 = 576), partial strips, M edge (cog not a multiple of 6).
        check(Case(n: 2, c: 64, h: 14, w: 14, co: 70, kh: 3, kw: 3, padding: Pair2(1, 1)))
        check(Case(n: 1, c: 32, h: 29, w: 31, co: 20, kh: 3, kw: 3, stride: Pair2(2, 2), padding: Pair2(1, 1)))
        // ResNet-like late layer: few output positions, many channels (M-split path).
        check(Case(n: 1, c: 96, h: 7, w: 7, co: 60, kh: 3, kw: 3, padding: Pair2(1, 1)))
        // Stem-like: 7×7 stride 2 pad 3.
        check(Case(n: 1, c: 3, h: 40, w: 38, co: 16, kh: 7, kw: 7, stride: Pair2(2, 2), padding: Pair2(3, 3)))
    }

    func testThreadCountsAndISALevels() {
        let saved = Parallel.threadCount
        defer { Parallel.threadCount = saved }
        let cases = [
            Case(n: 3, c: 16, h: 12, w: 10, co: 14, kh: 3, kw: 3, padding: Pair2(1, 1), groups: 2),
            Case(n: 1, c: 40, h: 5, w: 5, co: 40, kh: 3, kw: 3, padding: Pair2(1, 1)),
        ]
        for level in 0...GEMMKernelSet.detectedLevel {
            GEMMKernelSet.forcedLevel = level
            for t in [1, 2, 3] {
                Parallel.threadCount = t
                for c in cases { check(c) }
            }
        }
    }

    /// Small maps (7×7, 14×14, 28×28; few columns, many output channels), batch > 1, groups.
    func testSmallMaps() {
        let saved = Parallel.threadCount
        defer { Parallel.threadCount = saved }
        for t in [2, 1, 3] {
            Parallel.threadCount = t
            check(Case(n: 1, c: 64, h: 7, w: 7, co: 100, kh: 3, kw: 3, padding: Pair2(1, 1)))
            check(Case(n: 2, c: 300, h: 7, w: 7, co: 50, kh: 1, kw: 1))
            check(Case(n: 3, c: 20, h: 14, w: 14, co: 38, kh: 3, kw: 3, padding: Pair2(1, 1), groups: 2))
            check(Case(n: 1, c: 16, h: 28, w: 28, co: 26, kh: 3, kw: 3, stride: Pair2(2, 2), padding: Pair2(1, 1)))
            check(Case(n: 2, c: 40, h: 4, w: 5, co: 13, kh: 1, kw: 1, bias: false))
            check(Case(n: 1, c: 8, h: 3, w: 3, co: 200, kh: 3, kw: 3, padding: Pair2(1, 1), groups: 4))
            // Output channels as the vector dimension (Ho·Wo ≤ nr): bias, batch, groups,
            // several kc blocks, channel counts off the strip width, stride, 1×1 maps.
            check(Case(n: 2, c: 40, h: 7, w: 7, co: 200, kh: 3, kw: 3, padding: Pair2(1, 1)))
            check(Case(n: 3, c: 24, h: 5, w: 5, co: 260, kh: 3, kw: 3, padding: Pair2(1, 1), groups: 2))
            check(Case(n: 2, c: 300, h: 6, w: 6, co: 140, kh: 1, kw: 1, bias: false))
            check(Case(n: 1, c: 32, h: 14, w: 14, co: 130, kh: 3, kw: 3, stride: Pair2(2, 2), padding: Pair2(1, 1)))
            check(Case(n: 2, c: 70, h: 1, w: 1, co: 64, kh: 3, kw: 3, padding: Pair2(1, 1)))
            check(Case(n: 1, c: 20, h: 8, w: 7, co: 129, kh: 2, kw: 3, dilation: Pair2(2, 1)))
        }
        // The transposed path is taken for these shapes on every ISA whose tile is wide enough.
        Parallel.threadCount = 2
        let ks = GEMMKernelSet.current
        if ks.nr >= 49 {
            XCTAssertTrue(Kernels.conv2dTransposed(p: 49, cog: 512, kernels: ks))
            XCTAssertEqual(Kernels.conv2dWeightLayout(input: [1, 512, 7, 7], weight: [512, 512, 1, 1], Conv2dAttributes()),
                           .transposed)
        }
        XCTAssertFalse(Kernels.conv2dTransposed(p: 56 * 56, cog: 64, kernels: ks))
    }

    /// A graph packs each convolution's weights once (per ISA level) and reuses the packing
    /// across passes and batch sizes; results match the uncached kernel.
    func testGraphCachesPackedWeights() throws {
        var rng = TestRandom(seed: 5)
        let w1 = rng.tensor([12, 5, 3, 3]), b1 = rng.tensor([12])
        let w2 = rng.tensor([8, 6, 1, 1])  // groups 2
        let w3 = rng.tensor([12, 1, 3, 3])  // depthwise: direct kernel, never packed
        let w4 = rng.tensor([130, 8, 3, 3]), b4 = rng.tensor([130])  // 7×7 map: transposed layout on AVX-512
        let a1 = Conv2dAttributes(padding: Pair2(1, 1)), a2 = Conv2dAttributes(groups: 2)
        let a3 = Conv2dAttributes(padding: Pair2(1, 1), groups: 12)
        let g = try Graph(inputs: [ValueInfo(name: "x", shape: [1, 5, 7, 7])],
                          nodes: [Node(name: "c1", op: .conv2d(a1), inputs: ["x"], parameters: ["weight": "w1", "bias": "b1"]),
                                  Node(name: "c3", op: .conv2d(a3), inputs: ["c1"], parameters: ["weight": "w3"]),
                                  Node(name: "c2", op: .conv2d(a2), inputs: ["c3"], parameters: ["weight": "w2"]),
                                  Node(name: "c4", op: .conv2d(a1), inputs: ["c2"], parameters: ["weight": "w4", "bias": "b4"])],
                          outputs: ["c4"], parameters: ["w1": w1, "b1": b1, "w2": w2, "w3": w3, "w4": w4, "b4": b4])
        // Each layer with a fresh packing in the layout the cost model picks (the graph's
        // cached one must give the same floats).
        func conv(_ x: Tensor, _ w: Tensor, _ b: Tensor?, _ a: Conv2dAttributes) -> Tensor {
            let layout = Kernels.conv2dWeightLayout(input: x.shape, weight: w.shape, a)
            let packed = w.shape[1] == 1 && a.groups > 1 ? nil : PackedConvWeights(weight: w, groups: a.groups, layout: layout)
            return Kernels.conv2d(x, weight: w, bias: b, a, packedWeights: packed)
        }
        func expected(_ x: Tensor) -> [Float] {
            conv(conv(conv(conv(x, w1, b1, a1), w3, nil, a3), w2, nil, a2), w4, b4, a1).values
        }
        for level in [nil] + Array(0...GEMMKernelSet.detectedLevel) {
            GEMMKernelSet.forcedLevel = level
            for n in [1, 3, 1] {
                let x = rng.tensor([n, 5, 7, 7])
                let y = try g.forward([x]).outputs[0]
                XCTAssertEqual(y.values, expected(x), "level \(String(describing: level)) batch \(n)")
            }
            if level == nil { XCTAssertEqual(g.packedConvWeights.count, 3) }
        }
        XCTAssertLessThanOrEqual(g.packedConvWeights.count, 4)
        GEMMKernelSet.forcedLevel = nil
        // Overridden weights (relevance rules) bypass the cache.
        let w1b = rng.tensor([12, 5, 3, 3]), x = rng.tensor([2, 5, 7, 7])
        let before = g.packedConvWeights.count
        let z = g.evaluate(g.nodes[0], [x], overrides: ["weight": w1b])
        XCTAssertEqual(z.values, Kernels.conv2d(x, weight: w1b, bias: b1, a1).values)
        XCTAssertEqual(g.packedConvWeights.count, before)
    }

    /// Baseline ISA and best ISA agree entrywise within 2γ (each is within γ of the exact value).
    func testBaseMatchesBest() {
        var rng = TestRandom(seed: 11)
        let x = rng.tensor([2, 24, 11, 13]), wt = rng.tensor([18, 24, 3, 3]), b = rng.tensor([18])
        let attrs = Conv2dAttributes(stride: Pair2(1, 2), padding: Pair2(1, 1))
        let best = Kernels.conv2d(x, weight: wt, bias: b, attrs).values
        GEMMKernelSet.forcedLevel = 0
        let base = Kernels.conv2d(x, weight: wt, bias: b, attrs).values
        GEMMKernelSet.forcedLevel = nil
        let ref = referenceConv2d(x, weight: wt, bias: b, attrs)
        for i in 0..<best.count {
            XCTAssertLessThanOrEqual(abs(Double(best[i]) - Double(base[i])),
                                     2 * gammaTolerance(terms: ref.terms + 1, absSum: ref.absSum[i]), "entry \(i)")
        }
    }
}
