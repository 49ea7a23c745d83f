import XCTest
@testable import PRPKit
@testable import PRPKitGraph
@testable import PRPKitKernels

/// Exact (float64) 3×3 stride-1 convolution, and for a Winograd variant F(m×m, 3×3) the
/// magnitude S of its computation at every output: S = Σ_ci |Aᵀ|·(|U_ci| ⊙ |Bᵀ|·|d_ci|·|B|)·|A|
/// (+ |bias|), with U = G·g·Gᵀ and d the input tile. Rounding the transforms, U and the
/// GEMM's sums moves each output by at most γ_n·S (Higham §3.1: each stage is a sum whose
/// terms are the entries of the products above; n counts the roundings along any path:
/// ≤ α + 1 per 1-D transform pass, two passes in and two out, one for U, Cin for the
/// GEMM, one for the bias). Direct convolution's own bound is γ_{9·Cin}·Σ|w·x|; S is
/// larger because the transforms mix values of both signs — that is Winograd's extra error.
private func reference(_ x: Tensor, _ wt: Tensor, _ bias: Tensor?, padding: Pair2, tile: WinogradTile)
    -> (values: [Double], bound: [Double]) {
    let (n, c, h, w) = (x.shape[0], x.shape[1], x.shape[2], x.shape[3])
    let (ph, pw) = (padding.h, padding.w)
    let co = wt.shape[0], ho = h + 2 * ph - 2, wo = w + 2 * pw - 2
    let m = tile.m, a = tile.alpha, a2 = a * a, g = tile.g
    let bt = tile.bt.map { $0.map(abs) }, at = tile.at.map { $0.map(abs) }
    // Zero-padded input in float64, covering every tile: (n, c, hp, wp).
    let hp = (ho + m - 1) / m * m + 2, wp = (wo + m - 1) / m * m + 2
    var xs = [Double](repeating: 0, count: n * c * hp * wp)
    let xv = x.values
    for b in 0..<n { for ci in 0..<c { for iy in 0..<h { for ix in 0..<w {
        xs[((b * c + ci) * hp + iy + ph) * wp + ix + pw] = Double(xv[((b * c + ci) * h + iy) * w + ix])
    } } } }
    let wv = wt.values.map(Double.init), bv = bias?.values.map(Double.init)
    var out = [Double](repeating: 0, count: n * co * ho * wo), bound = out
    // |U| per (o, ci), U = G·g·Gᵀ (flat arrays and raw pointers: debug builds).
    var u = [Double](repeating: 0, count: co * c * a2), gt = [Double](repeating: 0, count: a * 3)
    var pAbs = [Double](repeating: 0, count: a2), dAbs = [Double](repeating: 0, count: c * a2)
    let gf = g.flatMap { $0 }
    u.withUnsafeMutableBufferPointer { up in wv.withUnsafeBufferPointer { wq in gf.withUnsafeBufferPointer { gp in
        gt.withUnsafeMutableBufferPointer { tp in
            for oc in 0..<(co * c) {
                let k = oc * 9
                for i in 0..<a { for kx in 0..<3 {
                    tp[i * 3 + kx] = gp[i * 3] * wq[k + kx] + gp[i * 3 + 1] * wq[k + 3 + kx] + gp[i * 3 + 2] * wq[k + 6 + kx]
                } }
                for i in 0..<a { for j in 0..<a {
                    up[oc * a2 + i * a + j] = abs(tp[i * 3] * gp[j * 3] + tp[i * 3 + 1] * gp[j * 3 + 1] + tp[i * 3 + 2] * gp[j * 3 + 2])
                } }
            }
        }
    } } }
    var patch = [Double](repeating: 0, count: a2)
    for b in 0..<n {
        for ty in stride(from: 0, to: ho, by: m) {
            for tx in stride(from: 0, to: wo, by: m) {
                for ci in 0..<c {
                    let base = ((b * c + ci) * hp + ty) * wp + tx
                    for r in 0..<a { for q in 0..<a { patch[r * a + q] = abs(xs[base + r * wp + q]) } }
                    for i in 0..<a { for j in 0..<a {
                        var s = 0.0
                        for r in 0..<a where bt[i][r] != 0 { for q in 0..<a where bt[j][q] != 0 { s += bt[i][r] * patch[r * a + q] * bt[j][q] } }
                        dAbs[ci * a2 + i * a + j] = s
                    } }
                }
                for o in 0..<co {
                    u.withUnsafeBufferPointer { up in dAbs.withUnsafeBufferPointer { dp in pAbs.withUnsafeMutableBufferPointer { pp in
                        for e in 0..<a2 { pp[e] = 0 }
                        for ci in 0..<c {
                            let ub = (o * c + ci) * a2, db = ci * a2
                            for e in 0..<a2 { pp[e] += up[ub + e] * dp[db + e] }
                        }
                    } } }
                    for r in 0..<m where ty + r < ho {
                        for s in 0..<m where tx + s < wo {
                            var v = abs(bv?[o] ?? 0)
                            for i in 0..<a { for j in 0..<a { v += at[r][i] * pAbs[i * a + j] * at[s][j] } }
                            bound[((b * co + o) * ho + ty + r) * wo + tx + s] = v
                        }
                    }
                }
            }
        }
    }
    // Exact output: direct correlation on the padded input (raw pointers: debug builds).
    xs.withUnsafeBufferPointer { xp in wv.withUnsafeBufferPointer { wq in out.withUnsafeMutableBufferPointer { op in
        for b in 0..<n { for o in 0..<co { for oy in 0..<ho { for ox in 0..<wo {
            var y = bv?[o] ?? 0
            for ci in 0..<c {
                let base = ((b * c + ci) * hp + oy) * wp + ox, wb = (o * c + ci) * 9
                for ky in 0..<3 {
                    let row = base + ky * wp, wr = wb + ky * 3
                    y += wq[wr] * xp[row] + wq[wr + 1] * xp[row + 1] + wq[wr + 2] * xp[row + 2]
                }
            }
            op[((b * co + o) * ho + oy) * wo + ox] = y
        } } } }
    } } }
    return (out, bound)
}

final class WinogradTests: XCTestCase {
    override func tearDown() {
        GEMMKernelSet.forcedLevel = nil
        WinogradBlocking.bytes = 4 << 20
        super.tearDown()
    }

    /// Random input, weight and bias of one case, with its float64 reference for F(m×m).
    struct Case {
        let m: Int, x: Tensor, wt: Tensor, b: Tensor?, attrs: Conv2dAttributes
        let ref: (values: [Double], bound: [Double])
        var name: String { "F(\(m)) n\(x.shape[0]) c\(x.shape[1])→\(wt.shape[0]) \(x.shape[2])×\(x.shape[3]) p\(attrs.padding.h),\(attrs.padding.w)" }
    }

    func makeCase(m: Int, n: Int = 1, c: Int, co: Int, h: Int, w: Int, padding: Int = 1, paddingW: Int? = nil,
                  bias: Bool = true) -> Case {
        var rng = TestRandom(seed: 7 &+ UInt64(c * 7919 + co * 131 + h * 17 + w))
        let x = rng.tensor([n, c, h, w]), wt = rng.tensor([co, c, 3, 3])
        let b = bias ? rng.tensor([co]) : nil
        let pad = Pair2(padding, paddingW ?? padding)
        return Case(m: m, x: x, wt: wt, b: b, attrs: Conv2dAttributes(padding: pad),
                    ref: reference(x, wt, b, padding: pad, tile: WinogradTile(m: m)))
    }

    /// Runs the case with the current kernels and threads in both GEMM orientations:
    /// entrywise within γ_n·S (see `reference`), and the same floats either way (a tile's
    /// arithmetic does not depend on the orientation). Returns max|diff| / max|exact|.
    @discardableResult
    func verify(_ t: Case, file: StaticString = #filePath, line: UInt = #line) -> Double {
        var first: [Float]? = nil, result = 0.0
        for rows in [false, true] {
            let packed = PackedConvWeights(weight: t.wt, groups: 1, layout: .winograd(m: t.m, tilesAsRows: rows))
            let got = Kernels.conv2d(t.x, weight: t.wt, bias: t.b, t.attrs, packedWeights: packed)
            let what = "\(t.name) rows \(rows) isa \(Kernels.gemmISALevel) threads \(Parallel.threadCount)"
            let p = t.attrs.padding
            XCTAssertEqual(got.shape, [t.x.shape[0], t.wt.shape[0], t.x.shape[2] + 2 * p.h - 2, t.x.shape[3] + 2 * p.w - 2],
                           what, file: file, line: line)
            let terms = t.x.shape[1] + 4 * (t.m + 2) + 6
            var maxDiff = 0.0, maxRef = 0.0
            let values = got.values
            for i in 0..<values.count {
                let d = abs(Double(values[i]) - t.ref.values[i]), tol = gammaTolerance(terms: terms, absSum: t.ref.bound[i])
                if !(d <= tol) {
                    XCTFail("\(what): entry \(i) = \(values[i]), exact \(t.ref.values[i]), bound \(tol)", file: file, line: line)
                    break
                }
                maxDiff = max(maxDiff, d); maxRef = max(maxRef, abs(t.ref.values[i]))
            }
            if let first {
                XCTAssertTrue(first == values, "\(what): orientations differ", file: file, line: line)
            } else {
                first = values
            }
            result = maxDiff / max(maxRef, 1e-300)
        }
        return result
    }

    @discardableResult
    func check(m: Int, n: Int = 1, c: Int, co: Int, h: Int, w: Int, padding: Int = 1, bias: Bool = true,
               file: StaticString = #filePath, line: UInt = #line) -> Double {
        verify(makeCase(m: m, n: n, c: c, co: co, h: h, w: w, padding: padding, bias: bias), file: file, line: line)
    }

    func testVariantsAgainstFloat64() {
        for m in [2, 4, 6] {
            // Map sizes around multiples of m (edge tiles clipped), paddings 0–2, 1×1 output.
            for (h, w) in [(3, 3), (4, 5), (7, 7), (8, 13), (14, 14), (17, 9)] {
                for padding in [0, 1, 2] where h + 2 * padding >= 3 && w + 2 * padding >= 3 {
                    check(m: m, c: 3, co: 5, h: h, w: w, padding: padding)
                }
            }
            check(m: m, n: 3, c: 17, co: 13, h: 9, w: 11, bias: false)      // batch: tiles of 3 images
            check(m: m, c: 300, co: 7, h: 6, w: 6)                           // two kc blocks of input channels
            check(m: m, c: 8, co: 70, h: 12, w: 12)                          // output channels off the sliver
            check(m: m, c: 1, co: 1, h: 1, w: 1)                             // one input pixel, all padding
            verify(makeCase(m: m, c: 4, co: 6, h: 9, w: 10, padding: 1, paddingW: 0))  // asymmetric padding
            verify(makeCase(m: m, c: 4, co: 6, h: 5, w: 6, padding: 3, paddingW: 2))   // wider than the kernel
        }
    }

    func testISALevelsThreadsAndBlocks() {
        let saved = Parallel.threadCount
        defer { Parallel.threadCount = saved }
        for m in [2, 4, 6] {
            let plain = makeCase(m: m, n: 2, c: 20, co: 24, h: 10, w: 10)
            let blocked = makeCase(m: m, n: 2, c: 12, co: 10, h: 29, w: 23)
            for level in 0...GEMMKernelSet.detectedLevel {
                GEMMKernelSet.forcedLevel = level
                for threads in [1, 2, 3] {
                    Parallel.threadCount = threads
                    verify(plain)
                    // Several column blocks (a small block budget): tiles of one image span blocks.
                    WinogradBlocking.bytes = 64 << 10
                    verify(blocked)
                    WinogradBlocking.bytes = 4 << 20
                }
            }
        }
    }

    /// Each column's arithmetic is independent of the others: a batch gives the floats of
    /// the images computed one by one (so results do not depend on how many signals share
    /// a backward pass).
    func testBatchIndependent() {
        var rng = TestRandom(seed: 11)
        let x = rng.tensor([3, 16, 13, 15]), wt = rng.tensor([24, 16, 3, 3]), b = rng.tensor([24])
        let attrs = Conv2dAttributes(padding: Pair2(1, 1))
        for m in [2, 4, 6] {
            for rows in [false, true] {
                let packed = PackedConvWeights(weight: wt, groups: 1, layout: .winograd(m: m, tilesAsRows: rows))
                let all = Kernels.conv2d(x, weight: wt, bias: b, attrs, packedWeights: packed).values
                let per = 24 * 13 * 15
                for i in 0..<3 {
                    let xi = try! Tensor(shape: [1, 16, 13, 15], values: Array(x.values[(i * 16 * 195)..<((i + 1) * 16 * 195)]))
                    let one = Kernels.conv2d(xi, weight: wt, bias: b, attrs, packedWeights: packed).values
                    XCTAssertEqual(one, Array(all[(i * per)..<((i + 1) * per)]), "F(\(m)) rows \(rows) image \(i)")
                }
            }
        }
    }

    /// Error of each variant against float64 on the 3×3 layer shapes of ResNet trunks
    /// (random weights and inputs in [−1, 1)), normalized by max|exact|. Direct convolution
    /// (float32, any order) is the baseline. Each variant stays within the γ bound entrywise
    /// (`check`); here its normalized error is also bounded: F(2×2) and F(4×4) — the
    /// variants the cost model uses — within 4e-6 and 1e-5, F(6×6) within 1e-4.
    func testNormalizedErrorPerVariant() {
        let limits = [2: 4e-6, 4: 1e-5, 6: 1e-4]
        for (c, size) in [(64, 14), (128, 7), (256, 4)] {
            for m in [2, 4, 6] {
                let t = makeCase(m: m, c: c, co: c, h: size, w: size, bias: false)
                let e = verify(t)
                let direct = Kernels.conv2d(t.x, weight: t.wt, bias: nil, t.attrs).values
                var dd = 0.0, mx = 0.0
                for i in 0..<direct.count { dd = max(dd, abs(Double(direct[i]) - t.ref.values[i])); mx = max(mx, abs(t.ref.values[i])) }
                print("c\(c)→\(c) \(size)×\(size): max|diff|/max|exact| winograd F(\(m)x\(m),3x3) \(e), direct \(dd / mx)")
                XCTAssertLessThanOrEqual(e, limits[m]!, "F(\(m)) c\(c) \(size)×\(size)")
            }
        }
    }

    /// The cost model uses Winograd where it needs far fewer operations (ResNet50's 3×3
    /// layers of 128 and 256 channels, VGG's wide layers) and the direct kernel for few
    /// input channels and tiny maps; the choice depends on the per-image shape only.
    func testCostModelChoices() {
        guard ConvCostModel.forced == nil else { return }  // PRPKIT_CONV_ALGORITHM set: the model is overridden
        let a = Conv2dAttributes(padding: Pair2(1, 1))
        func layout(_ c: Int, _ co: Int, _ s: Int, batch: Int = 1) -> ConvWeightLayout {
            Kernels.conv2dWeightLayout(input: [batch, c, s, s], weight: [co, c, 3, 3], a)
        }
        // By default no variant is admissible: every shape runs direct.
        for (c, s) in [(128, 56), (256, 14)] { XCTAssertEqual(layout(c, c, s), .direct) }
        ConvCostModel.admissible = [2]
        defer { ConvCostModel.admissible = [] }
        if GEMMKernelSet.current.level == 2 {
            // F(2×2) admitted: 64 channels at 56² still stay direct.
            for (c, s) in [(128, 56), (128, 28), (256, 14), (512, 28), (512, 14)] {
                guard case .winograd = layout(c, c, s) else { XCTFail("\(c)×\(s)² should use Winograd"); continue }
            }
            XCTAssertEqual(layout(3, 64, 224), .direct)       // VGG's first layer: K = 27
            XCTAssertEqual(layout(8, 8, 3), .direct)          // 1×1 … 3×3 maps
        }
        for (c, s) in [(64, 56), (512, 7), (3, 224)] {
            XCTAssertEqual(layout(c, c, s), layout(c, c, s, batch: 10), "batch-independent choice \(c)×\(s)²")
        }
        // Not applicable: stride 2, 1×1, groups, dilation.
        XCTAssertFalse(Kernels.winogradApplies(weight: [64, 64, 3, 3], Conv2dAttributes(stride: Pair2(2, 2))))
        XCTAssertFalse(Kernels.winogradApplies(weight: [64, 64, 1, 1], Conv2dAttributes()))
        XCTAssertFalse(Kernels.winogradApplies(weight: [64, 32, 3, 3], Conv2dAttributes(groups: 2)))
        XCTAssertFalse(Kernels.winogradApplies(weight: [64, 64, 3, 3], Conv2dAttributes(dilation: Pair2(2, 2))))
    }

    /// Convolutions with sign-definite weights (α1β0's W⁺ for z⁺, its flipped kernel in the
    /// backward) keep the direct kernel, so that their results keep the exact sign and
    /// relative accuracy of sums of one sign; the layer's own forward may use Winograd.
    /// With a positive seed, α1β0 relevance is then exactly non-negative.
    func testSignDefiniteConvolutionsStayDirect() throws {
        XCTAssertTrue(Kernels.isSignDefinite(try Tensor(shape: [3], values: [0, 1, 2])))
        XCTAssertTrue(Kernels.isSignDefinite(try Tensor(shape: [2], values: [-1, 0])))
        XCTAssertFalse(Kernels.isSignDefinite(try Tensor(shape: [2], values: [-1, 1])))
        let a = Conv2dAttributes(padding: Pair2(1, 1))
        ConvCostModel.admissible = [2]
        defer { ConvCostModel.admissible = [] }
        XCTAssertEqual(Kernels.conv2dWeightLayout(input: [1, 128, 56, 56], weight: [128, 128, 3, 3], a, signDefinite: true), .direct)
        guard ConvCostModel.forced == nil,
              case .winograd = Kernels.conv2dWeightLayout(input: [1, 128, 28, 28], weight: [128, 128, 3, 3], a) else {
            throw XCTSkip("the cost model keeps 128→128 28×28 on the direct kernel on this CPU")
        }
        var rng = TestRandom(seed: 51)
        let w1 = rng.tensor([128, 128, 3, 3]), w2 = rng.tensor([128, 128, 3, 3])
        let g = try Graph(inputs: [ValueInfo(name: "x", shape: [1, 128, 28, 28])],
                          nodes: [Node(name: "c1", op: .conv2d(a), inputs: ["x"], parameters: ["weight": "w1"]),
                                  Node(name: "r1", op: .relu, inputs: ["c1"]),
                                  Node(name: "c2", op: .conv2d(a), inputs: ["r1"], parameters: ["weight": "w2"])],
                          outputs: ["c2"], parameters: ["w1": w1, "w2": w2])
        let rule = Rule.prpAlpha1Beta0()
        let prop = try RelevancePropagator(graph: g, rules: RuleSet(byNode: ["c1": rule, "c2": rule, "r1": .passThrough()]))
        let x = Kernels.map(rng.tensor([1, 128, 28, 28])) { abs($0) }
        let forward = PassProfile(), backward = PassProfile()
        let state = try prop.prepare([x], profile: forward)
        let start = Kernels.map(state.outputs[0]) { abs($0) }
        let r = try prop.propagate(state, start: start, profile: backward)[0]
        XCTAssertTrue(r.buffer.allSatisfy { $0 >= 0 }, "α1β0 relevance of a positive seed is non-negative")
        let algorithms = { (p: PassProfile, phase: String) in
            Set(p.entries.filter { $0.phase == phase }.flatMap { $0.convolutions.map(\.algorithm) })
        }
        XCTAssertTrue(algorithms(forward, "forward").allSatisfy { $0.hasPrefix("winograd") }, "\(algorithms(forward, "forward"))")
        XCTAssertEqual(algorithms(forward, "rule forward"), ["direct"])
        XCTAssertEqual(algorithms(backward, "backward"), ["direct"])
    }
}
