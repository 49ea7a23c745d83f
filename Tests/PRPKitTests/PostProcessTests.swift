import Foundation
import XCTest
@testable import PRPKit
@testable import PRPKitGraph
@testable import PRPKitKernels

/// CaBRNet's post-processing against scipy / OpenCV / CaBRNet outputs stored in
/// Fixtures/postprocess (regenerate with `python3 tools/make_postprocess_fixtures.py`).
///
/// Tolerances (all relative to max(|expected|), see `Tolerance`):
/// - Gaussian vs scipy: 2.5e-7 (≈ 2 ulp at the largest value). The kernel repeats
///   scipy's arithmetic (Double weights, same summation order, Float intermediate);
///   the only source of difference is `exp` (glibc here, NumPy's SIMD exp there),
///   which can move a Double weight by 1 ulp and so, rarely, flip the last Float bit.
/// - Resize vs cv2 defaults: 4e-6. opencv-python routes float INTER_CUBIC through
///   Intel IPP (BORDER_REPLICATE, a = −0.75 as OpenCV), whose accumulation differs from
///   OpenCV's own code by ≈1e-6 relative (measured up to 1.2e-6 on these cases).
/// - Resize vs cv2 with IPP off (OpenCV's resizeGeneric_, which the kernel follows):
///   4e-7 (a few ulp: OpenCV's dispatched SIMD vertical pass may contract to FMA).
/// - CaBRNet post_process end to end: 4e-6 (the resize's), times the gain of the
///   min-max normalisation, max|y|/(max y − min y) for the map y before it (e.g. ≈6
///   for σ 5 on a 7×7 map, nearly flat); everything else is ≤ 2 ulp.
final class PostProcessTests: XCTestCase {
    static let dir = Fixtures.root + "/postprocess"

    func cases(_ kind: String) throws -> [(String, [String: Tensor], [String: String])] {
        let files = try FileManager.default.contentsOfDirectory(atPath: Self.dir)
            .filter { $0.hasPrefix(kind + "_") && $0.hasSuffix(".safetensors") }.sorted()
        XCTAssertFalse(files.isEmpty, "no \(kind) fixtures in \(Self.dir)")
        return try files.map { f in
            let r = try SafeTensors.read(path: Self.dir + "/" + f)
            return (String(f.dropLast(".safetensors".count)), r.tensors, r.metadata)
        }
    }

    /// Compares, records a summary line, fails beyond `tolerance`; returns max|diff|/max|expected|.
    @discardableResult
    func check(_ id: String, _ got: Tensor, _ want: Tensor, _ tolerance: Tolerance,
               file: StaticString = #filePath, line: UInt = #line) -> Float {
        guard got.shape == want.shape else {
            XCTFail("\(id): shape \(got.shape), expected \(want.shape)", file: file, line: line)
            return .infinity
        }
        let c = Comparison(got, want)
        let bound = tolerance.bound(c.maxAbsExpected)
        let ok = c.maxDiff <= bound
        let rel = c.maxAbsExpected > 0 ? c.maxDiff / c.maxAbsExpected : c.maxDiff
        print("\(ok ? "ok  " : "FAIL") \(id): rel \(rel), \(c.describe(want.shape)), tolerance \(tolerance.text)")
        if !ok { XCTFail("\(id): \(c.describe(want.shape)) exceeds \(tolerance.text) = \(bound)", file: file, line: line) }
        return rel
    }

    func testGaussianMatchesScipy() throws {
        var worst: Float = 0, exact = 0, total = 0
        for (id, t, meta) in try cases("gaussian") {
            let sigma = Float(meta["sigma"]!)!
            let got = Kernels.gaussianFilter2d(t["input"]!, sigma: sigma)
            worst = max(worst, check(id, got, t["expected"]!, .relative(2.5e-7, floor: 1e-30)))
            exact += zip(got.values, t["expected"]!.values).filter { $0 == $1 }.count
            total += got.count
        }
        print("gaussian vs scipy: worst rel \(worst), bit-identical \(exact)/\(total)")
    }

    func testResizeMatchesOpenCV() throws {
        var worstIPP: Float = 0, worstGeneric: Float = 0
        for (id, t, meta) in try cases("resize") {
            let (h, w) = (Int(meta["out_h"]!)!, Int(meta["out_w"]!)!)
            let got = Kernels.resizeCubic(t["input"]!, height: h, width: w)
            worstIPP = max(worstIPP, check(id + " (cv2 default, IPP)", got, t["expected"]!, .relative(4e-6, floor: 1e-30)))
            worstGeneric = max(worstGeneric, check(id + " (cv2 generic)", got, t["expected_generic"]!, .relative(4e-7, floor: 1e-30)))
        }
        print("resize vs cv2: worst rel \(worstIPP) (IPP, default), \(worstGeneric) (IPP off)")
    }

    func testPostProcessMatchesCaBRNet() throws {
        var worst: Float = 0
        for (id, t, meta) in try cases("postprocess") {
            let pol = meta["polarity"]!
            let (h, w) = (Int(meta["out_h"]!)!, Int(meta["out_w"]!)!)
            let options = PostProcessOptions(
                polarity: pol == "none" ? nil : Polarity(rawValue: pol)!,
                gaussianSigma: Float(meta["sigma"]!)!,
                outputSize: h > 0 ? Pair2(h, w) : nil,
                normalize: meta["normalize"] == "1",
                gradsTimesInput: meta["grads_x_input"] == "1")
            let got = try PostProcess.postProcess(t["relevance"]!, image: t["image"], options: options)
            // Min-max normalisation scales the resize's ≈1e-6·max|y| difference by
            // 1/(max y − min y), y the map before it: the bound follows that gain.
            var gain: Float = 1
            if options.normalize {
                var raw = options
                raw.normalize = false
                let y = try PostProcess.postProcess(t["relevance"]!, image: t["image"], options: raw).values
                let (lo, hi) = (y.min()!, y.max()!)
                if hi > lo { gain = max(abs(lo), abs(hi)) / (hi - lo) }
            }
            worst = max(worst, check(id + " (gain \(gain))", got, t["expected"]!, .relative(4e-6 * gain, floor: 1e-30)))
        }
        print("post_process vs CaBRNet: worst rel \(worst)")
    }

    func testConstantNormalizesToZeros() throws {
        let x = try Tensor(shape: [2, 3, 4], values: [Float](repeating: 0.25, count: 24))
        let y = try PostProcess.postProcess(x, options: PostProcessOptions(gaussianSigma: 5, outputSize: Pair2(9, 7), normalize: true))
        XCTAssertEqual(y.shape, [9, 7])
        XCTAssertTrue(y.values.allSatisfy { $0 == 0 })
    }

    func testReflectIndexAndKernel() {
        // d c b a | a b c d | d c b a, periodic beyond.
        XCTAssertEqual((-5..<9).map { Kernels.reflectIndex($0, 4) }, [3, 3, 2, 1, 0, 0, 1, 2, 3, 3, 2, 1, 0, 0])
        XCTAssertEqual((-3..<3).map { Kernels.reflectIndex($0, 1) }, [0, 0, 0, 0, 0, 0])
        let k = Kernels.gaussianKernel1d(sigma: 5)
        XCTAssertEqual(k.count, 41)
        XCTAssertEqual(k.reduce(0, +), 1, accuracy: 1e-15)
    }

    func testBadArguments() throws {
        let rel = Tensor(zeros: [3, 4, 4])
        func fails(_ r: Tensor, image: Tensor? = nil, _ o: PostProcessOptions, _ fragment: String,
                   line: UInt = #line) {
            XCTAssertThrowsError(try PostProcess.postProcess(r, image: image, options: o), line: line) { e in
                guard case PRPKitError.invalidArgument(let m) = e else { return XCTFail("\(e)", line: line) }
                XCTAssertTrue(m.contains(fragment), "\(m)", line: line)
            }
        }
        fails(Tensor(zeros: [4, 4]), PostProcessOptions(), "(C, H, W)")
        fails(Tensor(zeros: [2, 3, 4, 4]), PostProcessOptions(), "batch")
        fails(rel, PostProcessOptions(gradsTimesInput: true), "needs the image")
        fails(rel, image: Tensor(zeros: [3, 4, 5]), PostProcessOptions(gradsTimesInput: true), "does not match")
        fails(rel, PostProcessOptions(gaussianSigma: -1), "sigma")
        fails(rel, PostProcessOptions(gaussianSigma: .nan), "sigma")
        fails(rel, PostProcessOptions(gaussianSigma: 1e30), "sigma")
        fails(rel, PostProcessOptions(outputSize: Pair2(0, 3)), "output size")
        // (1, C, H, W) accepted for both, as CaBRNet's img_tensor[0].
        let y = try PostProcess.postProcess(Tensor(zeros: [1, 3, 4, 4]), image: Tensor(zeros: [1, 3, 4, 4]),
                                            options: PostProcessOptions(gradsTimesInput: true))
        XCTAssertEqual(y.shape, [4, 4])
    }
}
