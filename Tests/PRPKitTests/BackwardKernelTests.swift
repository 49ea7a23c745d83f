import XCTest
@testable import PRPKit
@testable import PRPKitGraph
@testable import PRPKitKernels

/// Every vector–Jacobian kernel against Jᵀg, with J built column by column by running
/// the forward kernel (itself checked against PyTorch in KernelFixtureTests) on unit
/// vectors. Linear ops only, so the columns are exact Jacobian columns.
/// Tolerance 1e-5·max|ref|: both sides sum the same few products in different orders.
final class BackwardKernelTests: XCTestCase {
    func values(_ n: Int, seed: UInt64) -> [Float] {
        var s = seed
        return (0..<n).map { _ in
            s = s &* 6364136223846793005 &+ 1442695040888963407
            return Float(Int32(truncatingIfNeeded: s >> 33)) / Float(Int32.max)
        }
    }

    /// Checks vjp(g) == Jᵀg for a linear map `forward` from `inShape` to tensors of `outShape`.
    func check(_ name: String, inShape: [Int], forward: (Tensor) -> Tensor,
               vjp: (Tensor) -> Tensor, file: StaticString = #filePath, line: UInt = #line) throws {
        let k = Tensor.elementCount(inShape)
        let probe = forward(Tensor(zeros: inShape))
        let m = probe.count
        let g = try Tensor(shape: probe.shape, values: values(m, seed: 11))
        var expected = [Float](repeating: 0, count: k)
        for i in 0..<k {
            let e = Tensor(zeros: inShape); e.data[i] = 1
            let col = forward(e)
            var acc: Float = 0
            for j in 0..<m { acc += col.data[j] * g.data[j] }
            expected[i] = acc
        }
        let got = vjp(g)
        XCTAssertEqual(got.shape, inShape, name, file: file, line: line)
        let scale = max(expected.map(abs).max() ?? 0, 1e-6)
        for i in 0..<k where abs(got.data[i] - expected[i]) > 1e-5 * scale {
            XCTFail("\(name): element \(i): got \(got.data[i]), expected \(expected[i])", file: file, line: line)
            return
        }
    }

    func testConvInputGradient() throws {
        let cases: [(String, [Int], [Int], Conv2dAttributes)] = [
            ("3x3 pad1", [2, 4, 7, 6], [5, 4, 3, 3], Conv2dAttributes(padding: Pair2(1, 1))),
            ("stride2 dil2", [1, 3, 9, 8], [4, 3, 3, 2], Conv2dAttributes(stride: Pair2(2, 1), padding: Pair2(2, 1), dilation: Pair2(2, 2))),
            ("groups", [1, 6, 5, 5], [4, 3, 3, 3], Conv2dAttributes(padding: Pair2(1, 1), groups: 2)),
            ("depthwise", [1, 4, 6, 5], [8, 1, 3, 3], Conv2dAttributes(stride: Pair2(2, 2), padding: Pair2(1, 1), groups: 4)),
            ("pointwise", [2, 5, 4, 3], [7, 5, 1, 1], Conv2dAttributes()),
            ("stride-2 1x1", [1, 5, 5, 5], [3, 5, 1, 1], Conv2dAttributes(stride: Pair2(2, 2))),
            ("7x7 s2 p3", [1, 3, 11, 10], [4, 3, 7, 7], Conv2dAttributes(stride: Pair2(2, 2), padding: Pair2(3, 3))),
            // Stride 1, one group: the flipped-kernel forward convolution.
            ("s1 dilated asymmetric", [2, 3, 8, 9], [4, 3, 3, 2], Conv2dAttributes(padding: Pair2(1, 2), dilation: Pair2(2, 2))),
            ("s1 unpadded 5x5", [1, 2, 9, 7], [3, 2, 5, 5], Conv2dAttributes()),
            // Several signals on small maps take the one-GEMM path.
            ("batched 3x3", [3, 4, 5, 5], [6, 4, 3, 3], Conv2dAttributes(padding: Pair2(1, 1))),
            ("batched pointwise", [4, 5, 3, 3], [7, 5, 1, 1], Conv2dAttributes()),
            ("batched s2", [3, 2, 6, 7], [3, 2, 3, 3], Conv2dAttributes(stride: Pair2(2, 2), dilation: Pair2(1, 2))),
        ]
        for (name, xs, ws, a) in cases {
            let w = try Tensor(shape: ws, values: values(Tensor.elementCount(ws), seed: 5))
            try check("conv \(name)", inShape: xs,
                      forward: { Kernels.conv2d($0, weight: w, bias: nil, a) },
                      vjp: { Kernels.conv2dInputGradient($0, weight: w, a, inputSize: Pair2(xs[2], xs[3])) })
        }
    }

    func testLinearInputGradient() throws {
        let w = try Tensor(shape: [6, 9], values: values(54, seed: 3))
        // 3 rows take the streaming path, 7 rows the packed GEMM.
        for rows in [3, 7] {
            try check("linear \(rows) rows", inShape: [rows, 9], forward: { Kernels.linear($0, weight: w, bias: nil) },
                      vjp: { Kernels.linearInputGradient($0, weight: w) })
        }
    }

    func testAvgPoolInputGradient() throws {
        let cases: [(String, [Int], AvgPool2dAttributes)] = [
            ("k2", [1, 2, 6, 6], AvgPool2dAttributes(kernel: Pair2(2, 2))),
            ("k3 s2 p1 ceil", [2, 2, 7, 8], AvgPool2dAttributes(kernel: Pair2(3, 3), stride: Pair2(2, 2), padding: Pair2(1, 1), ceilMode: true)),
            ("no pad count", [1, 1, 7, 7], AvgPool2dAttributes(kernel: Pair2(3, 2), stride: Pair2(2, 2), padding: Pair2(1, 1), countIncludePad: false)),
            ("divisor", [1, 1, 5, 5], AvgPool2dAttributes(kernel: Pair2(2, 2), stride: Pair2(1, 1), divisorOverride: 3)),
        ]
        for (name, xs, a) in cases {
            try check("avg_pool2d \(name)", inShape: xs, forward: { Kernels.avgPool2d($0, a) },
                      vjp: { Kernels.avgPool2dInputGradient($0, a, inputSize: Pair2(xs[2], xs[3])) })
        }
    }

    func testAdaptiveAvgPoolInputGradient() throws {
        for (xs, o) in [([1, 2, 7, 5], Pair2(3, 2)), ([2, 1, 2, 3], Pair2(7, 7)), ([1, 1, 6, 6], Pair2(1, 1))] {
            try check("adaptive \(xs)→\(o)", inShape: xs, forward: { Kernels.adaptiveAvgPool2d($0, output: o) },
                      vjp: { Kernels.adaptiveAvgPool2dInputGradient($0, inputSize: Pair2(xs[2], xs[3])) })
        }
    }

    /// Max pooling is linear for a fixed argmax: route g to the recorded indices.
    func testMaxPoolInputGradient() throws {
        let a = MaxPool2dAttributes(kernel: Pair2(3, 3), stride: Pair2(2, 2), padding: Pair2(1, 1), ceilMode: true)
        let x = try Tensor(shape: [2, 2, 7, 6], values: values(168, seed: 9))
        let out = Kernels.maxPool2d(x, a)
        var idx = [Int32](repeating: 0, count: out.count)
        idx.withUnsafeMutableBufferPointer { _ = Kernels.maxPool2d(x, a, indices: $0.baseAddress) }
        let g = try Tensor(shape: out.shape, values: values(out.count, seed: 2))
        let got = idx.withUnsafeBufferPointer {
            Kernels.maxPool2dInputGradient(g, indices: $0.baseAddress!, forwardBatch: 2, inputSize: Pair2(7, 6))
        }
        var expected = [Float](repeating: 0, count: x.count)
        let planeOut = out.count / 4
        for plane in 0..<4 { for j in 0..<planeOut { expected[plane * 42 + Int(idx[plane * planeOut + j])] += g.data[plane * planeOut + j] } }
        XCTAssertEqual(got.values, expected)
        // Each index is the position of the maximum of its window.
        for plane in 0..<4 {
            for j in 0..<planeOut { XCTAssertEqual(x.data[plane * 42 + Int(idx[plane * planeOut + j])], out.data[plane * planeOut + j]) }
        }
    }
}
